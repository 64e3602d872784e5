"""Alarms against AWS: read what exists, apply a plan, list states, fire a test notification.

Functions take clients (and a clock/sleep where time matters); they never build clients or print.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from opskit.alarms import sns as sns_ops
from opskit.alarms.context import stack_context
from opskit.alarms.plan import Change, Plan, build_plan, is_owned
from opskit.alarms.spec import (
    AlarmSet,
    alarm_overrides,
    custom_domain_context,
    load_alarm_set,
    read_alarm_file,
)
from opskit.aws import aws_error, call, error_code
from opskit.config import Environment
from opskit.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricAlarmTypeDef
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import MetricFilterTypeDef
    from mypy_boto3_sns.type_defs import TagTypeDef

    from opskit.aws import ClientFactory

DEFAULT_ACCOUNT_CONCURRENCY = 1000.0
DEFAULT_TIMEOUT_SECONDS = 30.0


@dataclass
class ApplyResult:
    plan: Plan
    topic_arn: str | None
    applied: bool
    skipped: list[str]


def configured_timeout_seconds(env: Environment) -> float:
    raw = env.parameters.get(
        "Timeout", env.settings.get("function_timeout", DEFAULT_TIMEOUT_SECONDS)
    )
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise ConfigError(
            f"Timeout parameter {raw!r}", "not a number of seconds", "fix opskit.toml"
        ) from None


def function_timeout_seconds(
    lambda_client: LambdaClient, function_name: str, env: Environment
) -> tuple[float, str]:
    """The deployed function's Timeout (what requests are cut at), and a note when assumed.

    opskit.toml's Timeout is what the next deploy would set; an alarm watches the function
    that runs now, so its threshold comes from GetFunctionConfiguration.
    """
    try:
        timeout = lambda_client.get_function_configuration(FunctionName=function_name).get(
            "Timeout"
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        timeout, why = None, f"GetFunctionConfiguration: {error_code(exc) or type(exc).__name__}"
    else:
        why = "no Timeout in the answer"
    if timeout:
        return float(timeout), ""
    configured = configured_timeout_seconds(env)
    return configured, (
        f"cannot read the deployed function's timeout ({why}): using {configured:g}s "
        "from opskit.toml for the duration alarm"
    )


def account_concurrency_limit(
    lambda_client: LambdaClient, overrides: dict[str, Any]
) -> tuple[float, str]:
    """The account's concurrency limit, and a note when it had to be assumed."""
    configured = overrides.get("account_concurrency_limit")
    if configured is not None:
        return float(configured), ""
    why = "no AccountLimit in the answer"
    try:
        settings = lambda_client.get_account_settings()
        limit = settings.get("AccountLimit", {}).get("ConcurrentExecutions")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        limit, why = None, f"GetAccountSettings: {error_code(exc) or type(exc).__name__}"
    if limit:
        return float(limit), ""
    note = (
        f"cannot read the Lambda concurrency limit ({why}): assuming "
        f"{DEFAULT_ACCOUNT_CONCURRENCY:.0f}; set account_concurrency_limit under [alarms] in opskit.toml"
    )
    return DEFAULT_ACCOUNT_CONCURRENCY, note


def desired_alarms(
    cfn: CloudFormationClient,
    lambda_client: LambdaClient,
    env: Environment,
    alarm_file: Path | None = None,
) -> AlarmSet:
    """The alarm set for `env`: file + overrides + the stack's outputs."""
    document, source = read_alarm_file(alarm_file)
    overrides = alarm_overrides(env.settings)
    # Independent round trips, made at once (the no-op `apply` is mostly waiting on them).
    with ThreadPoolExecutor(max_workers=3) as pool:
        context_f = pool.submit(stack_context, cfn, env)
        limit_f = pool.submit(account_concurrency_limit, lambda_client, overrides)
        timeout_f = pool.submit(function_timeout_seconds, lambda_client, env.function_name, env)
        context = {**custom_domain_context(env.parameters), **context_f.result()}
        limit, note = limit_f.result()
        timeout, timeout_note = timeout_f.result()
    if context.get("FunctionName", env.function_name) != env.function_name:
        timeout, timeout_note = function_timeout_seconds(
            lambda_client, context["FunctionName"], env
        )
    variables = {
        "function_timeout_ms": timeout * 1000.0,
        "account_concurrency_limit": limit,
    }
    result = load_alarm_set(
        document,
        stack=env.stack_name,
        context=context,
        overrides=overrides,
        variables=variables,
        source=source,
    )
    result.notes += [n for n in (note, timeout_note) if n]
    return result


def existing_alarms(cw: CloudWatchClient, prefix: str) -> list[MetricAlarmTypeDef]:
    """Metric alarms whose names start with `prefix` (one describe_alarms page per 100)."""
    alarms: list[MetricAlarmTypeDef] = []
    try:
        for page in cw.get_paginator("describe_alarms").paginate(
            AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm"]
        ):
            alarms.extend(page.get("MetricAlarms", []))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise aws_error("cannot list alarms", exc) from None
    return alarms


def existing_filters(
    logs: CloudWatchLogsClient, log_groups: set[str], prefix: str
) -> dict[str, list[MetricFilterTypeDef]]:
    found: dict[str, list[MetricFilterTypeDef]] = {}
    for group in sorted(log_groups):
        try:
            pages = logs.get_paginator("describe_metric_filters").paginate(
                logGroupName=group, filterNamePrefix=prefix
            )
            found[group] = [f for page in pages for f in page.get("metricFilters", [])]
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                found[group] = []
                continue
            raise aws_error(f"cannot list metric filters of {group}", exc) from None
    return found


def plan_alarms(
    clients: ClientFactory,
    env: Environment,
    desired: AlarmSet,
    *,
    email: str | None = None,
    sns_topic: str | None = None,
) -> tuple[Plan, sns_ops.TopicPlan]:
    stack = env.stack_name
    sns, sts, cw, logs = clients.sns(), clients.sts(), clients.cloudwatch(), clients.logs()
    with ThreadPoolExecutor(max_workers=3) as pool:
        topic_f = pool.submit(
            sns_ops.plan_topic,
            sns,
            sts=sts,
            stack=stack,
            email=email,
            explicit_arn=sns_topic or alarm_overrides(env.settings).get("sns_topic"),
        )
        alarms_f = pool.submit(existing_alarms, cw, f"{stack}-")
        filters_f = pool.submit(
            existing_filters, logs, {f.log_group for f in desired.filters}, f"{stack}-opskit-"
        )
        topic, alarms, filters = topic_f.result(), alarms_f.result(), filters_f.result()
    plan = build_plan(desired, alarms, filters, stack=stack, topic_arn=topic.arn_for_alarms)
    plan.changes[:0] = topic.changes
    return plan, topic


def apply_plan(
    clients: ClientFactory, env: Environment, plan: Plan, topic: sns_ops.TopicPlan
) -> str | None:
    """Make the changes. Returns the topic ARN the alarms notify (or None)."""
    cw, logs = clients.cloudwatch(), clients.logs()
    tags: list[TagTypeDef] = [
        {"Key": k, "Value": v} for k, v in {**env.tags, "opskit:stack": env.stack_name}.items()
    ]
    topic_arn = sns_ops.apply_topic(clients.sns(), topic, tags)
    for group, name in plan.filters_to_delete:
        call(
            f"cannot delete metric filter {name}",
            logs.delete_metric_filter,
            logGroupName=group,
            filterName=name,
        )
    for flt in plan.filters_to_put:
        call(
            f"cannot put metric filter {flt.name} on {flt.log_group}",
            logs.put_metric_filter,
            fix="deploy the stack first (`opskit deploy`): the log group must exist",
            logGroupName=flt.log_group,
            **flt.params,
        )
    for params in plan.alarms_to_put:
        name = params["AlarmName"]
        call(f"cannot put alarm {name}", cw.put_metric_alarm, Tags=tags, **params)
        # Tags given to put_metric_alarm only apply on creation; keep them current on updates.
        if plan.existing_arns.get(name):
            call(
                f"cannot tag alarm {name}",
                cw.tag_resource,
                ResourceARN=plan.existing_arns[name],
                Tags=tags,
            )
    for start in range(0, len(plan.alarms_to_delete), 100):
        batch = plan.alarms_to_delete[start : start + 100]
        call("cannot delete alarms", cw.delete_alarms, AlarmNames=batch)
    return topic_arn


# ---- list / test


def alarm_rows(cw: CloudWatchClient, stack: str, now: datetime) -> list[dict[str, Any]]:
    """Our alarms with state, reason and since when (newest state change first within a state)."""
    rows: list[dict[str, Any]] = []
    for alarm in existing_alarms(cw, f"{stack}-"):
        since = alarm.get("StateUpdatedTimestamp")
        rows.append(
            {
                "name": alarm["AlarmName"],
                "state": alarm.get("StateValue", "?"),
                "since": since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if since else "",
                "for": _ago(now, since) if since else "",
                "reason": alarm.get("StateReason", ""),
                "managed": is_owned(alarm, stack),
            }
        )
    order = {"ALARM": 0, "INSUFFICIENT_DATA": 1, "OK": 2}
    rows.sort(key=lambda r: (order.get(r["state"], 3), r["name"]))
    return rows


def _ago(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def resolve_alarm_name(cw: CloudWatchClient, stack: str, name: str) -> MetricAlarmTypeDef:
    """Find alarm `name` (full name, or the key without the stack prefix)."""
    for candidate in (name, f"{stack}-{name}"):
        try:
            found = cw.describe_alarms(AlarmNames=[candidate]).get("MetricAlarms", [])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise aws_error(f"cannot describe alarm {candidate}", exc) from None
        if found:
            return found[0]
    raise NotFoundError(
        f"alarm {name} not found",
        f"no alarm named {name} or {stack}-{name}",
        "see `opskit alarms list` (and `opskit alarms apply` to create them)",
    )


def state_history(
    cw: CloudWatchClient, stack: str, name: str | None, limit: int
) -> list[dict[str, Any]]:
    """StateUpdate items of DescribeAlarmHistory for the stack's alarms (or one), newest first."""
    import json

    kwargs: dict[str, Any] = {"HistoryItemType": "StateUpdate", "ScanBy": "TimestampDescending"}
    if name:
        kwargs["AlarmName"] = resolve_alarm_name(cw, stack, name)["AlarmName"]
    rows: list[dict[str, Any]] = []
    try:
        for page in cw.get_paginator("describe_alarm_history").paginate(**kwargs):
            for item in page.get("AlarmHistoryItems", []):
                if not item.get("AlarmName", "").startswith(f"{stack}-"):
                    continue
                try:
                    data = json.loads(item.get("HistoryData") or "{}")
                except ValueError:
                    data = {}
                rows.append(
                    {
                        "alarm": item["AlarmName"],
                        "time": item["Timestamp"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "from": data.get("oldState", {}).get("stateValue", ""),
                        "to": data.get("newState", {}).get("stateValue", ""),
                        "reason": data.get("newState", {}).get("stateReason", "")
                        or item.get("HistorySummary", ""),
                    }
                )
                if len(rows) >= limit:
                    return rows
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise aws_error("cannot read the alarm history", exc) from None
    return rows


@dataclass
class TestResult:
    name: str
    previous: str
    actions: list[str]
    history: list[str] | None  # None: history not available (local emulator)


def fire_test(
    cw: CloudWatchClient,
    stack: str,
    name: str,
    *,
    hold: float,
    sleep: Callable[[float], None],
    clock: Callable[[], datetime],
    read_history: bool = True,
) -> TestResult:
    """Set the alarm to ALARM (its actions fire), wait `hold` seconds, set it back."""
    alarm = resolve_alarm_name(cw, stack, name)
    full, previous = alarm["AlarmName"], alarm.get("StateValue", "OK")
    started = clock()
    call(
        f"cannot set {full} to ALARM",
        cw.set_alarm_state,
        AlarmName=full,
        StateValue="ALARM",
        StateReason="opskit alarms test: checking the notification path",
    )
    try:
        sleep(hold)
    finally:
        back = previous if previous in {"OK", "INSUFFICIENT_DATA"} else "OK"
        call(
            f"cannot set {full} back to {back}",
            cw.set_alarm_state,
            AlarmName=full,
            StateValue=back,
            StateReason="opskit alarms test: done",
        )
    history = action_history(cw, full, started) if read_history else None
    return TestResult(
        name=full, previous=previous, actions=list(alarm.get("AlarmActions", [])), history=history
    )


def action_history(cw: CloudWatchClient, name: str, since: datetime) -> list[str]:
    """What CloudWatch did with the alarm's actions since `since` (e.g. 'Successfully executed action ...')."""
    try:
        items = cw.describe_alarm_history(
            AlarmName=name, HistoryItemType="Action", StartDate=since, ScanBy="TimestampAscending"
        ).get("AlarmHistoryItems", [])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise aws_error(f"cannot read the history of {name}", exc) from None
    return [item.get("HistorySummary", "") for item in items]


__all__ = [
    "ApplyResult",
    "Change",
    "alarm_rows",
    "apply_plan",
    "desired_alarms",
    "plan_alarms",
    "fire_test",
]
