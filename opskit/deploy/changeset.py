"""Change sets: always created with an explicit ChangeSetType, shown, then executed or dropped."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from opskit.aws import aws_error
from opskit.errors import DeployFailed

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import ChangeTypeDef

IAM_TYPES = ("AWS::IAM::",)
# IAM resources whose template sets a name need CAPABILITY_NAMED_IAM instead of CAPABILITY_IAM.
IAM_NAME_PROPERTIES = (
    "RoleName",
    "UserName",
    "GroupName",
    "ManagedPolicyName",
    "InstanceProfileName",
)
NO_CHANGES_MARKERS = ("didn't contain changes", "No updates are to be performed")


@dataclass
class ChangeSet:
    name: str
    stack_name: str
    change_set_type: str  # CREATE, UPDATE or IMPORT
    status: str = ""
    reason: str = ""
    changes: list[ChangeTypeDef] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.status == "FAILED" and any(m in self.reason for m in NO_CHANGES_MARKERS)

    def rows(self) -> list[dict[str, str]]:
        """One row per resource change: action, logical id, type, replacement."""
        rows = []
        for change in self.changes:
            rc = change.get("ResourceChange") or {}
            replacement = rc.get("Replacement", "")
            if rc.get("Action") != "Modify":
                replacement = ""
            rows.append(
                {
                    "action": rc.get("Action", change.get("Type", "")),
                    "logical_id": rc.get("LogicalResourceId", ""),
                    "type": rc.get("ResourceType", ""),
                    "replacement": replacement,
                }
            )
        return rows


def capabilities(template: dict[str, Any]) -> list[str]:
    """Only the capabilities this template needs (granting all three hides what it does)."""
    needed: set[str] = set()
    if template.get("Transform"):
        needed.add("CAPABILITY_AUTO_EXPAND")
    for resource in (template.get("Resources") or {}).values():
        rtype = str(resource.get("Type", ""))
        if rtype == "AWS::CloudFormation::Stack" or rtype.startswith("AWS::Serverless::"):
            needed.add("CAPABILITY_AUTO_EXPAND")
        if rtype.startswith(IAM_TYPES):
            properties = resource.get("Properties") or {}
            named = any(p in properties for p in IAM_NAME_PROPERTIES)
            needed.add("CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM")
    if "CAPABILITY_NAMED_IAM" in needed:
        needed.discard("CAPABILITY_IAM")  # NAMED_IAM covers unnamed IAM resources too
    return sorted(needed)


@dataclass(frozen=True)
class ChangeSetOptions:
    """What `opskit deploy` passes besides template and parameters."""

    capabilities: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    role_arn: str | None = None
    notification_arns: list[str] = field(default_factory=list)
    rollback_triggers: list[str] = field(default_factory=list)  # alarm ARNs
    monitoring_minutes: int = 0
    resources_to_import: list[dict[str, Any]] = field(default_factory=list)

    def kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "Capabilities": self.capabilities,
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(self.tags.items())],
        }
        if self.role_arn:
            kwargs["RoleARN"] = self.role_arn
        if self.notification_arns:
            kwargs["NotificationARNs"] = self.notification_arns
        if self.rollback_triggers:
            kwargs["RollbackConfiguration"] = {
                "RollbackTriggers": [
                    {"Arn": arn, "Type": "AWS::CloudWatch::Alarm"} for arn in self.rollback_triggers
                ],
                "MonitoringTimeInMinutes": self.monitoring_minutes,
            }
        if self.resources_to_import:
            kwargs["ResourcesToImport"] = self.resources_to_import
        return kwargs


def create_change_set(
    cfn: CloudFormationClient,
    *,
    stack_name: str,
    name: str,
    change_set_type: str,
    parameters: list[dict[str, Any]],
    options: ChangeSetOptions,
    template_body: str | None = None,
    template_url: str | None = None,
    into: ChangeSet | None = None,
) -> ChangeSet:
    kwargs: dict[str, Any] = {
        "StackName": stack_name,
        "ChangeSetName": name,
        "ChangeSetType": change_set_type,  # never let it default (moto and AWS default differ)
        "Parameters": parameters,
        "Description": "opskit deploy",
        **options.kwargs(),
    }
    if template_url:
        kwargs["TemplateURL"] = template_url
    else:
        kwargs["TemplateBody"] = template_body
    try:
        cfn.create_change_set(**kwargs)
    except botocore.exceptions.ClientError as exc:
        raise aws_error(f"cannot create a change set for {stack_name}", exc) from None
    return into or ChangeSet(name=name, stack_name=stack_name, change_set_type=change_set_type)


def wait_for_change_set(
    cfn: CloudFormationClient,
    change_set: ChangeSet,
    *,
    sleep: Callable[[float], None],
    interval: float = 1.0,
    attempts: int = 300,
) -> ChangeSet:
    """Poll until the change set is computed; fill in status, reason and all changes."""
    for _ in range(attempts):
        try:
            page = cfn.describe_change_set(
                StackName=change_set.stack_name,
                ChangeSetName=change_set.name,
                IncludePropertyValues=True,  # BeforeValue/AfterValue for the property diff
            )
        except botocore.exceptions.ClientError as exc:
            raise aws_error(f"cannot read change set {change_set.name}", exc) from None
        status = page.get("Status", "")
        if status in {"CREATE_PENDING", "CREATE_IN_PROGRESS"}:
            sleep(interval)
            continue
        change_set.status, change_set.reason = status, page.get("StatusReason", "")
        changes = list(page.get("Changes", []))
        while page.get("NextToken"):
            page = cfn.describe_change_set(
                StackName=change_set.stack_name,
                ChangeSetName=change_set.name,
                IncludePropertyValues=True,
                NextToken=page["NextToken"],
            )
            changes.extend(page.get("Changes", []))
        change_set.changes = changes
        if status == "FAILED" and not change_set.empty:
            raise DeployFailed(
                f"change set for {change_set.stack_name} failed",
                change_set.reason or "no reason given",
                "fix the template or parameters and deploy again",
            )
        return change_set
    raise DeployFailed(
        f"change set {change_set.name} was not ready in time",
        "CloudFormation is still computing it",
        "check the CloudFormation console and deploy again",
    )


def delete_change_set(cfn: CloudFormationClient, change_set: ChangeSet) -> None:
    with contextlib.suppress(botocore.exceptions.ClientError):  # housekeeping only
        cfn.delete_change_set(StackName=change_set.stack_name, ChangeSetName=change_set.name)


def execute_change_set(cfn: CloudFormationClient, change_set: ChangeSet) -> None:
    try:
        cfn.execute_change_set(StackName=change_set.stack_name, ChangeSetName=change_set.name)
    except botocore.exceptions.ClientError as exc:
        raise aws_error(f"cannot execute change set {change_set.name}", exc) from None
