"""Cold start of the shipped zip: fresh python3.12 -> first authenticated, rate-limited,
proxied response through the Lambda handler, against a FastAPI+Mangum hello app packaged
the same way, in the same run.

Lambda unpacks the zip to a read-only /var/task and runs python3.12 there, so this:
builds both zips with `opskit.packaging.build_package` for x86_64 (this machine's CPU),
unpacks each to a read-only directory, and times fresh `python3.12` processes with
PYTHONDONTWRITEBYTECODE=1 (as on Lambda, nothing can be written next to the sources)
from spawn to the handler's first response. The gateway zip is measured with and
without the bytecode opskit now ships; the hello app with it, as the baseline. The
gateway's tables are on a moto server and its upstream is a local HTTP server, each in
its own process. Samples are interleaved; medians are compared.

Prints coldstart_zip_ratio (gateway with bytecode / hello app; target <= 1.2) and
bytecode_speedup (gateway without bytecode / with).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

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

from opskit.packaging import build_package
from opskit.packaging.bytecode import find_compiler

RUNS = 9
ARCHITECTURE = "x86_64"
CONTEXT = """
class Ctx:
    function_name = "bench-gateway"; memory_limit_in_mb = 512; aws_request_id = "r-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-gateway"
    def get_remaining_time_in_millis(self): return 30000
"""
HELLO_HANDLER = """from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/health/live")
async def live():
    return {"status": "ok"}


handler = Mangum(app, lifespan="off")
"""
INVOKE = (
    CONTEXT
    + """
import json, sys
from gateway.handler import handler
r = handler(json.loads(sys.argv[1]), Ctx())
sys.stderr.write(str(r["statusCode"]) + "\\n")
"""
)


def hello_project(root: Path) -> Path:
    """The baseline app as a project `build_package` packages like the gateway."""
    (root / "gateway").mkdir(parents=True)
    (root / "gateway" / "__init__.py").write_text("")
    (root / "gateway" / "handler.py").write_text(HELLO_HANDLER)
    (root / "pyproject.toml").write_text(
        '[tool.opskit]\nlambda-dependencies = ["fastapi>=0.110", "mangum>=0.17"]\n'
    )
    return root


def unpack_read_only(zip_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(into)
    for path in sorted(into.rglob("*"), reverse=True):
        path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH | (0o111 if path.is_dir() else 0))
    into.chmod(0o555)
    return into


def sample(python: str, task_root: Path, event: dict, env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [python, "-c", INVOKE, json.dumps(event)],
        cwd=task_root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(task_root),
             "PYTHONDONTWRITEBYTECODE": "1", **AWS_ENV, **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    status = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "?"
    if proc.returncode != 0 or status != "200":
        raise SystemExit(f"cold start sample failed (status {status}): {proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    compiler = find_compiler("3.12")
    if compiler is None:
        raise SystemExit("bench/coldstart.py needs python3.12 (PATH or pyenv): the Lambda runtime")
    with tempfile.TemporaryDirectory(prefix="opskit-coldstart-") as tmp:
        work = Path(tmp)
        built = {
            "gateway": build_package(ROOT, work / "gw", architecture=ARCHITECTURE),
            "gateway_no_bytecode": build_package(
                ROOT, work / "gw-plain", architecture=ARCHITECTURE, bytecode=False
            ),
            "hello": build_package(
                hello_project(work / "hello-src"), work / "hello", architecture=ARCHITECTURE,
                cache_dir=ROOT / ".opskit" / "cache" / "lambda-deps",
            ),
        }  # fmt: skip
        roots = {
            name: unpack_read_only(result.path, work / f"task-{name}")
            for name, result in built.items()
        }
        moto, moto_url = start_moto()
        upstream, upstream_url = start_upstream()
        try:
            create_tables(moto_url)
            env = gateway_env(moto_url, upstream_url, AWS_LAMBDA_FUNCTION_NAME="bench-gateway")
            samples: dict[str, list[float]] = {name: [] for name in roots}
            for i in range(RUNS):
                gw_event = v2_event(
                    "GET", f"/api/users/{i}", {"authorization": f"Bearer {token()}"}
                )
                hello_event = v2_event("GET", "/health/live", {})
                for name, root in roots.items():
                    event = hello_event if name == "hello" else gw_event
                    samples[name].append(sample(compiler.path, root, event, env))
        finally:
            moto.stop()
            upstream.stop()
            for root in roots.values():
                for path in [root, *root.rglob("*")]:
                    if path.is_dir():
                        os.chmod(path, 0o755)  # so the temporary directory can be removed
    gw, plain, hello = (median(samples[n]) for n in ("gateway", "gateway_no_bytecode", "hello"))
    print(f"coldstart_python={compiler.version}")
    print(f"coldstart_zip_mb={built['gateway'].size_zipped / 1024 / 1024:.2f}")
    print(f"coldstart_hello_ms={hello * 1000:.1f}")
    print(f"coldstart_gateway_ms={gw * 1000:.1f}")
    print(f"coldstart_gateway_no_bytecode_ms={plain * 1000:.1f}")
    print(f"coldstart_runs={RUNS}")
    print(f"coldstart_zip_ratio={gw / hello:.2f}")
    print("coldstart_zip_ratio_target=1.2")
    print(f"bytecode_speedup={plain / gw:.2f}")


if __name__ == "__main__":
    main()
