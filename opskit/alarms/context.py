"""The values `${Placeholders}` are filled with: the stack's outputs plus what the config knows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opskit.config import Environment
from opskit.stack import stack_outputs

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

HTTP_API_STAGE = "$default"


def gateway_namespace(stack_name: str) -> str:
    """The custom namespace of the metrics our log metric filters publish (one per stack)."""
    return f"Opskit/Gateway/{stack_name}"


def stack_context(cfn: CloudFormationClient, env: Environment) -> dict[str, str]:
    """Placeholder values for `env`'s stack. NotFoundError (with a fix) if it is not deployed."""
    return context_from_outputs(env, stack_outputs(cfn, env.stack_name))


def context_from_outputs(env: Environment, outputs: dict[str, str]) -> dict[str, str]:
    context = {
        "Stack": env.stack_name,
        "Region": env.region,
        "Stage": HTTP_API_STAGE,
        "FunctionName": env.function_name,
        "FunctionLogGroupName": env.function_log_group,
        "AccessLogGroupName": env.access_log_group,
        "GatewayNamespace": gateway_namespace(env.stack_name),
    }
    context.update({k: v for k, v in outputs.items() if v})
    return context
