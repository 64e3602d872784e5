"""Executing a change set on the local emulator.

moto's ExecuteChangeSet applies resources but never computes the stack's Outputs
(the stack was created with an empty template) and never records the new
parameter values, so the next identical change set would not be recognised as a
no-op. For `--env local` opskit therefore still creates, shows and checks the
change set, then applies the same template and parameters with CreateStack /
UpdateStack, which moto implements fully (outputs, parameters, events).

UsePreviousValue: moto only remembers the parameters a stack was given explicitly
(not the defaulted ones), answers HTTP 500 for the others, and never sees a change
set with them as a no-op. So locally each UsePreviousValue is sent as the value
DescribeStacks reports, or left out when that is the template's default (moto
would see "7" replace 7 and drop the log group that uses it): `resolve_previous`.
The effective parameters are the same.

IMPORT change sets: moto "imports" by creating the resource again, which fails for
a table that exists. Locally the import is emulated: each retained table's items
are saved to .opskit/import-backup/, the table is dropped, the stack is created
with it, and the items are written back. Schema, TTL and items survive; anything
moto does not model (PITR history, stream records) does not. The notes say so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from opskit.aws import aws_error
from opskit.deploy.changeset import ChangeSet, ChangeSetOptions, delete_change_set
from opskit.errors import DeployFailed

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

    from opskit.aws import ClientFactory


def execute_locally(
    cfn: CloudFormationClient,
    change_set: ChangeSet,
    *,
    template_body: str,
    parameters: list[dict[str, Any]],
    options: ChangeSetOptions,
    clients: ClientFactory,
    backup_dir: Path | None = None,
) -> list[str]:
    """Apply the change set's template; return notes on what the emulator did differently."""
    delete_change_set(cfn, change_set)
    kwargs: dict[str, Any] = {
        "StackName": change_set.stack_name,
        "TemplateBody": template_body,
        "Parameters": parameters,
        "Capabilities": options.capabilities,
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(options.tags.items())],
    }
    notes: list[str] = []
    saved: dict[str, list[dict[str, Any]]] = {}
    try:
        if change_set.change_set_type in {"CREATE", "IMPORT"}:
            # The change set left an empty REVIEW_IN_PROGRESS stack behind.
            cfn.delete_stack(StackName=change_set.stack_name)
            if change_set.change_set_type == "IMPORT":
                ddb = clients.dynamodb()
                tables = [
                    r["ResourceIdentifier"]["TableName"]
                    for r in options.resources_to_import
                    if r["ResourceType"] == "AWS::DynamoDB::Table"
                ]
                saved = _drop_keeping_items(ddb, tables, backup_dir)
                notes.append(
                    "IMPORT is emulated: moto cannot adopt a table, so the items of "
                    + ", ".join(f"{t} ({len(saved[t])})" for t in tables)
                    + " were copied into the table the stack created"
                )
            cfn.create_stack(**kwargs)
            for table, items in saved.items():
                _put_items(clients.dynamodb(), table, items)
        else:
            cfn.update_stack(**kwargs)
    except botocore.exceptions.ClientError as exc:
        raise aws_error(
            f"the local emulator refused the {change_set.change_set_type.lower()}", exc
        ) from None
    except botocore.exceptions.BotoCoreError as exc:  # moto answers HTTP 500 on some templates
        raise DeployFailed(
            f"the local emulator failed to apply stack {change_set.stack_name}",
            " ".join(str(exc).split())[:200],
            "see .opskit/emulator.log; the local template transform may need another exclusion",
        ) from None
    return notes


def resolve_previous(
    parameters: list[dict[str, Any]], previous: dict[str, str] | None, template: dict[str, Any]
) -> list[dict[str, Any]]:
    """UsePreviousValue entries replaced by the deployed value (for moto only)."""
    declared = template.get("Parameters") or {}
    resolved = []
    for param in parameters:
        key = param["ParameterKey"]
        if not param.get("UsePreviousValue"):
            resolved.append(param)
            continue
        value = (previous or {})[key]
        if "Default" in declared.get(key, {}) and str(declared[key]["Default"]) == value:
            continue  # the default gives the same value, and moto keeps its own type
        resolved.append({"ParameterKey": key, "ParameterValue": value})
    return resolved


def _drop_keeping_items(
    ddb: DynamoDBClient, tables: list[str], backup_dir: Path | None
) -> dict[str, list[dict[str, Any]]]:
    saved: dict[str, list[dict[str, Any]]] = {}
    for table in tables:
        items: list[dict[str, Any]] = []
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            items.extend(page.get("Items", []))
        if backup_dir is not None:  # the copy survives even if the create below fails
            backup_dir.mkdir(parents=True, exist_ok=True)
            (backup_dir / f"{table}.json").write_text(json.dumps(items))
        saved[table] = items
        ddb.delete_table(TableName=table)
    return saved


def _put_items(ddb: DynamoDBClient, table: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        batch: list[WriteRequestTypeDef] = [
            {"PutRequest": {"Item": item}} for item in items[start : start + 25]
        ]
        ddb.batch_write_item(RequestItems={table: batch})
