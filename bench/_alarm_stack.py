"""Shared by the alarm benchmarks: a moto server with a stand-in stack (outputs + log group)."""

from __future__ import annotations

import json
import logging
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moto.server import ThreadedMotoServer

from bench._support import free_port
from opskit.aws import ClientFactory
from opskit.config import Environment


def median_seconds(fn: Callable[[], object], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@contextmanager
def standin_stack(
    stack: str, env_name: str, root: Path | None = None
) -> Iterator[tuple[ClientFactory, Environment, dict[str, str]]]:
    """(clients on a fresh moto server, the environment, the stack's outputs)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access lines
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        clients = ClientFactory("us-east-1", endpoint_url=f"http://127.0.0.1:{port}")
        outputs = {
            "ApiId": "benchapi",
            "FunctionName": f"{stack}-gateway",
            "RateLimitTableName": f"{stack}-rate-limits",
            "SessionsTableName": f"{stack}-sessions",
            "FunctionLogGroupName": f"/aws/lambda/{stack}-gateway",
        }
        template = {
            "Resources": {
                "Logs": {
                    "Type": "AWS::Logs::LogGroup",
                    "Properties": {"LogGroupName": outputs["FunctionLogGroupName"]},
                }
            },
            "Outputs": {k: {"Value": v} for k, v in outputs.items()},
        }
        clients.client("cloudformation").create_stack(
            StackName=stack, TemplateBody=json.dumps(template)
        )
        env = Environment(
            name=env_name,
            stack_name=stack,
            region="us-east-1",
            parameters={"Timeout": "30"},
            settings={"alarms": {"account_concurrency_limit": 1000}},
            **({"root": root} if root is not None else {}),
        )
        yield clients, env, outputs
    finally:
        server.stop()
