"""A deployed-looking stack in moto: outputs (literal values) and the function's log group."""

from __future__ import annotations

import json

STACK = "opskit-local"
OUTPUTS = {
    "ApiId": "a1b2c3d4e5",
    "ApiUrl": "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
    "FunctionName": f"{STACK}-gateway",
    "RateLimitTableName": f"{STACK}-rate-limits",
    "SessionsTableName": f"{STACK}-sessions",
    "FunctionLogGroupName": f"/aws/lambda/{STACK}-gateway",
    "AccessLogGroupName": f"/aws/apigateway/{STACK}-api",
}


def create_fake_stack(clients, stack: str = STACK, outputs: dict[str, str] | None = None) -> None:
    outputs = OUTPUTS if outputs is None else outputs
    log_group = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"LogGroupName": f"/aws/lambda/{stack}-gateway"},
    }
    template = {
        "Resources": {"FunctionLogGroup": log_group},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()},
    }
    clients.client("cloudformation").create_stack(
        StackName=stack, TemplateBody=json.dumps(template)
    )
