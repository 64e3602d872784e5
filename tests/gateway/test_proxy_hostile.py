"""The gateway (Lambda handler, real API Gateway HTTP API v2 events) in front of raw-socket
upstreams that misbehave, and clients that send what they should not."""

from __future__ import annotations

import base64
import json
import math
import time
from email.utils import formatdate

import pytest

from gateway import lambda_payload
from tests.conftest import free_port
from tests.gateway.rawsock import Action, RawUpstream, Request, echo_target, ok
from tests.gateway.support import token

ALICE = {"authorization": f"Bearer {token(sub='alice', exp_in=3600)}"}
BOB = {"authorization": f"Bearer {token(sub='bob', exp_in=3600)}"}


def body_of(result: dict) -> bytes:
    raw = result.get("body", "")
    return base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()


def error_of(result: dict) -> dict:
    return json.loads(result["body"])["error"]


@pytest.fixture
def raw_gateway(make_gateway):
    """make(script, **env) -> (gateway, raw upstream) with /api/users served by the script."""
    opened: list[RawUpstream] = []

    def make(script=echo_target, **env: str):
        up = RawUpstream(script).__enter__()
        opened.append(up)
        return make_gateway(GATEWAY_UPSTREAM_USERS=up.url, **env), up

    yield make
    for up in opened:
        up.__exit__()


def test_conflicting_content_length_never_serves_another_users_answer(raw_gateway) -> None:
    leftover = ok(b"alice's answer to ?q=secret")

    def script(conn: int, index: int, req: Request) -> bytes:
        if (conn, index) == (0, 0):
            return (
                b"HTTP/1.1 200 OK\r\nContent-Length: 97\r\nContent-Length: 2\r\n\r\nhi" + leftover
            )
        return echo_target(conn, index, req)

    gw, _ = raw_gateway(script, GATEWAY_UPSTREAM_RETRIES="0")
    first = gw("GET", "/api/users/a", headers=ALICE, query="q=secret")
    assert first["statusCode"] == 502 and error_of(first)["code"] == "bad_gateway"
    second = gw("GET", "/api/users/b", headers=BOB)
    assert second["statusCode"] == 200 and body_of(second) == b"GET /b"


def test_post_on_a_connection_that_dies_is_not_executed_twice(raw_gateway) -> None:
    def script(conn: int, index: int, req: Request) -> bytes | Action:
        if conn == 0 and index == 1:
            return Action(close=True)  # read (and executed) the request, then died
        return echo_target(conn, index, req)

    gw, up = raw_gateway(script)
    assert gw("GET", "/api/users/warm", headers=ALICE)["statusCode"] == 200
    result = gw("POST", "/api/users/charge", headers=ALICE, body=b'{"amount": 100}')
    assert result["statusCode"] == 502 and error_of(result)["code"] == "bad_gateway"
    assert up.executed("/charge") == 1


def test_get_on_a_connection_that_dies_is_retried(raw_gateway) -> None:
    def script(conn: int, index: int, req: Request) -> bytes | Action:
        return Action(close=True) if (conn, index) == (0, 1) else echo_target(conn, index, req)

    gw, up = raw_gateway(script)
    assert gw("GET", "/api/users/warm", headers=ALICE)["statusCode"] == 200
    result = gw("GET", "/api/users/read", headers=ALICE)
    assert result["statusCode"] == 200 and body_of(result) == b"GET /read"


def test_non_latin1_subject_is_percent_encoded_in_x_user_id(raw_gateway) -> None:
    gw, up = raw_gateway()
    result = gw("GET", "/api/users/me", headers={"authorization": f"Bearer {token(sub='李雷')}"})
    assert result["statusCode"] == 200
    assert up.requests[-1].header("x-user-id") == "%E6%9D%8E%E9%9B%B7"
    (line,) = gw.access_lines()
    assert line["user_id"] == "李雷"


@pytest.mark.parametrize(
    ("sub", "sent"),
    [("user-1", "user-1"), ("auth0|abc", "auth0|abc"), ("a b", "a%20b"), ("100%", "100%25"),
     ("a\r\nx-admin: 1", "a%0D%0Ax-admin:%201")],
)  # fmt: skip
def test_x_user_id_encoding(raw_gateway, sub: str, sent: str) -> None:
    gw, up = raw_gateway()
    assert (
        gw("GET", "/api/users/me", headers={"authorization": f"Bearer {token(sub=sub)}"})[
            "statusCode"
        ]
        == 200
    )
    assert up.requests[-1].header("x-user-id") == sent


def open_breaker(gw, up) -> None:
    breaker = gw.runtime.proxy.breakers["users"]
    breaker.failure()
    assert breaker.state == "open"
    time.sleep(0.25)
    assert breaker.state == "half-open"


def test_half_open_trial_with_a_non_latin1_subject_releases_the_slot(raw_gateway) -> None:
    gw, up = raw_gateway(GATEWAY_BREAKER_THRESHOLD="1", GATEWAY_BREAKER_COOLDOWN="0.2")
    open_breaker(gw, up)
    trial = gw("GET", "/api/users/me", headers={"authorization": f"Bearer {token(sub='李雷')}"})
    assert trial["statusCode"] == 200
    assert gw("GET", "/api/users/next", headers=ALICE)["statusCode"] == 200


def test_half_open_trial_ending_in_an_unexpected_error_releases_the_slot(raw_gateway) -> None:
    gw, up = raw_gateway(GATEWAY_BREAKER_THRESHOLD="1", GATEWAY_BREAKER_COOLDOWN="0.2")
    open_breaker(gw, up)
    real = gw.runtime.http.request

    async def boom(*args, **kwargs):
        raise RuntimeError("not an HttpError")

    gw.runtime.proxy.http.request = boom
    assert gw("GET", "/api/users/trial", headers=ALICE)["statusCode"] == 500
    gw.runtime.proxy.http.request = real
    result = gw("GET", "/api/users/after", headers=ALICE)
    assert result["statusCode"] == 200, result  # the old code kept the slot: 503 until restart


@pytest.mark.parametrize("bad", [b"\r", b"\x00", b"\n x"])
def test_cr_lf_nul_in_an_upstream_header_value_is_a_502_and_never_logged(
    raw_gateway, bad: bytes
) -> None:
    secret = b"sid=UPSTREAM-SESSION-COOKIE-9f8e7d"
    answer = (
        b"HTTP/1.1 200 OK\r\nSet-Cookie: " + secret + bad + b"Y: 1\r\nContent-Length: 2\r\n\r\nok"
    )
    gw, _ = raw_gateway(lambda c, i, r: answer, GATEWAY_UPSTREAM_RETRIES="0")
    result = gw("GET", "/api/users/x", headers=ALICE)
    if bad == b"\n x":  # obs-fold (RFC 9112 5.2): unfolded to a space, a valid value
        assert result["statusCode"] == 200 and result["cookies"] == [(secret + b" xY: 1").decode()]
        return
    assert result["statusCode"] == 502 and error_of(result)["code"] == "bad_gateway"
    text = gw.out.getvalue()
    assert "UPSTREAM-SESSION-COOKIE" not in text and "UPSTREAM-SESSION-COOKIE" not in result["body"]
    (line,) = gw.access_lines()
    assert (line["status"], line["error_code"]) == (502, "bad_gateway")


def test_other_control_characters_and_non_utf8_values_are_dropped(raw_gateway) -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nX-Esc: a\x1bb\r\nX-Del: a\x7f\r\nX-Latin: caf\xe9\r\n"
        b"X-Utf8: caf\xc3\xa9\r\nX-Fine: yes\r\nContent-Length: 2\r\n\r\nok"
    )
    gw, _ = raw_gateway(lambda c, i, r: answer)
    result = gw("GET", "/api/users/x", headers=ALICE)
    assert result["statusCode"] == 200
    headers = result["headers"]
    assert "x-esc" not in headers and "x-del" not in headers and "x-latin" not in headers
    assert headers["x-fine"] == "yes" and headers["x-utf8"] == "café"
    (warning,) = [line for line in gw.logs() if line["level"] == "WARNING"]
    assert warning["headers"] == ["x-esc", "x-del", "x-latin"]
    assert "a\x1bb" not in gw.out.getvalue()


@pytest.mark.parametrize(
    "headers",
    [{"x-a\r\nx-injected": "1"}, {"x-a\nx-injected": "1"}, {"x a": "1"}, {"x-a": "1\r\nx-injected: 1"},
     {"x-a": "a\x00b"}, {"x-a": "a\x1bb"}],
)  # fmt: skip
def test_invalid_client_header_is_a_400_and_nothing_is_sent(raw_gateway, headers) -> None:
    gw, up = raw_gateway()
    result = gw("GET", "/api/users/x", headers={**ALICE, **headers})
    assert result["statusCode"] == 400 and error_of(result)["code"] == "bad_header"
    assert up.requests == []


def test_forwarding_headers_from_the_client_are_replaced(raw_gateway) -> None:
    gw, up = raw_gateway()
    spoofed = {
        "forwarded": "for=6.6.6.6;proto=https",
        "x-real-ip": "6.6.6.6",
        "x-forwarded-for": "6.6.6.6",
        "x-forwarded-host": "admin.internal",
        "x-forwarded-proto": "https",
        "x-forwarded-port": "8443",
        "true-client-ip": "6.6.6.6",
        "x-http-method-override": "DELETE",
        "x-original-url": "/admin",
        "x-rewrite-url": "/admin",
        "x-kept": "yes",
    }
    assert gw("GET", "/api/users/x", headers={**ALICE, **spoofed})["statusCode"] == 200
    seen = dict(up.requests[-1].headers)
    for name in spoofed:
        if name not in ("x-kept", "x-forwarded-for"):
            assert name not in seen, name
    assert seen["x-forwarded-for"] == "192.0.2.1"  # the event's requestContext.http.sourceIp
    assert seen["x-kept"] == "yes"


@pytest.mark.parametrize(
    ("client_path", "forwarded"),
    [
        ("/api/users/100%2541", "/100%2541"),  # Mangum made this /100A
        ("/api/users/a%3Bb%2Bc%26d%3De%40f", "/a%3Bb%2Bc%26d%3De%40f"),
        ("/api/users/caf%C3%A9/x%20y", "/caf%C3%A9/x%20y"),
        ("/api/users/a%23b", "/a%23b"),  # a decoded "#" must not become a fragment upstream
        ("/api/users/v1..2/.well-known", "/v1..2/.well-known"),
    ],
)
def test_lambda_path_forwards_what_the_client_meant(raw_gateway, client_path, forwarded) -> None:
    gw, up = raw_gateway()
    result = gw("GET", client_path, headers=ALICE)
    assert result["statusCode"] == 200
    assert up.requests[-1].target == forwarded


def test_lambda_path_what_api_gateway_decoded_is_not_recoverable(raw_gateway) -> None:
    """API Gateway delivers a client's %2F as "/": the gateway cannot tell, and says so in its
    docs; under uvicorn (tests/gateway/test_uvicorn.py) an encoded separator is a 400."""
    gw, up = raw_gateway()
    assert gw("GET", "/api/users/a%2Fb", headers=ALICE)["statusCode"] == 200
    assert up.requests[-1].target == "/a/b"


def test_binary_answer_over_lambdas_payload_limit_is_a_json_502(raw_gateway) -> None:
    big = b"\x89PNG" + bytes(range(256)) * (5 * 4096)  # 5 MiB + 4 bytes: ~7 MB in base64
    answer = (
        f"HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: {len(big)}\r\n\r\n".encode()
        + big
    )
    gw, _ = raw_gateway(lambda c, i, r: answer)
    result = gw("GET", "/api/users/avatar", headers=ALICE)
    assert result["statusCode"] == 502 and error_of(result)["code"] == "upstream_response_too_large"
    assert len(json.dumps(result)) < 1000
    (line,) = gw.access_lines()
    assert (line["status"], line["upstream_status"], line["error_code"]) == (
        502,
        200,
        "upstream_response_too_large",
    )
    errors = [x for x in gw.logs() if x["level"] == "ERROR"]
    assert errors and "6291456" in errors[0]["message"]


@pytest.mark.parametrize(
    ("content_type", "body", "fits"),
    [
        ("image/png", bytes(range(256)) * (4 * 4096), True),  # 4 MiB -> 5.6 MB of base64
        ("application/json", b"[" + b"1," * 3_000_000 + b"1]", True),  # 6 MB of plain text
        ("application/json", b'"' * 3_200_000, False),  # JSON-escaped to 6.4 MB
        ("application/octet-stream", b"x" * 4_800_000, False),  # 6.4 MB in base64
    ],
    ids=["binary-4MiB", "json-6MB", "json-escaped-6.4MB", "binary-6.4MB"],
)
def test_lambda_payload_limit_counts_the_encoded_response(
    raw_gateway, content_type: str, body: bytes, fits: bool
) -> None:
    answer = (
        f"HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body
    gw, _ = raw_gateway(lambda c, i, r: answer)
    result = gw("GET", "/api/users/blob", headers=ALICE)
    if fits:
        assert result["statusCode"] == 200 and body_of(result) == body
        assert len(json.dumps(result)) <= lambda_payload.LIMIT
    else:
        assert result["statusCode"] == 502
        assert error_of(result)["code"] == "upstream_response_too_large"


def test_upstream_address_and_reason_stay_out_of_the_client_body(make_gateway) -> None:
    port = free_port()
    gw = make_gateway(
        GATEWAY_UPSTREAM_USERS=f"http://127.0.0.1:{port}", GATEWAY_UPSTREAM_RETRIES="0"
    )
    result = gw("GET", "/api/users/x", headers=ALICE)
    assert result["statusCode"] == 502
    assert str(port) not in result["body"] and "127.0.0.1" not in result["body"]
    assert "refused" not in result["body"].lower()
    (error,) = [x for x in gw.logs() if x["level"] == "ERROR"]
    assert f"127.0.0.1:{port}" in error["message"]  # the details are in the error line


def test_timeout_message_is_generic(raw_gateway) -> None:
    gw, _ = raw_gateway(lambda c, i, r: Action(hang=True), GATEWAY_UPSTREAM_TIMEOUT="0.3")
    result = gw("GET", "/api/users/slow", headers=ALICE)
    assert result["statusCode"] == 504
    assert error_of(result)["message"] == "the upstream service did not answer in time"


def status_503(retry_after: str | None):
    extra = f"Retry-After: {retry_after}\r\n" if retry_after is not None else ""
    return lambda c, i, r: f"HTTP/1.1 503 Busy\r\n{extra}Content-Length: 4\r\n\r\nbusy".encode()


def test_503_with_a_long_retry_after_is_passed_on_not_retried_and_not_a_failure(
    raw_gateway,
) -> None:
    gw, up = raw_gateway(status_503("30"), GATEWAY_BREAKER_THRESHOLD="2")
    for i in range(4):
        result = gw("GET", f"/api/users/busy{i}", headers=ALICE)
        assert result["statusCode"] == 503 and result["headers"]["retry-after"] == "30"
    assert [r.target for r in up.requests] == ["/busy0", "/busy1", "/busy2", "/busy3"]
    assert gw.runtime.proxy.breakers["users"].state == "closed"


def test_503_without_retry_after_still_counts_as_a_failure(raw_gateway) -> None:
    gw, up = raw_gateway(
        status_503(None), GATEWAY_BREAKER_THRESHOLD="2", GATEWAY_UPSTREAM_RETRIES="0"
    )
    for _ in range(2):
        gw("GET", "/api/users/busy", headers=ALICE)
    assert gw.runtime.proxy.breakers["users"].state == "open"


@pytest.mark.parametrize("retry_after", ["1", "date"])
def test_short_retry_after_is_waited_for_then_retried(raw_gateway, retry_after: str) -> None:
    def script(conn: int, index: int, req: Request) -> bytes:
        if len(up.requests) == 1:
            # An HTTP-date has 1 s resolution: the next whole second but one, 1 to 2 s away.
            when = math.ceil(time.time()) + 1
            value = formatdate(when, usegmt=True) if retry_after == "date" else "1"
            return status_503(value)(conn, index, req)
        return echo_target(conn, index, req)

    gw, up = raw_gateway(script)
    result = gw("GET", "/api/users/later", headers=ALICE)
    assert result["statusCode"] == 200
    first, second = up.requests
    assert second.at - first.at >= 0.9  # waited, not "at once"


def test_connect_errors_are_retried_for_post_too(make_gateway) -> None:
    gw = make_gateway(GATEWAY_UPSTREAM_USERS=f"http://127.0.0.1:{free_port()}")
    assert gw("POST", "/api/users/x", headers=ALICE, body=b"{}")["statusCode"] == 502
    assert gw.runtime.proxy.breakers["users"].failures == 3  # nothing was sent: safe to retry


def test_unauthenticated_request_is_rejected_before_its_body_is_read(raw_gateway) -> None:
    gw, up = raw_gateway()
    reads = []
    app = gw.app

    async def counting_app(scope, receive, send):
        async def counted():
            reads.append(1)
            return await receive()

        await app(scope, counted, send)

    from gateway.lambda_adapter import lambda_handler

    handler = lambda_handler(counting_app)
    from tests.gateway.support import LambdaContext, event

    result = handler(event("POST", "/api/users/x", body=b"x" * 1000), LambdaContext())
    assert result["statusCode"] == 401 and reads == []
    result = handler(
        event("POST", "/api/users/x", headers=ALICE, body=b"x" * 1000), LambdaContext()
    )
    assert result["statusCode"] == 200 and reads
