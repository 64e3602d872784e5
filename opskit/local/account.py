"""The local account: the moto emulator and the gateway under uvicorn, as our own processes.

Every process started here is recorded (role -> pid) in .opskit/local.json;
`down` stops exactly those pids (checked against their command line first).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opskit import stack as stk
from opskit.alarms.context import context_from_outputs
from opskit.config import Environment
from opskit.errors import LocalAccountError
from opskit.local import procs
from opskit.local.metrics import forget_local_metrics, raw_metrics_path
from opskit.local.state import LocalState
from opskit.local.transform import LOCAL_API_ID

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_lambda import LambdaClient

MARKERS = {"emulator": "moto.server", "gateway": "gateway.serve", "shipper": "opskit.local.shipper"}
DEFAULT_APP = "gateway.app:app"
SYNTHESIZED_NOTE = (
    "START/END/REPORT lines in {group} are synthesized by opskit's log shipper "
    "(no Lambda runtime runs locally): Duration from latency_ms, Max Memory Used from the "
    "gateway process RSS, Init Duration from process start to first request"
)
METRICS_NOTE = (
    "AWS/ApiGateway (Count, 4xx, 5xx, Latency, IntegrationLatency) and AWS/Lambda "
    "(Invocations, Errors, Duration) metrics are derived from the access lines by the log "
    "shipper (nothing else publishes them locally); no Throttles or ConcurrentExecutions, "
    "and the emulator computes no percentiles (`top` shows the maximum latency instead of p99)"
)


@dataclass(frozen=True)
class ProcessRow:
    role: str
    pid: int
    running: bool
    detail: str


def _post_json(url: str, payload: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):  # 127.0.0.1 only
        pass


def running_state(env: Environment) -> LocalState | None:
    """The recorded state if its emulator is still alive."""
    state = LocalState.load(env)
    if state and procs.alive(state.pids.get("emulator"), MARKERS["emulator"]):
        return state
    return None


def start_emulator(env: Environment, timeout: float = 30.0) -> LocalState:
    """Start moto on a free 127.0.0.1 port, configure it, pick the gateway port, record it all."""
    stale = LocalState.load(env)
    if stale is not None:
        stop_all(env, stale)
    forget_local_metrics(env.state_dir)
    port = procs.free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = procs.spawn(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        log=env.state_dir / "emulator.log",
        cwd=env.state_dir,
    )
    state = LocalState(endpoint_url=endpoint, pids={"emulator": proc.pid})
    state.save(env)  # recorded before waiting: `down` can always find it
    if not procs.wait_http(f"{endpoint}/moto-api/", timeout, proc):
        procs.stop(proc.pid)
        LocalState.clear(env)
        raise LocalAccountError(
            "the local emulator did not start",
            procs.tail(env.state_dir / "emulator.log") or f"no answer on {endpoint}",
            "check that moto[server] is installed (`pip install 'moto[server]'`)",
        )
    _post_json(f"{endpoint}/moto-api/config", {"lambda": {"use_docker": False}})
    state.gateway_url = f"http://127.0.0.1:{procs.free_port()}"
    state.extra["started_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    state.extra["jwt_secret"] = secrets.token_urlsafe(32)
    state.save(env)
    return state


def gateway_environment(
    env: Environment, state: LocalState, outputs: dict[str, str], function: Mapping[str, Any]
) -> dict[str, str]:
    """The function's own environment (as the template set it), pointed at the emulator."""
    variables = dict((function.get("Environment") or {}).get("Variables") or {})
    variables.setdefault("GATEWAY_RATE_LIMIT_TABLE", outputs.get("RateLimitTableName", ""))
    variables.setdefault("GATEWAY_SESSIONS_TABLE", outputs.get("SessionsTableName", ""))
    has_key = any(
        variables.get(k)
        for k in ("GATEWAY_JWT_PUBLIC_KEY", "GATEWAY_JWKS_URL", "GATEWAY_JWT_SECRET")
    )
    if not has_key:
        # No Secrets Manager secret exists in a fresh local account: use the local one.
        variables.pop("GATEWAY_JWT_SECRET_ARN", None)
        variables["GATEWAY_JWT_SECRET"] = str(state.extra.get("jwt_secret", ""))
    for name, url in state.upstreams.items():
        variables[f"GATEWAY_UPSTREAM_{name.upper()}"] = url
    memory = str(function.get("MemorySize") or env.parameters.get("MemorySize", "512"))
    function_name = str(function.get("FunctionName") or env.function_name)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GATEWAY_"))}
    base.update({k: str(v) for k, v in variables.items()})
    base.update(
        {
            "AWS_ENDPOINT_URL": state.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": env.region,
            "AWS_DEFAULT_REGION": env.region,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": env.function_log_group,
            # No X-Ray daemon or Lambda facade segment locally: with tracing on, the SDK
            # prints "No segment found" to stderr for every request.
            "GATEWAY_TRACING": "off",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return base


def start_gateway(
    env: Environment,
    state: LocalState,
    cfn: CloudFormationClient,
    lambda_client: LambdaClient,
    timeout: float = 30.0,
) -> float:
    """(Re)start uvicorn + the log shipper for the deployed local stack; return seconds to ready."""
    outputs = stk.stack_outputs(cfn, env.stack_name)
    function_name = outputs.get("FunctionName") or env.function_name
    function: Mapping[str, Any]
    try:
        function = lambda_client.get_function_configuration(FunctionName=function_name)
    except Exception:  # the template may not define the function locally
        function = {}
    stop_gateway(env, state)
    if not state.gateway_url:
        state.gateway_url = f"http://127.0.0.1:{procs.free_port()}"
    port = state.gateway_url.rsplit(":", 1)[1]
    variables = gateway_environment(env, state, outputs, function)
    context = context_from_outputs(env, outputs)  # the dimensions `top` and the alarms read
    app_spec = str(env.settings.get("local_gateway_app", DEFAULT_APP))
    started = time.time()
    gateway = procs.spawn(
        [
            sys.executable,
            "-m",
            "gateway.serve",  # uvicorn, trusting proxy headers only from GATEWAY_TRUSTED_PROXIES
            app_spec,
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--no-access-log",
            "--log-level",
            "warning",
        ],  # fmt: skip
        log=env.state_dir / "gateway.err.log",
        cwd=env.root,
        env=variables,
        stdout=subprocess.PIPE,
    )
    shipper = procs.spawn(
        [
            sys.executable,
            "-m",
            "opskit.local.shipper",
            "--endpoint",
            state.endpoint_url,
            "--region",
            env.region,
            "--group",
            env.function_log_group,
            "--pid",
            str(gateway.pid),
            "--memory",
            variables["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"],
            "--started",
            f"{started:.3f}",
            "--tee",
            str(env.state_dir / "gateway.log"),
            "--api-id",
            context.get("ApiId", LOCAL_API_ID),
            "--stage",
            context["Stage"],
            "--function-name",
            function_name,
            "--raw-metrics",
            str(raw_metrics_path(env.state_dir)),
        ],  # fmt: skip
        log=env.state_dir / "shipper.log",
        cwd=env.root,
        stdin=gateway.stdout,
    )
    assert gateway.stdout is not None
    gateway.stdout.close()  # the shipper owns the pipe now
    state.pids.update(gateway=gateway.pid, shipper=shipper.pid)
    state.save(env)
    if not procs.wait_http(f"{state.gateway_url}/health/live", timeout, gateway):
        stop_gateway(env, state)
        raise LocalAccountError(
            "the local gateway did not start",
            procs.tail(env.state_dir / "gateway.err.log") or f"no answer on {state.gateway_url}",
            f"see {env.state_dir / 'gateway.err.log'}",
        )
    ready = time.time() - started
    state.extra["gateway_started_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    state.save(env)
    return ready


def stop_gateway(env: Environment, state: LocalState) -> list[ProcessRow]:
    rows = []
    for role in ("gateway", "shipper"):  # gateway first: the shipper flushes on EOF
        pid = state.pids.pop(role, None)
        if pid:
            was_running = procs.alive(pid, MARKERS[role])
            if role == "shipper":
                _wait_exit(pid, 2.0)  # it flushes its last batch and exits on EOF
            procs.stop(pid, MARKERS[role])
            rows.append(ProcessRow(role, pid, was_running, "stopped"))
    state.save(env)
    return rows


def _wait_exit(pid: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and procs.alive(pid):
        time.sleep(0.05)


def stop_all(env: Environment, state: LocalState | None = None) -> list[ProcessRow]:
    """Stop exactly the processes recorded in the state file, then forget them."""
    state = state or LocalState.load(env)
    if state is None:
        return []
    rows = stop_gateway(env, state)
    for role, pid in list(state.pids.items()):
        rows.append(ProcessRow(role, pid, procs.stop(pid, MARKERS.get(role, "")), "stopped"))
    LocalState.clear(env)
    return rows


def process_rows(state: LocalState) -> list[ProcessRow]:
    rows = []
    for role, pid in state.pids.items():
        detail = {"emulator": state.endpoint_url, "gateway": state.gateway_url or ""}.get(role, "")
        rows.append(ProcessRow(role, pid, procs.alive(pid, MARKERS.get(role, "")), detail))
    return rows
