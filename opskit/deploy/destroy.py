"""`opskit destroy`: delete the stack, say what stays, and with --all remove opskit's extras.

What opskit creates for an environment, and what destroy does with it:

- the stack: deleted. Its tables and log groups are retained (DeletionPolicy
  RetainExceptOnCreate) and re-adopted by the next `opskit deploy`;
- alarms, metric filters and the SNS topic of `opskit alarms apply`, the dashboard
  of `opskit dashboards push`, the budget of `opskit budget setup`: listed, and
  deleted with `--all` (they cost money: $0.10 per alarm-month, $3 per dashboard);
- the artifact bucket: kept (shared by every environment of the account and region,
  and it holds the zips a rollback needs);
- tables: never deleted by opskit, with or without --all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from opskit import stack as stk
from opskit.alarms.plan import is_owned
from opskit.alarms.service import existing_alarms, existing_filters
from opskit.alarms.sns import find_topic, topic_name
from opskit.aws import aws_error, error_code
from opskit.config import Environment
from opskit.dashboards.render import dashboard_name
from opskit.deploy.adopt import RETAINED
from opskit.deploy.service import DeployUI, Timer, deploy_failure
from opskit.errors import Aborted, DeployFailed, NotFoundError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import StackEventTypeDef

    from opskit.aws import ClientFactory

ALARM_DELETE_BATCH = 100  # DeleteAlarms takes at most 100 names


@dataclass(frozen=True)
class Extra:
    kind: str  # alarm | metric filter | SNS topic | dashboard | budget
    name: str
    delete: Callable[[], None] = field(repr=False, compare=False)


@dataclass
class DestroyResult:
    stack_name: str
    retained: list[dict[str, str]] = field(default_factory=list)  # type, physical id
    extras: list[Extra] = field(default_factory=list)  # left in place (no --all)
    removed: list[Extra] = field(default_factory=list)  # deleted by --all


def retained_resources(cfn: CloudFormationClient, stack_name: str) -> list[dict[str, str]]:
    """Resources the deployed template keeps on deletion, with their physical ids."""
    template = stk.stack_template(cfn, stack_name) or {}
    policies = {
        name: r.get("DeletionPolicy") for name, r in (template.get("Resources") or {}).items()
    }
    return [
        {
            "logical_id": r["LogicalResourceId"],
            "type": r.get("ResourceType", ""),
            "physical_id": r.get("PhysicalResourceId", ""),
        }
        for r in stk.stack_resources(cfn, stack_name)
        if policies.get(r["LogicalResourceId"]) in RETAINED
    ]


def budget_name(env: Environment) -> str:
    """The name `opskit budget setup` gives the environment's budget (opskit.budget.make_spec)."""
    return f"{env.project}-{env.name}-monthly"


def managed_extras(clients: ClientFactory, env: Environment) -> list[Extra]:
    """Everything opskit's other commands created for this environment and that still exists."""
    stack = env.stack_name
    account = str(clients.sts().get_caller_identity()["Account"])
    cw, logs = clients.cloudwatch(), clients.logs()
    extras: list[Extra] = []
    alarms = sorted(a["AlarmName"] for a in existing_alarms(cw, f"{stack}-") if is_owned(a, stack))
    for start in range(0, len(alarms), ALARM_DELETE_BATCH):
        batch = alarms[start : start + ALARM_DELETE_BATCH]
        remove = _deleter(cw.delete_alarms, AlarmNames=batch)
        extras += [
            Extra("alarm", name, remove if i == 0 else _noop) for i, name in enumerate(batch)
        ]
    groups = {env.function_log_group, env.access_log_group}
    for group, filters in sorted(existing_filters(logs, groups, f"{stack}-opskit-").items()):
        for f in filters:
            extras.append(
                Extra(
                    "metric filter",
                    f"{f['filterName']} on {group}",
                    _deleter(
                        logs.delete_metric_filter, logGroupName=group, filterName=f["filterName"]
                    ),
                )
            )
    sns = clients.sns()
    topic = find_topic(sns, topic_name(stack))
    if topic:
        extras.append(Extra("SNS topic", topic, _deleter(sns.delete_topic, TopicArn=topic)))
    dashboard = dashboard_name(env)
    try:
        listed = cw.list_dashboards(DashboardNamePrefix=dashboard).get("DashboardEntries", [])
    except botocore.exceptions.ClientError as exc:
        raise aws_error("cannot list dashboards", exc) from None
    if any(d.get("DashboardName") == dashboard for d in listed):
        extras.append(
            Extra(
                "dashboard", dashboard, _deleter(cw.delete_dashboards, DashboardNames=[dashboard])
            )
        )
    budgets = clients.budgets()
    name = budget_name(env)
    try:
        budgets.describe_budget(AccountId=account, BudgetName=name)
        extras.append(
            Extra(
                "budget", name, _deleter(budgets.delete_budget, AccountId=account, BudgetName=name)
            )
        )
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) not in {"NotFoundException", "NotFound"}:
            raise aws_error(f"cannot read budget {name}", exc) from None
    return extras


def _noop() -> None:
    return None


def _deleter(method: Callable[..., Any], **kwargs: Any) -> Callable[[], None]:
    def delete() -> None:
        try:
            method(**kwargs)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) not in {
                "ResourceNotFoundException",
                "NotFoundException",
                "NotFound",
            }:
                raise aws_error(f"cannot delete {next(iter(kwargs.values()))}", exc) from None

    return delete


def destroy(
    env: Environment,
    clients: ClientFactory,
    ui: DeployUI,
    *,
    assume_yes: bool,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    remove_all: bool = False,
) -> DestroyResult:
    cfn = clients.cloudformation()
    described = stk.describe_stack(cfn, env.stack_name)
    if described is None:
        raise NotFoundError(
            f"stack {env.stack_name} not found", "nothing to destroy", "check --env and --region"
        )
    status: str | None = described["StackStatus"]
    if described.get("EnableTerminationProtection"):
        raise DeployFailed(
            f"stack {env.stack_name} has termination protection",
            "CloudFormation refuses to delete it (termination_protection in opskit.toml)",
            "turn it off first: aws cloudformation update-termination-protection "
            f"--no-enable-termination-protection --stack-name {env.stack_name}",
        )
    result = DestroyResult(env.stack_name, retained_resources(cfn, env.stack_name))
    result.extras = managed_extras(clients, env)
    ui.note(f"To delete: stack {env.stack_name} and every resource in it except these.")
    for kept in result.retained:
        ui.note(
            f"  Kept: {kept['physical_id']} ({kept['type']}): retained, re-adopted by the next deploy"
        )
    ui.note("  Kept: the artifact bucket (shared by every environment; holds rollback zips)")
    verb = "To delete too (--all)" if remove_all else "Kept (delete them with --all)"
    for extra in result.extras:
        ui.note(f"  {verb}: {extra.kind} {extra.name}")
    question = f"Delete stack {env.stack_name} ({env.name}, {status})?"
    if remove_all and result.extras:
        question = (
            f"Delete stack {env.stack_name} ({env.name}, {status}) and "
            f"{len(result.extras)} opskit-managed extras?"
        )
    if not (assume_yes or ui.confirm(question)):
        raise Aborted(
            "destroy cancelled",
            "the stack was not deleted",
            "rerun with --yes to delete without asking",
        )
    timer = Timer(clock)
    stream = stk.EventStream(cfn, env.stack_name)
    try:
        cfn.delete_stack(StackName=env.stack_name)
    except botocore.exceptions.ClientError as exc:
        raise aws_error(f"cannot delete {env.stack_name}", exc) from None
    interval = 0.1 if env.local else 3.0
    events: list[StackEventTypeDef] = []
    while True:
        for event in stream.poll():
            events.append(event)
            ui.event(event, timer())
        status = stk.stack_status(cfn, env.stack_name)
        if status is None:
            break
        if not stk.is_in_progress(status) or env.local:
            raise deploy_failure(cfn, env, status, events, action="destroy")
        sleep(interval)
    if remove_all:
        for extra in result.extras:
            extra.delete()
            result.removed.append(extra)
        result.extras = []
    return result
