"""`opskit destroy`: delete the stack; data tables stay (DeletionPolicy: Retain), never deleted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import botocore.exceptions

from opskit import stack as stk
from opskit.aws import aws_error
from opskit.config import Environment
from opskit.deploy.service import DeployUI, Timer, deploy_failure
from opskit.errors import Aborted, NotFoundError


@dataclass
class DestroyResult:
    stack_name: str
    retained: list[dict[str, str]] = field(default_factory=list)  # type, physical id


def retained_resources(cfn: Any, stack_name: str) -> list[dict[str, str]]:
    """Resources the template marks DeletionPolicy: Retain, with their physical ids."""
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
        if policies.get(r["LogicalResourceId"]) == "Retain"
    ]


def destroy(
    env: Environment,
    clients: Any,
    ui: DeployUI,
    *,
    assume_yes: bool,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> DestroyResult:
    cfn = clients.client("cloudformation")
    status = stk.stack_status(cfn, env.stack_name)
    if status is None:
        raise NotFoundError(
            f"stack {env.stack_name} not found", "nothing to destroy", "check --env and --region"
        )
    result = DestroyResult(env.stack_name, retained_resources(cfn, env.stack_name))
    kept = ", ".join(f"{r['physical_id']} ({r['type']})" for r in result.retained) or "none"
    ui.note(f"Kept when the stack is deleted (DeletionPolicy: Retain, data stays): {kept}")
    question = f"Delete stack {env.stack_name} ({env.name}, {status})?"
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
    events: list[dict[str, Any]] = []
    while True:
        for event in stream.poll():
            events.append(event)
            ui.event(event, timer())
        status = stk.stack_status(cfn, env.stack_name)
        if status is None:
            return result
        if not stk.is_in_progress(status) or env.local:
            raise deploy_failure(cfn, env, status, events, action="destroy")
        sleep(interval)
