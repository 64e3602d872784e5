"""`opskit status`: state, outputs, resources, last events and (on request) drift."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import botocore.exceptions

from opskit import stack as stk
from opskit.aws import aws_error
from opskit.errors import AwsError, NotFoundError


@dataclass
class StackReport:
    name: str
    status: str
    reason: str
    updated: str
    outputs: dict[str, str]
    resources: list[dict[str, str]]
    events: list[dict[str, str]]
    drift: list[dict[str, str]] | None = None
    drift_status: str | None = None
    notes: list[str] = field(default_factory=list)


def event_row(event: dict[str, Any]) -> dict[str, str]:
    ts = event.get("Timestamp")
    return {
        "time": ts.strftime("%Y-%m-%d %H:%M:%S") if isinstance(ts, datetime) else str(ts or ""),
        "resource": event.get("LogicalResourceId", ""),
        "type": event.get("ResourceType", ""),
        "status": event.get("ResourceStatus", ""),
        "reason": event.get("ResourceStatusReason", "") or "",
    }


def stack_report(cfn: Any, stack_name: str, *, events: int = 10) -> StackReport:
    stack = stk.describe_stack(cfn, stack_name)
    if stack is None:
        raise NotFoundError(
            f"stack {stack_name} not found",
            "it was never deployed here, or it was deleted",
            "deploy it with `opskit deploy` (or pick another --env/--region)",
        )
    updated = stack.get("LastUpdatedTime") or stack.get("CreationTime")
    resources = [
        {
            "logical_id": r["LogicalResourceId"],
            "type": r.get("ResourceType", ""),
            "status": r.get("ResourceStatus", ""),
            "physical_id": r.get("PhysicalResourceId", ""),
        }
        for r in stk.stack_resources(cfn, stack_name)
    ]
    return StackReport(
        name=stack_name,
        status=stack["StackStatus"],
        reason=stack.get("StackStatusReason", "") or "",
        updated=updated.isoformat(timespec="seconds")
        if isinstance(updated, datetime)
        else str(updated or ""),
        outputs=stk.outputs_of(stack),
        resources=resources,
        events=[event_row(e) for e in stk.recent_events(cfn, stack_name, limit=events)],
    )


def detect_drift(
    cfn: Any,
    stack_name: str,
    *,
    sleep: Callable[[float], None],
    interval: float = 2.0,
    attempts: int = 150,
) -> tuple[str, list[dict[str, str]]]:
    """Run drift detection; return (stack drift status, drifted resources)."""
    try:
        detection = cfn.detect_stack_drift(StackName=stack_name)["StackDriftDetectionId"]
        for _ in range(attempts):
            state = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
            if state["DetectionStatus"] != "DETECTION_IN_PROGRESS":
                break
            sleep(interval)
        else:
            raise AwsError(
                f"drift detection on {stack_name} did not finish",
                "still in progress",
                "look at it later in the CloudFormation console",
            )
        if state["DetectionStatus"] == "DETECTION_FAILED":
            raise AwsError(
                f"drift detection on {stack_name} failed",
                state.get("DetectionStatusReason", "no reason given"),
                "some resources may not support drift detection; see the console",
            )
        rows: list[dict[str, str]] = []
        kwargs: dict[str, Any] = {
            "StackName": stack_name,
            "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"],
        }
        while True:  # not pageable in botocore: follow NextToken by hand
            page = cfn.describe_stack_resource_drifts(**kwargs)
            for drift in page["StackResourceDrifts"]:
                diffs = drift.get("PropertyDifferences") or []
                rows.append(
                    {
                        "logical_id": drift["LogicalResourceId"],
                        "type": drift.get("ResourceType", ""),
                        "drift": drift["StackResourceDriftStatus"],
                        "properties": ", ".join(
                            f"{d['PropertyPath']} ({d['DifferenceType'].lower()})" for d in diffs
                        ),
                    }
                )
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        return state.get("StackDriftStatus", "UNKNOWN"), rows
    except botocore.exceptions.ClientError as exc:
        raise aws_error(f"cannot detect drift on {stack_name}", exc) from None
