"""Read a CloudFormation stack: outputs, state, resources, events (shared by every team).

Everything here takes a `cloudformation` client; nothing prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from opskit.aws import aws_error, error_code
from opskit.errors import NotFoundError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import (
        StackEventTypeDef,
        StackResourceSummaryTypeDef,
        StackTypeDef,
    )

# States in which a new change set cannot be created and the stack must be dealt with first.
FAILED_CREATE_STATES = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"}
STABLE_OK_STATES = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
}
# After an operation: these mean the operation we started did not succeed.
OPERATION_FAILED_STATES = {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "UPDATE_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "DELETE_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
    "IMPORT_ROLLBACK_FAILED",
}
# Events whose reason only says "someone else failed first".
CANCELLED_REASONS = ("Resource creation cancelled", "Resource update cancelled")


def is_in_progress(status: str | None) -> bool:
    return status is not None and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS"


def _missing(exc: botocore.exceptions.ClientError) -> bool:
    return error_code(exc) == "ValidationError" and "does not exist" in str(exc)


def describe_stack(cfn: CloudFormationClient, stack_name: str) -> StackTypeDef | None:
    """The stack's description, or None when there is no such (live) stack."""
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except botocore.exceptions.ClientError as exc:
        if _missing(exc):
            return None
        raise aws_error(f"cannot describe stack {stack_name}", exc) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise aws_error(f"cannot describe stack {stack_name}", exc) from None
    if not stacks or stacks[0].get("StackStatus") == "DELETE_COMPLETE":
        return None
    return stacks[0]


def stack_status(cfn: CloudFormationClient, stack_name: str) -> str | None:
    stack = describe_stack(cfn, stack_name)
    return stack["StackStatus"] if stack else None


def outputs_of(stack: Mapping[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs") or []}


def stack_outputs(cfn: CloudFormationClient, stack_name: str) -> dict[str, str]:
    """The stack's outputs as {OutputKey: OutputValue}; NotFoundError (with a fix) if no stack."""
    stack = describe_stack(cfn, stack_name)
    if stack is None:
        raise NotFoundError(
            f"stack {stack_name} not found",
            "it was never deployed to this account/region, or it was deleted",
            "deploy it with `opskit deploy` (or pick another --env/--region)",
        )
    return outputs_of(stack)


def stack_resources(
    cfn: CloudFormationClient, stack_name: str
) -> list[StackResourceSummaryTypeDef]:
    try:
        paginator = cfn.get_paginator("list_stack_resources")
        rows: list[StackResourceSummaryTypeDef] = []
        for page in paginator.paginate(StackName=stack_name):
            rows.extend(r for r in page["StackResourceSummaries"] if r.get("LogicalResourceId"))
        return rows
    except botocore.exceptions.ClientError as exc:
        raise aws_error(f"cannot list the resources of {stack_name}", exc) from None


def recent_events(
    cfn: CloudFormationClient, stack_name: str, limit: int = 100
) -> list[StackEventTypeDef]:
    """Up to `limit` events, newest first (as CloudFormation returns them)."""
    events: list[StackEventTypeDef] = []
    try:
        paginator = cfn.get_paginator("describe_stack_events")
        for page in paginator.paginate(StackName=stack_name):
            events.extend(page["StackEvents"])
            if len(events) >= limit:
                break
    except botocore.exceptions.ClientError as exc:
        if _missing(exc):
            return []
        raise aws_error(f"cannot read the events of {stack_name}", exc) from None
    return events[:limit]


def first_failure(
    cfn: CloudFormationClient,
    events: Sequence[Mapping[str, Any]],
    stack_name: str,
    _depth: int = 0,
) -> dict[str, Any] | None:
    """The first (oldest) failed resource event, descending into nested stacks.

    `events` are newest first. Returns the event, with `Path` listing the nested
    stacks' logical ids that lead to it (e.g. ["ApiStack", "Route"]).
    """
    failed = [
        e
        for e in reversed(events)
        if str(e.get("ResourceStatus", "")).endswith("_FAILED")
        and not _is_stack_itself(e, stack_name)
    ]
    if not failed:
        return None
    real = [
        e
        for e in failed
        if not str(e.get("ResourceStatusReason", "")).startswith(CANCELLED_REASONS)
    ]
    event: dict[str, Any] = dict((real or failed)[0])
    event["Path"] = [event.get("LogicalResourceId", "?")]
    nested_id = event.get("PhysicalResourceId")
    if event.get("ResourceType") == "AWS::CloudFormation::Stack" and nested_id and _depth < 5:
        nested_events = recent_events(cfn, nested_id, limit=500)
        inner = first_failure(cfn, nested_events, nested_id, _depth + 1)
        if inner is not None:
            inner["Path"] = event["Path"] + inner["Path"]
            return inner
    return event


def _is_stack_itself(event: Mapping[str, Any], stack_name: str) -> bool:
    """The stack's own status events (as opposed to its resources, nested stacks included)."""
    return event.get("ResourceType") == "AWS::CloudFormation::Stack" and event.get(
        "LogicalResourceId"
    ) in {event.get("StackName"), stack_name}


class EventStream:
    """Yields a stack's new events (oldest first) since it was created."""

    def __init__(self, cfn: CloudFormationClient, stack_name: str):
        self.cfn, self.stack_name = cfn, stack_name
        self.seen: set[str] = {e["EventId"] for e in recent_events(cfn, stack_name, limit=200)}

    def poll(self) -> list[StackEventTypeDef]:
        new: list[StackEventTypeDef] = []
        for event in recent_events(self.cfn, self.stack_name, limit=200):
            if event["EventId"] in self.seen:
                break
            new.append(event)
        for event in new:
            self.seen.add(event["EventId"])
        return list(reversed(new))


def wait_until_settled(
    cfn: CloudFormationClient,
    stack_name: str,
    *,
    sleep: Callable[[float], None],
    elapsed: Callable[[], float],
    on_tick: Callable[[str, float], None],
    timeout: float,
    interval: float,
) -> str | None:
    """Poll until the stack leaves *_IN_PROGRESS; return its final status (None: gone)."""
    while True:
        status = stack_status(cfn, stack_name)
        if not is_in_progress(status):
            return status
        on_tick(status or "", elapsed())
        if elapsed() >= timeout:
            return status
        sleep(interval)


def stack_template(cfn: CloudFormationClient, stack_name: str) -> dict[str, Any] | None:
    """The template the stack was last deployed with, parsed (JSON or YAML)."""
    import json

    try:
        body = cfn.get_template(StackName=stack_name)["TemplateBody"]
    except botocore.exceptions.ClientError:
        return None
    if isinstance(body, dict):
        return dict(body)
    try:
        return json.loads(body)
    except ValueError:
        from opskit.deploy.template import parse_template

        return parse_template(body)
