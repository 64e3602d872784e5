"""The same app under uvicorn (local runs): raw-path checks and X-Request-ID handling over real HTTP."""

from __future__ import annotations

import json
import socket

import pytest

from tests.gateway.processes import UvicornGateway
from tests.gateway.support import gateway_env, json_lines, token


def raw_request(
    port: int, target: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
    return int(status_line.split()[1]), parsed, body


@pytest.fixture
def local_gateway(tables, upstream):
    gw = UvicornGateway(gateway_env(tables, upstream.url))
    try:
        gw.wait_ready()
        yield gw
    finally:
        gw.stop()


def test_uvicorn_path_safety_and_request_ids(local_gateway, upstream) -> None:
    auth = {"Authorization": f"Bearer {token()}"}
    for target in (
        "/api/users/a%2Fb",
        "/api/users/a%5cb",
        "/api/users/%2e%2e/admin",
        "/api/users/../admin",
        "/api/users/a%00",
    ):
        status, _, body = raw_request(local_gateway.port, target, auth)
        assert status == 400, target
        assert json.loads(body)["error"]["code"] == "bad_path"
    status, headers, body = raw_request(
        local_gateway.port, "/api/users/ok?x=1", {**auth, "X-Request-ID": "client-abc.1"}
    )
    assert status == 200 and headers["x-request-id"] == "client-abc.1"
    assert dict(json.loads(body)["headers"])["x-request-id"] == "client-abc.1"
    status, headers, _ = raw_request(
        local_gateway.port, "/health/live", {"X-Request-ID": "bad id with spaces"}
    )
    assert (
        status == 200
        and headers["x-request-id"] != "bad id with spaces"
        and len(headers["x-request-id"]) == 32
    )
    local_gateway.stop()
    lines = [
        line for line in json_lines(local_gateway.output()) if line.get("message") == "request"
    ]
    assert len(lines) == 8  # wait_ready + 5 rejected + 2
    assert lines[6]["correlation_id"] == "client-abc.1" and lines[6]["client_ip"] == "127.0.0.1"
