"""A deployed-looking stack in moto: outputs (literal values) and the function's log group."""

from __future__ import annotations

import json

import pytest

from opskit.config import load_environment

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


@pytest.fixture
def stack(clients):
    create_fake_stack(clients)
    return STACK


@pytest.fixture
def env(tmp_path):
    config = tmp_path / "opskit.toml"
    config.write_text(
        '[defaults]\nregion = "us-east-1"\n[defaults.parameters]\nTimeout = "30"\n'
        f'[env.local]\nstack_name = "{STACK}"\nlocal = true\n'
        "[env.local.alarms]\naccount_concurrency_limit = 1000\n"
    )
    return load_environment("local", config)
