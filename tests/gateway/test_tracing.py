"""X-Ray in a Lambda-shaped process: subsegments reach a (fake, UDP) X-Ray daemon."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gateway.support import event, gateway_env, token

CODE = (
    "import json, sys; from gateway.handler import handler; from tests.gateway.support import LambdaContext;"
    "print(handler(json.loads(sys.argv[1]), LambdaContext())['statusCode'])"
)


def run_lambda(
    tables: str, upstream_url: str, daemon_port: int, tracing: str, path: str = "/api/users/1"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **gateway_env(tables, upstream_url, GATEWAY_TRACING=tracing),
        "AWS_LAMBDA_FUNCTION_NAME": "gw-test-gateway",
        "LAMBDA_TASK_ROOT": "/tmp",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon_port}",
    }
    ev = event("GET", path, headers={"authorization": f"Bearer {token()}"})
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-c", CODE, json.dumps(ev)],
        env=env,
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
    )


def receive_all(sock: socket.socket) -> list[dict]:
    docs = []
    try:
        while True:
            data, _ = sock.recvfrom(65536)
            docs.append(json.loads(data.split(b"\n", 1)[1]))
    except TimeoutError:
        return docs


def test_subsegments_per_route_and_call(tables, upstream) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(1.0)
        proc = run_lambda(tables, upstream.url, daemon.getsockname()[1], "on")
        assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1] == "200", proc.stderr
        docs = receive_all(daemon)
    by_name = {d["name"]: d for d in docs}
    assert set(by_name) == {"/api/users", "dynamodb.UpdateItem", "upstream.users"}
    route = by_name["/api/users"]
    assert route["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert route["parent_id"] == "53995c3f42cd8ad8" and route["annotations"] == {
        "upstream_status": 200,
        "status": 200,
    }
    assert by_name["upstream.users"]["parent_id"] == route["id"]
    assert by_name["dynamodb.UpdateItem"]["parent_id"] == route["id"]
    line = next(json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{"))
    assert line["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"


@pytest.mark.parametrize(
    ("path", "route", "status"),
    [("/health/live", "/health/live", 200), ("/nowhere", "unmatched", 404)],
)
def test_every_request_gets_one_subsegment_named_after_its_route(
    tables, upstream, path: str, route: str, status: int
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(1.0)
        proc = run_lambda(tables, upstream.url, daemon.getsockname()[1], "on", path)
        assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1] == str(status)
        docs = receive_all(daemon)
    assert [(d["name"], d["parent_id"], d["annotations"]) for d in docs] == [
        (route, "53995c3f42cd8ad8", {"status": status})
    ]


def test_tracing_off_sends_nothing(tables, upstream) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(0.5)
        proc = run_lambda(tables, upstream.url, daemon.getsockname()[1], "off")
        assert proc.returncode == 0, proc.stderr
        assert receive_all(daemon) == []
