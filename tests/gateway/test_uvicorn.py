"""The same app under uvicorn (local runs): raw-path checks and X-Request-ID handling over real HTTP."""

from __future__ import annotations

import json
import socket

import pytest

from tests.gateway.processes import UvicornGateway
from tests.gateway.rawsock import RawUpstream, Request, echo_target
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


def raw_exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def raw_script(conn: int, index: int, req: Request) -> bytes:
    if req.target.startswith("/crlf"):
        return b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=UPSTREAM-SECRET\rX: 1\r\nContent-Length: 2\r\n\r\nok"
    return echo_target(conn, index, req)


@pytest.fixture
def hostile_gateway(tables, upstream):
    """A gateway whose /api/users upstream is a scripted raw socket (records every request)."""
    with RawUpstream(raw_script) as raw:
        gw = UvicornGateway(gateway_env(tables, upstream.url, GATEWAY_UPSTREAM_USERS=raw.url))
        try:
            gw.wait_ready()
            yield gw, raw
        finally:
            gw.stop()


def access_lines(gw: UvicornGateway) -> list[dict]:
    return [line for line in json_lines(gw.output()) if line.get("message") == "request"]


def test_uvicorn_hostile_clients_and_upstream(hostile_gateway) -> None:
    gw, raw = hostile_gateway
    auth = {"Authorization": f"Bearer {token()}"}
    # 1. A client's X-Forwarded-For is not its address (uvicorn's default trusted it from
    #    127.0.0.1: every local client could pick its client_ip and its failed-auth bucket).
    status, _, _ = raw_request(gw.port, "/api/users/who", {**auth, "X-Forwarded-For": "6.6.6.6"})
    assert status == 200
    assert raw.requests[-1].header("x-forwarded-for") == "127.0.0.1"
    # 2. The raw path goes upstream exactly as sent (reserved characters stay encoded).
    for target in (
        "/api/users/a%3Bb%2Bc%26d%3De%40f",
        "/api/users/100%2541",
        "/api/users/caf%C3%A9",
    ):
        assert raw_request(gw.port, target, auth)[0] == 200
        assert raw.requests[-1].target == target.removeprefix("/api/users")
    # 3. Unauthenticated: 401 without "100 Continue", the body never asked for.
    before = len(raw.requests)
    reply = raw_exchange(
        gw.port,
        b"POST /api/users/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
        b"Expect: 100-continue\r\nConnection: close\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 401 ") and b"100 Continue" not in reply
    # ... and an authenticated one gets its 100 Continue and its answer.
    reply = raw_exchange(
        gw.port,
        b"POST /api/users/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
        b"Expect: 100-continue\r\nConnection: close\r\nAuthorization: "
        + auth["Authorization"].encode()
        + b"\r\n\r\nhello",
    )
    assert reply.startswith(b"HTTP/1.1 100 Continue") and b"HTTP/1.1 200 OK" in reply
    assert len(raw.requests) == before + 1 and raw.requests[-1].body == b"hello"
    # 4. CR in an upstream header value: a JSON 502 (it was an empty reply and a logged 200).
    status, _, body = raw_request(gw.port, "/api/users/crlf", auth)
    assert status == 502 and json.loads(body)["error"]["code"] == "bad_gateway"
    gw.stop()
    lines = access_lines(gw)
    assert [line["client_ip"] for line in lines[1:]] == ["127.0.0.1"] * (len(lines) - 1)
    assert (lines[-1]["status"], lines[-1]["error_code"]) == (502, "bad_gateway")
    assert "UPSTREAM-SECRET" not in gw.output()


def test_uvicorn_trusted_proxies_setting(tables, upstream) -> None:
    env = gateway_env(tables, upstream.url, GATEWAY_TRUSTED_PROXIES="127.0.0.1")
    gw = UvicornGateway(env)
    try:
        gw.wait_ready()
        status, _, body = raw_request(
            gw.port,
            "/api/users/x",
            {"Authorization": f"Bearer {token()}", "X-Forwarded-For": "203.0.113.9"},
        )
        assert status == 200
        assert dict(json.loads(body)["headers"])["x-forwarded-for"] == "203.0.113.9"
    finally:
        gw.stop()
    assert access_lines(gw)[-1]["client_ip"] == "203.0.113.9"


def test_serve_command_line() -> None:
    from gateway.serve import uvicorn_args

    assert uvicorn_args(["--port", "1"], {}) == [
        "gateway.app:app",
        "--port",
        "1",
        "--no-proxy-headers",
    ]
    assert uvicorn_args(["x:app"], {"GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8"}) == [
        "x:app", "--proxy-headers", "--forwarded-allow-ips", "10.0.0.0/8",
    ]  # fmt: skip
