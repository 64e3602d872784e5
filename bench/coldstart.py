"""Cold start: fresh process -> first authenticated, rate-limited, proxied response through the
Lambda handler, against a bare FastAPI+Mangum hello app's first /health/live, same run.

Each sample is a new interpreter: wall time from spawn to the child printing the response
status (interpreter start, imports, app build, first request). Samples of both are interleaved
and the medians compared. moto and the upstream run in their own processes.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))

from _support import (
    AWS_ENV,
    ROOT,
    create_tables,
    gateway_env,
    median,
    start_moto,
    start_upstream,
    token,
    v2_event,
)

RUNS = 9
CONTEXT = """
class Ctx:
    function_name = "bench-gateway"; memory_limit_in_mb = 512; aws_request_id = "r-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-gateway"
    def get_remaining_time_in_millis(self): return 30000
"""
BARE = (
    CONTEXT
    + """
import json, sys
from fastapi import FastAPI
from mangum import Mangum
app = FastAPI()
@app.get("/health/live")
async def live():
    return {"status": "ok"}
handler = Mangum(app, lifespan="off")
r = handler(json.loads(sys.argv[1]), Ctx())
sys.stderr.write(str(r["statusCode"]) + "\\n")
"""
)
GATEWAY = (
    CONTEXT
    + """
import json, sys
from gateway.handler import handler
r = handler(json.loads(sys.argv[1]), Ctx())
sys.stderr.write(str(r["statusCode"]) + "\\n")
"""
)


def sample(code: str, event: dict, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) for one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(event)],
        cwd=ROOT, env={"PATH": "/usr/bin:/bin", **AWS_ENV, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    status = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "?"
    if proc.returncode != 0 or status != "200":
        raise SystemExit(
            f"cold start sample failed (status {status}): {proc.stderr[-2000:]} {proc.stdout[-500:]}"
        )
    return elapsed, cpu


def main() -> None:
    moto, moto_url = start_moto()
    upstream, upstream_url = start_upstream()
    try:
        create_tables(moto_url)
        env = gateway_env(moto_url, upstream_url, AWS_LAMBDA_FUNCTION_NAME="bench-gateway")
        bare_event = v2_event("GET", "/health/live", {})
        bare, gw = [], []
        for i in range(RUNS):
            gw_event = v2_event("GET", f"/api/users/{i}", {"authorization": f"Bearer {token()}"})
            bare.append(sample(BARE, bare_event, {}))
            gw.append(sample(GATEWAY, gw_event, env))
    finally:
        moto.stop()
        upstream.stop()
    b, g = median([w for w, _ in bare]), median([w for w, _ in gw])
    bc, gc = median([c for _, c in bare]), median([c for _, c in gw])
    print(f"coldstart_baseline_ms={b * 1000:.1f}")
    print(f"coldstart_gateway_ms={g * 1000:.1f}")
    print(f"coldstart_baseline_cpu_ms={bc * 1000:.1f}")
    print(f"coldstart_gateway_cpu_ms={gc * 1000:.1f}")
    print(f"coldstart_runs={RUNS}")
    print(f"coldstart_cpu_ratio={gc / bc:.2f}")
    print(f"coldstart_ratio={g / b:.2f}")


if __name__ == "__main__":
    main()
