"""The gateway's DynamoDB tables on an emulator, created from the template's own definitions, so
tests and benchmarks exercise exactly the key schema, index and TTL attribute that deploy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opskit.deploy.template import parse_template

TEMPLATE = Path(__file__).resolve().parent.parent / "cloudformation" / "gateway.yaml"
# What create_table accepts literally; the rest (SSE, PITR, tags) is intrinsic-laden or irrelevant here.
_CREATE_KEYS = ("BillingMode", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")


def table_definitions() -> dict[str, dict[str, Any]]:
    resources = parse_template(TEMPLATE.read_text())["Resources"]
    return {
        name: res["Properties"]
        for name, res in resources.items()
        if res["Type"] == "AWS::DynamoDB::Table"
    }


def create_gateway_tables(ddb: Any, rate_table: str, sessions_table: str) -> None:
    """``ddb`` is a boto3 DynamoDB client pointed at the emulator."""
    definitions = table_definitions()
    for logical, name in (("RateLimitTable", rate_table), ("SessionsTable", sessions_table)):
        props = definitions[logical]
        ddb.create_table(TableName=name, **{k: props[k] for k in _CREATE_KEYS if k in props})
        ttl = props["TimeToLiveSpecification"]
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
