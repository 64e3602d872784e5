"""`opskit local up|down|status` for real: processes are started, used and stopped, none left over.

The gateway under uvicorn here is a tiny ASGI app written by the test that prints one
contract-shaped access line per request (so the shipper and the synthesized platform
lines are checked exactly); the package step is a small pre-built zip.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import time
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

import opskit.commands.deploy_cmd as deploy_cmd
from opskit.cli import cli
from opskit.config import load_environment
from opskit.deploy.artifacts import CachedPackage
from opskit.local import procs
from opskit.local.account import stop_all
from opskit.local.state import LocalState
from opskit.logs.platform import billed_duration, parse_report

ROOT = Path(__file__).resolve().parents[2]
STACK = "opskit-local"

FAKE_GATEWAY = """
import datetime, json, os, time, uuid

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    started = time.perf_counter()
    body = json.dumps({"status": "ok", "table": os.environ.get("GATEWAY_RATE_LIMIT_TABLE")}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
    now = datetime.datetime.now(datetime.UTC)
    print(json.dumps({
        "level": "INFO", "location": "middleware", "message": "request",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "service": os.environ.get("POWERTOOLS_SERVICE_NAME", "gateway"), "cold_start": False,
        "function_name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "function_memory_size": os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
        "function_request_id": str(uuid.uuid4()), "method": scope["method"], "path": scope["path"],
        "route": scope["path"], "status": 200, "latency_ms": round((time.perf_counter() - started) * 1000 + 12.3, 3),
    }), flush=True)
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A temp project without OPSKIT_ENDPOINT_URL: `--env local` must find the state file."""
    config = tmp_path / "opskit.toml"
    text = (ROOT / "opskit.toml").read_text()  # the setting goes in [env.local] itself,
    assert "\n[env.local]\n" in text  # not in whichever table happens to come last
    config.write_text(
        text.replace("\n[env.local]\n", '\n[env.local]\nlocal_gateway_app = "fakegw:app"\n')
    )
    (tmp_path / "cloudformation").mkdir()
    shutil.copy(
        ROOT / "cloudformation" / "gateway.yaml", tmp_path / "cloudformation" / "gateway.yaml"
    )
    (tmp_path / "fakegw.py").write_text(FAKE_GATEWAY)
    zip_path = tmp_path / "pkg.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("gateway/__init__.py", (1980, 1, 1, 0, 0, 0)), b"")
    data = zip_path.read_bytes()
    package = CachedPackage(zip_path, hashlib.sha256(data).hexdigest(), len(data), True)
    monkeypatch.setattr(deploy_cmd, "make_package", lambda app, arch: package)
    monkeypatch.setenv("OPSKIT_CONFIG", str(config))
    monkeypatch.delenv("OPSKIT_ENDPOINT_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    stop_all(load_environment("local", config))  # never leave servers behind, even on failure


def run(*args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"})


def listening(url: str) -> bool:
    host, port = url.rsplit("/", 1)[-1].split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) == 0


def log_messages(endpoint: str, group: str, wanted: int, timeout: float = 10.0) -> list[str]:
    logs = boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1")
    deadline = time.monotonic() + timeout
    messages: list[str] = []
    while time.monotonic() < deadline:
        events = logs.filter_log_events(logGroupName=group)["events"]
        messages = [e["message"] for e in sorted(events, key=lambda e: e["timestamp"])]
        if len(messages) >= wanted:
            break
        time.sleep(0.2)
    return messages


def top_requests(wanted: int, timeout: float = 10.0) -> str:
    """`opskit --env local top` output once it counts `wanted` requests (metrics trail the logs)."""
    deadline = time.monotonic() + timeout
    while True:
        result = run("--env", "local", "top", "--hours", "1", "--period", "60")
        assert result.exit_code == 0, result.output
        if f"{wanted} requests" in result.stdout or time.monotonic() > deadline:
            return result.stdout
        time.sleep(0.2)


def test_local_up_deploy_status_down(project):
    env = load_environment("local")
    up = run("local", "up")
    assert up.exit_code == 0, up.output
    state = LocalState.load(env)
    assert state is not None
    assert up.stdout.splitlines() == [
        f"Emulator running at {state.endpoint_url} (pid {state.pids['emulator']}).",
        f"Gateway port reserved: {state.gateway_url} (starts after `opskit --env local deploy`).",
        f"State: {LocalState.path(env)}",
    ]
    assert state.endpoint_url.startswith("http://127.0.0.1:")
    assert procs.alive(state.pids["emulator"], "moto.server")

    deployed = run("--env", "local", "deploy", "--yes")
    assert deployed.exit_code == 0, deployed.output
    state = LocalState.load(env)
    assert (
        f"Smoke test: GET {state.gateway_url}/health/ready -> 200" in deployed.stdout.splitlines()
    )
    assert (
        f"local emulator: output ApiUrl = {state.gateway_url} (local substitute)" in deployed.stderr
    )
    cfn = boto3.client("cloudformation", endpoint_url=state.endpoint_url, region_name="us-east-1")
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cfn.describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
    }
    assert outputs["ApiUrl"] == state.gateway_url
    first_gateway = state.pids["gateway"]

    # The gateway runs with the stack's environment, pointed at the emulator.
    with urllib.request.urlopen(f"{state.gateway_url}/api/users") as response:
        assert json.loads(response.read())["table"] == outputs["RateLimitTableName"]
    messages = log_messages(state.endpoint_url, env.function_log_group, wanted=8)
    assert len(messages) % 4 == 0  # START, access line, END, REPORT per request
    access = [json.loads(m) for m in messages if m.startswith("{")]
    for line in access:  # every access line comes with its synthesized platform lines
        request_id = line["function_request_id"]
        assert f"START RequestId: {request_id} Version: $LATEST" in messages
        assert f"END RequestId: {request_id}" in messages
        assert (
            sum(m.startswith(f"REPORT RequestId: {request_id}\t") for m in messages) == 1
        )  # tab-separated, as Lambda prints it
    assert [a["path"] for a in access][-1] == "/api/users"
    reports = [m for m in messages if m.startswith("REPORT")]
    first_id = access[0]["function_request_id"]
    duration = access[0]["latency_ms"]
    first = parse_report(reports[0])
    assert first is not None and first.request_id == first_id
    assert first.duration_ms == round(duration, 2) and first.memory_mb == 512
    # today's format: the cold start's Billed Duration includes its INIT
    assert first.init_ms is not None and first.init_included
    assert first.billed_ms == billed_duration(duration, first.init_ms)
    assert all(" Init Duration: " not in r for r in reports[1:])

    again = run("local", "up")  # idempotent: nothing new is started
    assert again.stdout.splitlines()[:2] == [
        f"Emulator already running at {state.endpoint_url} (pid {state.pids['emulator']}).",
        f"Gateway already running at {state.gateway_url}.",
    ]
    assert LocalState.load(env).pids == state.pids

    status = run("local", "status")
    assert status.exit_code == 0, status.output
    rows = [
        [c.strip() for c in line.split("│")[1:-1]]
        for line in status.stdout.splitlines()
        if line.startswith("│")
    ]
    assert sorted(r[0] for r in rows if r[2] == "yes") == ["emulator", "gateway", "shipper"]
    as_json = json.loads(run("local", "status", "-o", "json").stdout)
    assert as_json["running"] is True and as_json["stack_status"] == "CREATE_COMPLETE"
    assert {p["role"]: p["running"] for p in as_json["processes"]} == {
        "emulator": True,
        "gateway": True,
        "shipper": True,
    }
    assert f"Stack {STACK}: CREATE_COMPLETE" in status.stdout.splitlines()
    assert "are synthesized by opskit's log shipper" in status.stdout
    assert "metrics are derived from the access lines by the log shipper" in status.stdout

    # The shipper also published the metrics AWS would derive: `top` reads them.
    shown = top_requests(len(access))
    assert f"{len(access)} requests, 0 5xx" in shown, shown
    assert "no data in this window" not in shown.split("Cost so far")[0], shown
    assert "Local template: not provided by the emulator, dropped: HttpApi" in status.stdout

    # A deploy with a change restarts the gateway with the new configuration.
    redeployed = run("--env", "local", "deploy", "--yes", "--parameter", "MemorySize=1024")
    assert redeployed.exit_code == 0, redeployed.output
    state = LocalState.load(env)
    assert state.pids["gateway"] != first_gateway
    assert not procs.alive(first_gateway)
    messages = log_messages(state.endpoint_url, env.function_log_group, wanted=len(messages) + 4)
    assert (
        [m for m in messages if m.startswith("REPORT")][-1]
        .split("\tMemory Size: ")[1]
        .startswith("1024 MB")
    )

    pids = dict(state.pids)
    down = run("local", "down")
    assert down.exit_code == 0, down.output
    assert sorted(down.stdout.splitlines()[:-1]) == sorted(
        f"{role} (pid {pid}): stopped" for role, pid in pids.items()
    )
    assert down.stdout.splitlines()[-1] == "Local account stopped; state removed."
    assert not any(procs.alive(pid) for pid in pids.values())
    assert not LocalState.path(env).exists()
    assert not listening(state.gateway_url) and not listening(state.endpoint_url)
    again = run("local", "down")
    assert again.stdout == "The local account is not running.\n"


def test_local_status_when_not_running_and_deploy_needs_up(project):
    assert (
        run("local", "status").stdout
        == "The local account is not running (start it with `opskit local up`).\n"
    )
    result = run("--env", "local", "deploy", "--yes")
    assert result.exit_code == 8
    assert result.stderr == (
        "Error: the local account is not running: no "
        f"{project / '.opskit' / 'local.json'} (start it with `opskit --env local local up`)\n"
    )


def test_local_destroy_stops_the_gateway_and_keeps_the_emulator(project):
    env = load_environment("local")
    assert run("local", "up").exit_code == 0
    assert run("deploy", "--env", "local", "--yes").exit_code == 0
    state = LocalState.load(env)
    gateway, shipper = state.pids["gateway"], state.pids["shipper"]
    destroyed = run("--env", "local", "destroy", "--yes")
    assert destroyed.exit_code == 0, destroyed.output
    assert destroyed.stdout.splitlines()[0] == f"Deleted stack {STACK}."
    assert "Local gateway stopped (its stack is gone)." in destroyed.stderr.splitlines()
    assert not procs.alive(gateway) and not procs.alive(shipper)
    state = LocalState.load(env)
    assert list(state.pids) == ["emulator"] and procs.alive(state.pids["emulator"], "moto.server")
    down = run("local", "down", "-o", "json")
    assert json.loads(down.stdout) == {
        "processes": [{"role": "emulator", "pid": state.pids["emulator"], "state": "stopped"}]
    }
    assert json.loads(run("local", "down", "-o", "json").stdout) == {"processes": []}
