"""Steady-state cost of the gateway: CPU time per proxied request in the gateway process
(uvicorn; moto and the upstream in their own processes) against a bare FastAPI hello app's CPU
per request under the same load, same run. Also: DynamoDB calls and log bytes per request.

Prints cpu_per_request_ratio (target <= 2.0), ddb_calls_per_request (must be 1 for a
rate-limited JWT request) and log_bytes_per_request (target <= 700, measured on Lambda-shaped
lines, which carry the function name/ARN/request id).

Context for the ratio: ``*_sleeps_per_request`` counts how often each server blocked (voluntary
context switches) per request. The hello app never waits on anything; the gateway waits on moto
(milliseconds per call, one call at a time) and on the upstream, about twice per request, and
``idle_wait_cpu_us_per_moto_call`` is what this VM charges a process for one such wait.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _support import (  # noqa: E402
    AWS_ENV,
    Proc,
    _keys,
    create_tables,
    free_port,
    gateway_env,
    median,
    start_moto,
    start_upstream,
    token,
    v2_event,
    wait_http,
)

WARMUP = 200
REQUESTS = 800
ROUNDS = 3
CONCURRENCY = 16


def uvicorn(app: str, env: dict[str, str], stdout) -> tuple[Proc, int]:  # noqa: ANN001
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log", "--log-level", "warning", "--app-dir", str(Path(__file__).resolve().parent)]  # fmt: skip
    proc = Proc(args, env, stdout=stdout)
    wait_http(f"http://127.0.0.1:{port}/health/live")
    return proc, port


async def load(port: int, path: str, headers: list[tuple[str, str]], count: int) -> int:
    from gateway.http_client import HttpClient

    client = HttpClient(max_idle_per_origin=CONCURRENCY)
    statuses: dict[int, int] = {}
    queue = iter(range(count))

    async def worker() -> None:
        for _ in queue:
            resp = await client.request("GET", "http", "127.0.0.1", port, path, headers, timeout=30)
            statuses[resp.status] = statuses.get(resp.status, 0) + 1

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    await client.aclose()
    if set(statuses) != {200}:
        raise SystemExit(f"unexpected statuses {statuses} on {path}")
    return count


def cpu_round(
    proc: Proc, port: int, path: str, headers: list[tuple[str, str]], sleeps: list[float]
) -> float:
    before, slept = proc.cpu_seconds(), proc.sleeps()
    asyncio.run(load(port, path, headers, REQUESTS))
    sleeps.append((proc.sleeps() - slept) / REQUESTS)
    return (proc.cpu_seconds() - before) / REQUESTS


async def wait_cost(delay: float, n: int = 100) -> float:
    """CPU this VM charges a process for one idle wait of ``delay`` seconds (context for readers:
    the gateway waits on moto, which takes milliseconds per call; the hello app never waits)."""
    started = time.process_time()
    for _ in range(n):
        await asyncio.sleep(delay)
    return (time.process_time() - started) / n


async def ddb_latency(moto_url: str) -> float:
    """Median wall time of one UpdateItem against moto (what the gateway waits per request)."""
    from gateway.aws import dynamodb_client
    from gateway.http_client import HttpClient

    ddb = dynamodb_client(HttpClient(), "us-east-1", {**AWS_ENV, "AWS_ENDPOINT_URL": moto_url})
    params = {
        "TableName": "bench-rate-limits",
        "Key": {"limiter_key": {"S": "latency-probe"}, "window_start": {"N": "0"}},
        "UpdateExpression": "ADD c :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }
    samples = []
    for _ in range(50):
        started = time.perf_counter()
        await ddb.call("UpdateItem", params)
        samples.append(time.perf_counter() - started)
    await ddb.http.aclose()
    return median(samples)


def lambda_side(env: dict[str, str]) -> tuple[float, float]:
    """DynamoDB calls and log bytes per request through the real Lambda handler path."""
    from mangum import Mangum

    from gateway.app import create_app

    class Ctx:
        function_name = "opskit-dev-gateway"
        memory_limit_in_mb = 512
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:opskit-dev-gateway"
        aws_request_id = "3f1c0f6e-8a4b-4f7e-9a51-2c1d5e6f7a8b"

        def get_remaining_time_in_millis(self) -> int:
            return 30_000

    out = io.StringIO()
    app = create_app(env, stream=out)
    handler = Mangum(app, lifespan="off")
    n = 50
    auth = {"authorization": f"Bearer {token()}"}
    before = app.state.runtime.ddb.calls
    for i in range(n):
        event = v2_event("GET", f"/api/users/{i}", auth, request_id=f"Kx{i:04d}gHoAMEbQ=")
        result = handler(event, Ctx())
        if result["statusCode"] != 200 or "ratelimit" not in result["headers"]:
            raise SystemExit(f"lambda-side request failed: {result}")
    calls = (app.state.runtime.ddb.calls - before) / n
    return calls, len(out.getvalue().encode()) / n


def main() -> None:
    moto, moto_url = start_moto()
    upstream, upstream_url = start_upstream()
    procs = [moto, upstream]
    try:
        create_tables(moto_url)
        env = gateway_env(moto_url, upstream_url)
        hello, hello_port = uvicorn("_hello:app", {}, subprocess.DEVNULL)
        procs.append(hello)
        logs = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after the gateway stops
        gw, gw_port = uvicorn("gateway.app:app", env, logs)
        procs.append(gw)
        auth = [("authorization", f"Bearer {token()}")]
        asyncio.run(load(hello_port, "/health/live", [], WARMUP))
        asyncio.run(load(gw_port, "/api/users/42", auth, WARMUP))
        base_rounds, gw_rounds, log_rounds = [], [], []
        base_sleeps: list[float] = []
        gw_sleeps: list[float] = []
        for _ in range(ROUNDS):  # interleaved, so both see the same machine load
            base_rounds.append(cpu_round(hello, hello_port, "/health/live", [], base_sleeps))
            logs.seek(0, 2)
            log_start = logs.tell()
            gw_rounds.append(cpu_round(gw, gw_port, "/api/users/42", auth, gw_sleeps))
            time.sleep(0.1)
            logs.seek(0, 2)
            log_rounds.append((logs.tell() - log_start) / REQUESTS)
        logs.seek(0)
        errors = sum(1 for line in logs if b'"level":"ERROR"' in line)
        base, gw_cpu, local_log_bytes = median(base_rounds), median(gw_rounds), median(log_rounds)
        hello.stop()
        gw.stop()
        logs.close()
        moto_latency = asyncio.run(ddb_latency(moto_url))
        idle_cost = asyncio.run(wait_cost(moto_latency))
        calls, log_bytes = lambda_side(env)
        import boto3

        items = boto3.client(
            "dynamodb", endpoint_url=moto_url, region_name="us-east-1", **_keys()
        ).scan(TableName="bench-rate-limits")["Items"]
        counted = next(
            int(i["c"]["N"]) for i in items if i["limiter_key"]["S"] == "user:bench-user"
        )
    finally:
        for proc in procs:
            proc.stop()
    print(f"hello_cpu_us_per_request={base * 1e6:.0f}")
    print(f"gateway_cpu_us_per_request={gw_cpu * 1e6:.0f}")
    print(f"cpu_per_request_ratio={gw_cpu / base:.2f}")
    print(f"ddb_calls_per_request={calls:g}")
    print(f"ddb_counter_matches_requests={str(counted == WARMUP + ROUNDS * REQUESTS + 50).lower()}")
    print(f"ddb_counter={counted}")
    print(f"gateway_error_lines={errors}")
    print(f"log_bytes_per_request={log_bytes:.0f}")
    print(f"log_bytes_per_request_local={local_log_bytes:.0f}")
    print(f"overhead_requests={ROUNDS * REQUESTS}")
    print(f"overhead_concurrency={CONCURRENCY}")
    print(f"moto_update_item_latency_ms={moto_latency * 1000:.2f}")
    print(f"idle_wait_cpu_us_per_moto_call={idle_cost * 1e6:.0f}")
    print(f"hello_sleeps_per_request={median(base_sleeps):.2f}")
    print(f"gateway_sleeps_per_request={median(gw_sleeps):.2f}")


if __name__ == "__main__":
    main()
