"""The upstream client against raw-socket upstreams that misbehave, one scripted case each.

The framing verdicts are RFC 9112's (section numbers in the cases); what a pooled connection
may serve is checked by sending a second request and asking the upstream what it answered.
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from gateway.http_client import (
    ConnectionLost,
    HttpClient,
    ProtocolError,
    RequestEncodingError,
    ResponseTooLarge,
)
from tests.gateway.rawsock import Action, RawUpstream, Request, echo_target, ok


def run(coro):
    return asyncio.run(coro)


async def two_requests(
    port: int,
    first: tuple[str, str] = ("GET", "/first"),
    second: tuple[str, str] = ("GET", "/second"),
) -> tuple[object, object]:
    """The first request's outcome (a Response or the exception), then the second's."""
    client = HttpClient()
    out = []
    for method, target in (first, second):
        try:
            out.append(
                await client.request(method, "http", "127.0.0.1", port, target, [], timeout=3)
            )
        except Exception as exc:
            out.append(exc)
    await client.aclose()
    return out[0], out[1]


def first_then_echo(first: bytes | Action):
    """Connection 0's first request gets ``first``; everything else an honest echo."""

    def script(conn: int, index: int, req: Request) -> bytes | Action:
        return first if (conn, index) == (0, 0) else echo_target(conn, index, req)

    return script


# Each: first response bytes (connection 0, request 0) -> expected verdict for request 1.
# Whatever the verdict, request 2 must get its own answer ("GET /second").
FRAMING_CASES = {
    # RFC 9112 6.3 (5): differing Content-Length values are unrecoverable. The old client kept
    # the last value (2) and left 95 bytes in the pool for the next user.
    "conflicting content-length": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 97\r\nContent-Length: 2\r\n\r\nhi"
        + ok(b"previous user's answer?q=secret"),
        ProtocolError,
    ),
    # 7.1: chunk-size = 1*HEXDIG; int(x, 16) accepted both of these.
    "chunk size 0x5": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
        ProtocolError,
    ),
    "chunk size 1_0": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\n0123456789abcdef\r\n0\r\n\r\n",
        ProtocolError,
    ),
    # 6.1: only "chunked" is understood here; endswith("chunked") took "xchunked" as chunked.
    "transfer-encoding xchunked": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ProtocolError,
    ),
    # 6.1: Transfer-Encoding with Content-Length "ought to be handled as an error".
    "transfer-encoding with content-length": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ProtocolError,
    ),
    # 4: status-code = 3DIGIT; the old client read "2000" as 200.
    "status 2000": (b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok", ProtocolError),
    # 5.5 (RFC 9110): CR, LF or NUL inside a field value.
    "NUL in a header value": (
        b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=s3cr3t\x00x\r\nContent-Length: 2\r\n\r\nok",
        ProtocolError,
    ),
    "CR in a header value": (
        b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=s3cr3t\rX-Injected: 1\r\nContent-Length: 2\r\n\r\nok",
        ProtocolError,
    ),
    "space before the colon": (
        b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
        ProtocolError,
    ),
    # A well-framed answer followed by bytes nobody asked for: the answer is fine, the
    # connection is not (the extra bytes were a second response waiting for the next user).
    "leftover bytes": (ok(b"one") + ok(b"stale answer for someone else"), 200),
    "chunked with trailers": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n0\r\nX-T: 1\r\n\r\n",
        200,
    ),
    # Whole heads over 64 KiB (h11 caps only incomplete ones); a 101 nobody asked for.
    "70 KB head": (
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\nContent-Length: 0\r\n\r\n",
        ProtocolError,
    ),
    "unasked 101": (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n" + ok(b"x"),
        ProtocolError,
    ),
    "close-delimited": (Action(send=b"HTTP/1.1 200 OK\r\n\r\nuntil close", close=True), 200),
}


@pytest.mark.parametrize("case", list(FRAMING_CASES))
def test_framing_verdicts_and_no_bytes_cross_requests(case: str) -> None:
    first, expected = FRAMING_CASES[case]
    with RawUpstream(first_then_echo(first)) as up:
        one, two = run(two_requests(up.port))
    if expected is ProtocolError:
        assert isinstance(one, ProtocolError), one
    else:
        assert one.status == expected and type(one.body) is bytes, one
    assert two.status == 200 and two.body == b"GET /second", two


@pytest.mark.parametrize("status", [204, 304])
def test_body_on_a_bodiless_status_never_reaches_the_next_request(status: int) -> None:
    poison = ok(b"poison")  # a whole response: the old client served it to the next request
    first = f"HTTP/1.1 {status} X\r\nContent-Length: {len(poison)}\r\n\r\n".encode() + poison
    with RawUpstream(first_then_echo(first)) as up:
        one, two = run(two_requests(up.port))
    assert one.status == status and one.body == b""
    assert two.body == b"GET /second"


def test_body_on_a_head_answer_never_reaches_the_next_request() -> None:
    first = ok(b"a body a HEAD answer must not have")
    with RawUpstream(first_then_echo(first)) as up:
        one, two = run(two_requests(up.port, first=("HEAD", "/first")))
    assert one.status == 200 and one.body == b""
    assert two.body == b"GET /second"


def test_bytes_arriving_while_idle_retire_the_connection() -> None:
    """An answer, then (after the client checked the connection in) an unasked second one."""
    first = Action(send=ok(b"one"), then_sleep=0.1, later=ok(b"unasked"))
    with RawUpstream(first_then_echo(first)) as up:

        async def scenario() -> tuple[object, object]:
            client = HttpClient()
            one = await client.request("GET", "http", "127.0.0.1", up.port, "/first", [])
            await asyncio.sleep(0.3)  # the unasked bytes arrive while the connection is idle
            two = await client.request("GET", "http", "127.0.0.1", up.port, "/second", [])
            await client.aclose()
            return one, two

        one, two = run(scenario())
    assert one.body == b"one" and two.body == b"GET /second"
    assert up.connections == 2


def test_bytes_unread_by_the_loop_are_found_at_checkout() -> None:
    """The event loop has not run since the bytes arrived (as after a Lambda thaw): the
    zero-timeout poll at check-out still sees them."""
    first = Action(send=ok(b"one"), then_sleep=0.05, later=ok(b"unasked"))
    with RawUpstream(first_then_echo(first)) as up:

        async def scenario() -> tuple[object, object]:
            client = HttpClient()
            one = await client.request("GET", "http", "127.0.0.1", up.port, "/first", [])
            time.sleep(0.3)  # blocks the loop: nothing is read into the connection's buffer
            two = await client.request("GET", "http", "127.0.0.1", up.port, "/second", [])
            await client.aclose()
            return one, two

        one, two = run(scenario())
    assert two.body == b"GET /second" and up.connections == 2


def test_stale_pooled_connection_is_found_before_writing() -> None:
    """The upstream closes an idle keep-alive connection: the next request goes out on a new
    connection and the old one never sees it (no chance of a half-sent POST)."""
    script = lambda conn, index, req: Action(send=echo_target(conn, index, req), close=True)  # noqa: E731
    # A close after answering, but the answer says keep-alive (HTTP/1.1 default).
    with RawUpstream(script) as up:

        async def scenario() -> object:
            client = HttpClient()
            await client.request("GET", "http", "127.0.0.1", up.port, "/first", [])
            time.sleep(0.1)  # FIN arrives; the loop does not run
            resp = await client.request("POST", "http", "127.0.0.1", up.port, "/pay", [], b"{}")
            await client.aclose()
            return resp

        resp = run(scenario())
    assert resp.body == b"POST /pay"
    assert [(r.conn, r.target) for r in up.requests] == [(0, "/first"), (1, "/pay")]


def dies_after_reading_second(conn: int, index: int, req: Request) -> bytes | Action:
    """Connection 0 answers its first request, then reads (and executes) the second and dies
    without answering: the race a stale check cannot close."""
    if conn == 0 and index == 1:
        return Action(close=True)
    return echo_target(conn, index, req)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_non_idempotent_request_is_never_sent_twice(method: str) -> None:
    with RawUpstream(dies_after_reading_second) as up:
        _, two = run(two_requests(up.port, second=(method, "/charge")))
    assert isinstance(two, ConnectionLost), two
    assert up.executed("/charge") == 1  # the old client sent it again on a new connection


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_idempotent_request_is_retried_once_on_a_new_connection(method: str) -> None:
    with RawUpstream(dies_after_reading_second) as up:
        _, two = run(two_requests(up.port, second=(method, "/thing")))
    assert two.status == 200 and two.body == f"{method} /thing".encode()
    assert up.executed("/thing") == 2 and up.connections == 2


def test_post_may_opt_in_to_the_stale_retry() -> None:
    """Callers that know a POST is safe to repeat (the AWS JSON APIs) say so."""
    with RawUpstream(dies_after_reading_second) as up:

        async def scenario() -> object:
            client = HttpClient()
            await client.request("GET", "http", "127.0.0.1", up.port, "/first", [])
            resp = await client.request(
                "POST", "http", "127.0.0.1", up.port, "/x", [], b"{}", idempotent=True
            )
            await client.aclose()
            return resp

        assert run(scenario()).status == 200


def test_fresh_connection_dying_is_not_retried() -> None:
    with RawUpstream(lambda c, i, r: Action(close=True)) as up:
        one, _ = run(two_requests(up.port))
    assert isinstance(one, ConnectionLost)
    assert up.executed("/first") == 1


def test_response_over_the_cap() -> None:
    with RawUpstream(lambda c, i, r: ok(b"x" * 1000)) as up:

        async def scenario() -> object:
            client = HttpClient()
            try:
                return await client.request(
                    "GET", "http", "127.0.0.1", up.port, "/big", [], max_body=999
                )
            except ResponseTooLarge as exc:
                return exc
            finally:
                await client.aclose()

        assert isinstance(run(scenario()), ResponseTooLarge)


@pytest.mark.parametrize(
    "headers",
    [
        [("x-user-id", "李雷")],
        [("x-a", "1\r\nx-injected: 1")],
        [("x\r\ny", "1")],
        [("x-a", "a\x00")],
    ],
)
def test_request_that_cannot_be_encoded_is_a_typed_error_and_nothing_is_sent(headers) -> None:
    with RawUpstream() as up:

        async def scenario() -> object:
            client = HttpClient()
            try:
                return await client.request("GET", "http", "127.0.0.1", up.port, "/", headers)
            except RequestEncodingError as exc:
                return exc

        result = run(scenario())
    assert isinstance(result, RequestEncodingError)
    assert "李" not in str(result) and "injected" not in str(result)
    assert up.requests == []


def test_error_text_never_quotes_the_offending_value() -> None:
    first = b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=TOPSECRET\x00\r\nContent-Length: 0\r\n\r\n"
    with RawUpstream(first_then_echo(first)) as up:
        one, _ = run(two_requests(up.port))
    assert isinstance(one, ProtocolError) and "TOPSECRET" not in str(one)


def test_reset_after_request_is_a_protocol_error() -> None:
    with RawUpstream(
        lambda c, i, r: Action(send=b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", reset=True)
    ) as up:
        one, _ = run(two_requests(up.port))
    assert isinstance(one, ProtocolError)


def test_ipv6_literal_host_header() -> None:
    from gateway.config import load_settings
    from gateway.http_client import host_header

    assert host_header("::1", 8080, "http") == "[::1]:8080"
    assert host_header("::1", 80, "http") == "[::1]"
    assert host_header("example.com", 443, "https") == "example.com"
    env = {
        "GATEWAY_JWT_SECRET": "x" * 32,
        "GATEWAY_RATE_LIMIT_TABLE": "rate",
        "GATEWAY_SESSIONS_TABLE": "sessions",
        "GATEWAY_UPSTREAM_USERS": "http://[::1]:9001/base",
    }
    (users,) = load_settings(env).upstreams
    assert (users.host, users.port, users.host_header) == ("::1", 9001, "[::1]:9001")


def test_connect_refused_is_retryable_and_names_the_address_for_logs() -> None:
    from gateway.http_client import ConnectError

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> object:
        try:
            return await HttpClient().request("GET", "http", "127.0.0.1", port, "/", [])
        except ConnectError as exc:
            return exc

    exc = run(scenario())
    assert isinstance(exc, ConnectError) and exc.retryable and f"127.0.0.1:{port}" in str(exc)
