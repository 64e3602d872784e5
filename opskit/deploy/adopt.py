"""Re-adopting retained resources: an IMPORT change set instead of new, empty tables.

Tables (and log groups) have names derived from the stack name and are retained
when the stack is deleted. When such a resource exists but the stack does not (after
`opskit destroy`, or after a failed first create), a plain CREATE would fail on the
name clash, or, with generated names, would silently make new empty tables. Instead
deploy first creates the stack with ChangeSetType=IMPORT holding only the resources
that exist, then updates it to the full template as usual.

CloudFormation requires every imported resource to have a DeletionPolicy, the
import template to contain only the imported resources (Parameters and Conditions
may stay, Outputs may not reference anything else), and the identifier of each
(TableName, LogGroupName): see "Bringing existing resources into CloudFormation
management" in the CloudFormation user guide.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from opskit.aws import aws_error, error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_logs import CloudWatchLogsClient

    from opskit.aws import ClientFactory

RETAINED = {"Retain", "RetainExceptOnCreate"}
# Resource type -> (identifier property, how to test that it exists).
IMPORTABLE = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Logs::LogGroup": "LogGroupName",
}
_STACK_NAME = re.compile(r"\$\{AWS::StackName\}")


@dataclass(frozen=True)
class Adoptable:
    logical_id: str
    resource_type: str
    identifier: str  # the physical name

    def to_import(self) -> dict[str, Any]:
        return {
            "ResourceType": self.resource_type,
            "LogicalResourceId": self.logical_id,
            "ResourceIdentifier": {IMPORTABLE[self.resource_type]: self.identifier},
        }

    def describe(self) -> str:
        return f"{self.logical_id} ({self.resource_type}) {self.identifier}"


def physical_name(value: Any, stack_name: str) -> str | None:
    """A literal name, or `!Sub` of ${AWS::StackName} only; None when it depends on more."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        text = _STACK_NAME.sub(stack_name, value["Fn::Sub"])
        return None if "${" in text else text
    return None


def candidates(
    template: dict[str, Any], stack_name: str, types: tuple[str, ...] = tuple(IMPORTABLE)
) -> list[Adoptable]:
    """Retained, explicitly named resources of the importable types, in template order."""
    found = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        rtype = str(resource.get("Type", ""))
        if rtype not in types or resource.get("DeletionPolicy") not in RETAINED:
            continue
        if "Condition" in resource:
            continue  # whether it belongs to the stack depends on parameters
        name = physical_name((resource.get("Properties") or {}).get(IMPORTABLE[rtype]), stack_name)
        if name:
            found.append(Adoptable(logical_id, rtype, name))
    return found


def existing(clients: ClientFactory, wanted: list[Adoptable]) -> list[Adoptable]:
    """The candidates that exist in the account (and so would clash with a CREATE)."""
    present = []
    for item in wanted:
        if item.resource_type == "AWS::DynamoDB::Table":
            found = _table_exists(clients.dynamodb(), item.identifier)
        else:
            found = _log_group_exists(clients.logs(), item.identifier)
        if found:
            present.append(item)
    return present


def _table_exists(ddb: DynamoDBClient, name: str) -> bool:
    try:
        ddb.describe_table(TableName=name)
        return True
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return False
        raise aws_error(f"cannot check whether table {name} exists", exc) from None


def _log_group_exists(logs: CloudWatchLogsClient, name: str) -> bool:
    try:
        groups = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
    except botocore.exceptions.ClientError as exc:
        raise aws_error(f"cannot check whether log group {name} exists", exc) from None
    return any(g.get("logGroupName") == name for g in groups)


def import_template(template: dict[str, Any], adopt: list[Adoptable]) -> dict[str, Any]:
    """The template of the IMPORT change set: the adopted resources only, no outputs."""
    keep = {a.logical_id for a in adopt}
    result = {k: copy.deepcopy(v) for k, v in template.items() if k not in {"Resources", "Outputs"}}
    result["Resources"] = {
        name: copy.deepcopy(resource)
        for name, resource in (template.get("Resources") or {}).items()
        if name in keep
    }
    for resource in result["Resources"].values():
        resource.pop("DependsOn", None)
    return result
