"""Shared helpers for the gateway benchmarks (not a benchmark itself: the runner skips _*.py)."""

from __future__ import annotations

import base64
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks import gateway/ and tests/tables.py
    sys.path.insert(0, str(ROOT))
SECRET = "bench-secret-that-is-at-least-32-bytes-long"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(url)


class Proc:
    """A subprocess we started and will stop (by its own pid)."""

    def __init__(
        self, args: list[str], env: dict[str, str] | None = None, stdout=subprocess.DEVNULL
    ) -> None:
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**os.environ, **AWS_ENV, **(env or {})},
            stdout=stdout,
            stderr=subprocess.DEVNULL,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu_split(self) -> tuple[float, float]:
        """(user, system) CPU seconds of the process so far, from /proc."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / tick, int(fields[12]) / tick

    def cpu_seconds(self) -> float:
        return sum(self.cpu_split())

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start_moto() -> tuple[Proc, str]:
    """moto over HTTP in its own process, served with keep-alive (see _moto_app.py)."""
    port = free_port()
    proc = Proc(
        [sys.executable, "-m", "uvicorn", "_moto_app:app", "--interface", "wsgi", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--log-level", "warning", "--app-dir", str(ROOT / "bench")]
    )  # fmt: skip
    wait_port(port)
    return proc, f"http://127.0.0.1:{port}"


def start_upstream() -> tuple[Proc, str]:
    port = free_port()
    proc = Proc([sys.executable, str(ROOT / "bench" / "_upstream.py"), str(port)])
    wait_port(port)
    return proc, f"http://127.0.0.1:{port}"


def create_tables(endpoint: str) -> None:
    import boto3

    from tests.tables import create_gateway_tables

    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", **_keys())
    create_gateway_tables(ddb, "bench-rate-limits", "bench-sessions")


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def gateway_env(moto: str, upstream: str, **extra: str) -> dict[str, str]:
    return {
        "GATEWAY_JWT_SECRET": SECRET,
        "GATEWAY_RATE_LIMIT_TABLE": "bench-rate-limits",
        "GATEWAY_SESSIONS_TABLE": "bench-sessions",
        "GATEWAY_RATE_LIMIT": "1000000/86400",
        "GATEWAY_UPSTREAM_USERS": upstream,
        "GATEWAY_TRACING": "off",
        "AWS_ENDPOINT_URL": moto,
        **AWS_ENV,
        **extra,
    }


def token(sub: str = "bench-user") -> str:
    import jwt

    return jwt.encode({"sub": sub, "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")


def v2_event(
    method: str, path: str, headers: dict[str, str], request_id: str = "bench-req"
) -> dict:
    """API Gateway HTTP API payload v2 (shape of the AWS documentation example)."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "id.execute-api.us-east-1.amazonaws.com", **headers},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "bench",
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": "24/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795514400000,
        },
        "body": base64.b64encode(b"").decode(),
        "isBase64Encoded": True,
    }


def median(values: list[float]) -> float:
    return statistics.median(values)
