"""Proxying: routing, path safety, header hygiene, misbehaving upstreams, retries, breaker, CORS."""

from __future__ import annotations

import json
import time

import pytest

from gateway.config import Upstream
from gateway.proxy import find_upstream
from tests.conftest import free_port
from tests.gateway.support import token

AUTH = {"authorization": f"Bearer {token(exp_in=3600)}"}


def seen_headers(result: dict) -> dict[str, str]:
    return dict(json.loads(result["body"])["headers"])


def error_code(result: dict) -> str:
    return json.loads(result["body"])["error"]["code"]


def test_longest_prefix_on_segment_boundary() -> None:
    def up(prefix: str) -> Upstream:
        return Upstream(prefix.strip("/"), prefix, "http", "h", 80, "", 1.0, 1.0)

    ups = (up("/api/users"), up("/api/users/admin"), up("/api/orders"))
    assert find_upstream(ups, "/api/users/admin/7") == (ups[1], "/7")
    assert find_upstream(ups, "/api/users/7") == (ups[0], "/7")
    assert find_upstream(ups, "/api/users") == (ups[0], "/")
    assert find_upstream(ups, "/api/usersx/1") is None
    assert find_upstream(ups, "/api/products/1") is None


def test_unconfigured_upstream_is_404(gw) -> None:
    result = gw("GET", "/api/orders/1", headers=AUTH)
    assert result["statusCode"] == 404 and error_code(result) == "not_found"


@pytest.mark.parametrize(
    "client_path",
    [
        "/api/users/../admin",
        "/api/users/./x",
        "/api/users/a%5Cb",
        "/api/users/a%00b",
        "/api/users/a%1Bb",
        "/api/users/a%7Fb",
        "/api/users/%2e%2e/%2E%2E/etc/passwd",
        "/api/users/..;/admin",  # Tomcat/Spring drop ";..." and climb
        "/api/users/x/..;jsessionid=1/admin",
        "/api/users/%2e%2e%3B/admin",
        "/api/users/.;x/admin",
    ],
)
def test_path_traversal_rejected(gw, upstream, client_path: str) -> None:
    before = len(upstream.requests)
    result = gw("GET", client_path, headers=AUTH)
    assert result["statusCode"] == 400 and error_code(result) == "bad_path"
    assert len(upstream.requests) == before


def test_header_hygiene_both_ways(gw) -> None:
    result = gw(
        "GET",
        "/api/users/hop",
        headers={
            **AUTH,
            "connection": "X-Smuggle, keep-alive",
            "x-smuggle": "1",
            "keep-alive": "timeout=5",
            "te": "trailers",
            "upgrade": "h2c",
            "proxy-authorization": "Basic c2VjcmV0",
            "x-request-id": "spoofed",
            "x-user-id": "admin",
            "x-custom": "kept",
        },
    )
    assert result["statusCode"] == 200
    # response side: hop-by-hop and Connection-named headers gone, multiple Set-Cookie kept
    assert "x-upstream-secret" not in result["headers"] and "keep-alive" not in result["headers"]
    assert "proxy-authenticate" not in result["headers"]
    assert result["headers"]["x-kept"] == "yes"
    assert sorted(result.get("cookies") or []) == ["a=1", "b=2"]
    assert result["headers"]["x-request-id"] == "req-1"


def test_request_headers_forwarded_clean(gw, upstream) -> None:
    result = gw(
        "GET",
        "/api/users/echo",
        headers={
            **AUTH,
            "connection": "X-Smuggle",
            "x-smuggle": "1",
            "proxy-authorization": "Basic c2VjcmV0",
            "x-request-id": "spoofed",
            "x-user-id": "admin",
            "x-custom": "kept",
        },
    )
    names = [name for name, _ in json.loads(result["body"])["headers"]]
    headers = seen_headers(result)
    for dropped in ("x-smuggle", "connection", "proxy-authorization", "authorization"):
        assert dropped not in headers, dropped
    assert names.count("x-request-id") == 1 and names.count("x-user-id") == 1
    assert headers["x-request-id"] == "req-1" and headers["x-user-id"] == "user-1"
    assert headers["x-custom"] == "kept"
    assert headers["host"] == upstream.url.removeprefix("http://")


def test_authorization_forwarded_when_enabled(make_gateway) -> None:
    gw = make_gateway(GATEWAY_FORWARD_AUTHORIZATION="on")
    assert (
        seen_headers(gw("GET", "/api/users/e", headers=AUTH))["authorization"]
        == AUTH["authorization"]
    )


def test_body_limit_413(make_gateway, upstream) -> None:
    gw = make_gateway(GATEWAY_MAX_BODY_BYTES="100")
    before = len(upstream.requests)
    result = gw("POST", "/api/users/x", headers=AUTH, body=b"x" * 101)
    assert result["statusCode"] == 413 and error_code(result) == "payload_too_large"
    assert gw("POST", "/api/users/x", headers=AUTH, body=b"x" * 100)["statusCode"] == 200
    assert len(upstream.requests) == before + 1


def test_slow_upstream_504(make_gateway) -> None:
    gw = make_gateway(GATEWAY_UPSTREAM_TIMEOUT="0.5", GATEWAY_UPSTREAM_RETRIES="0")
    started = time.monotonic()
    result = gw("GET", "/api/users/slow", headers=AUTH, query="s=2")
    assert result["statusCode"] == 504 and error_code(result) == "upstream_timeout"
    assert time.monotonic() - started < 1.5


def test_dribbling_upstream_504(make_gateway) -> None:
    gw = make_gateway(GATEWAY_UPSTREAM_TIMEOUT="0.6")
    started = time.monotonic()
    result = gw("GET", "/api/users/dribble", headers=AUTH)
    assert result["statusCode"] == 504
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("path", ["/api/users/drop", "/api/users/reset"])
def test_dropping_upstream_502(make_gateway, path: str) -> None:
    gw = make_gateway(GATEWAY_UPSTREAM_RETRIES="0")
    result = gw("GET", path, headers=AUTH)
    assert result["statusCode"] == 502 and error_code(result) == "bad_gateway"
    assert result["headers"]["ratelimit-policy"]  # still tells the client its budget


def test_nothing_listening_502_after_retries(make_gateway) -> None:
    gw = make_gateway(GATEWAY_UPSTREAM_USERS=f"http://127.0.0.1:{free_port()}")
    result = gw("GET", "/api/users/x", headers=AUTH)
    assert result["statusCode"] == 502
    assert gw.runtime.proxy.breakers["users"].failures == 3  # first try + 2 retries


def test_retry_503_for_get_not_for_post(gw, upstream) -> None:
    ok = gw("GET", "/api/users/flaky", headers=AUTH, query="k=get1")
    assert ok["statusCode"] == 200 and json.loads(ok["body"])["attempt"] == 2
    post = gw("POST", "/api/users/flaky", headers=AUTH, query="k=post1", body=b"{}")
    assert post["statusCode"] == 503 and json.loads(post["body"])["attempt"] == 1


def test_upstream_5xx_passed_through(make_gateway) -> None:
    gw = make_gateway(GATEWAY_UPSTREAM_RETRIES="0")
    result = gw("GET", "/api/users/status/500", headers=AUTH)
    assert result["statusCode"] == 500
    (line,) = gw.access_lines()
    assert line["upstream_status"] == 500


def test_circuit_breaker_opens_and_recovers(make_gateway, upstream) -> None:
    gw = make_gateway(
        GATEWAY_UPSTREAM_RETRIES="0", GATEWAY_BREAKER_THRESHOLD="2", GATEWAY_BREAKER_COOLDOWN="0.5"
    )
    for _ in range(2):
        assert gw("GET", "/api/users/status/503", headers=AUTH)["statusCode"] == 503
    before = len(upstream.requests)
    opened = gw("GET", "/api/users/fine", headers=AUTH)
    assert opened["statusCode"] == 503 and error_code(opened) == "upstream_unavailable"
    assert opened["headers"]["retry-after"] == "1"
    assert len(upstream.requests) == before  # short-circuited
    time.sleep(0.6)
    assert (
        gw("GET", "/api/users/fine", headers=AUTH)["statusCode"] == 200
    )  # half-open trial succeeds
    assert gw.runtime.proxy.breakers["users"].state == "closed"


def test_pooled_connection_closed_by_upstream_is_replaced(gw) -> None:
    assert gw("GET", "/api/users/a", headers=AUTH)["statusCode"] == 200
    for pool in gw.runtime.http._idle.values():  # the upstream "closes" idle keep-alive sockets
        for conn in pool:
            conn.transport.get_extra_info("socket").shutdown(1)
    assert gw("GET", "/api/users/b", headers=AUTH)["statusCode"] == 200


def test_cors_preflight_and_simple(make_gateway) -> None:
    gw = make_gateway(GATEWAY_CORS_ORIGINS="https://app.example")
    pre = gw(
        "OPTIONS",
        "/api/users/x",
        headers={"origin": "https://app.example", "access-control-request-method": "POST",
                 "access-control-request-headers": "authorization"},
    )  # fmt: skip
    assert pre["statusCode"] == 200
    assert pre["headers"]["access-control-allow-origin"] == "https://app.example"
    simple = gw("GET", "/api/users/x", headers={**AUTH, "origin": "https://app.example"})
    assert simple["headers"]["access-control-allow-origin"] == "https://app.example"
    assert "x-request-id" in simple["headers"]["access-control-expose-headers"]
    denied = gw("GET", "/api/users/x", headers={**AUTH, "origin": "https://evil.example"})
    assert "access-control-allow-origin" not in denied["headers"]


def test_dots_inside_names_are_fine(gw, upstream) -> None:
    result = gw("GET", "/api/users/v1..2/.well-known/file.json", headers=AUTH)
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["path"] == "/v1..2/.well-known/file.json"


@pytest.mark.parametrize("method", ["TRACE", "CONNECT"])
def test_unproxied_methods_are_405_with_allow(gw, upstream, method: str) -> None:
    """The /api fast path answers like FastAPI would: 405, Allow, JSON error, nothing proxied."""
    before = len(upstream.requests)
    result = gw(method, "/api/users/1", headers=AUTH)
    assert result["statusCode"] == 405
    assert "GET" in result["headers"]["allow"] and "TRACE" not in result["headers"]["allow"]
    assert json.loads(result["body"])["error"]["code"]
    assert len(upstream.requests) == before
