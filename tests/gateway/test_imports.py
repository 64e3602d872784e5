"""The Lambda import path stays lean: no opskit/CLI/test tooling, no botocore, X-Ray lazily."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = [
    "opskit",
    "click",
    "rich",
    "duckdb",
    "moto",
    "boto3",
    "botocore",
    "aws_xray_sdk",
    "aiohttp",
    "httpx",
]


def test_handler_import_is_lean() -> None:
    code = (
        "import sys, json; import gateway.handler as h; h.handler;"
        "from gateway.app import app; "
        f"print(json.dumps([m for m in {FORBIDDEN!r} if m in sys.modules]))"
    )
    env = {"PATH": "/usr/bin:/bin", "GATEWAY_JWT_SECRET": "x" * 32, "GATEWAY_RATE_LIMIT_TABLE": "rate",
           "GATEWAY_SESSIONS_TABLE": "sess"}  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_tracer_selection() -> None:
    from gateway.tracing import NoopTracer, XRayTracer, get_tracer

    assert isinstance(get_tracer(True, {}), NoopTracer)  # not in Lambda
    assert isinstance(
        get_tracer(False, {"AWS_LAMBDA_FUNCTION_NAME": "f"}), NoopTracer
    )  # GATEWAY_TRACING=off
    tracer = get_tracer(True, {"AWS_LAMBDA_FUNCTION_NAME": "f"})
    assert isinstance(tracer, XRayTracer)
    with tracer.segment("/api/users"):  # no facade segment outside Lambda: must not raise
        tracer.annotate("status", 200)
        tracer.rename("/api/users")
