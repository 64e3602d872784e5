"""A hostile network against the gateway: each test is a weakness found by review, reproduced
with real parts (raw-socket upstreams on 127.0.0.1, the Lambda handler with API Gateway HTTP API
v2 events, moto over HTTP)."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time

import jwt
import pytest

from tests.conftest import free_port
from tests.gateway.rawsock import RawUpstream, echo_target
from tests.gateway.support import SECRET, token

ALICE = {"authorization": f"Bearer {token(sub='alice', exp_in=3600)}"}


def error_of(result: dict) -> dict:
    return json.loads(result["body"])["error"]


class EarlyAnswerUpstream:
    """Reads a request head, answers ``413`` at once (as nginx does for a body over
    ``client_max_body_size``) and then reads nothing for ``hold`` seconds before closing: the
    request body can never be written in full. RFC 9112 9.5 / 9110 15: a client must read a
    final response that arrives while it is still sending."""

    ANSWER = (
        b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!"
    )

    def __init__(self, hold: float = 4.0) -> None:
        self.hold = hold
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.heads: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.heads.append(data.partition(b"\r\n\r\n")[0])
                conn.sendall(self.ANSWER)
                time.sleep(self.hold)

    def close(self) -> None:
        self.sock.close()


def test_final_answer_sent_before_the_body_is_read_reaches_the_client(make_gateway) -> None:
    """The client awaits ``drain()`` before reading anything: a large upload that the upstream
    refuses early (413 without reading the body) becomes a 504 after the whole timeout, and is
    counted as an upstream failure by the breaker (an upstream that correctly refuses big
    uploads gets its circuit opened)."""
    up = EarlyAnswerUpstream()
    try:
        gw = make_gateway(
            GATEWAY_UPSTREAM_USERS=up.url,
            GATEWAY_MAX_BODY_BYTES="4000000",
            GATEWAY_UPSTREAM_RETRIES="0",
        )
        started = time.monotonic()
        result = gw("POST", "/api/users/upload", headers=ALICE, body=b"x" * 4_000_000)
        elapsed = time.monotonic() - started
    finally:
        up.close()
    assert up.heads, "the upstream never saw the request"
    assert result["statusCode"] == 413, (result["statusCode"], result.get("body"), elapsed)
    assert gw.runtime.proxy.breakers["users"].failures == 0


@pytest.mark.parametrize("status", [600, 999])
def test_status_outside_100_to_599_is_not_forwarded(make_gateway, status: int) -> None:
    """RFC 9110 15: "Values outside the range 100..599 are invalid ... A client that receives a
    response with an invalid status code SHOULD process the response as if it had a 5xx".
    h11 accepts any three digits; the gateway forwards them (API Gateway then answers its own
    500 while the access line records the upstream's status as the answer)."""
    answer = f"HTTP/1.1 {status} Weird\r\nContent-Length: 2\r\n\r\nok".encode()
    with RawUpstream(lambda c, i, r: answer) as up:
        gw = make_gateway(GATEWAY_UPSTREAM_USERS=up.url, GATEWAY_UPSTREAM_RETRIES="0")
        result = gw("GET", "/api/users/x", headers=ALICE)
    assert result["statusCode"] == 502, result["statusCode"]
    assert error_of(result)["code"] == "bad_gateway"


def test_upstream_cannot_spoof_the_gateways_rate_limit_headers(make_gateway) -> None:
    """The gateway asserts ``RateLimit``/``RateLimit-Policy`` itself (as it does X-Request-ID,
    whose upstream copy is dropped); an upstream's copy is forwarded too, and Mangum joins the
    two into one value, so the client reads the upstream's numbers first."""
    answer = (
        b'HTTP/1.1 200 OK\r\nRateLimit: "default";r=1000000;t=1\r\n'
        b'RateLimit-Policy: "default";q=1000000;w=1\r\nContent-Length: 2\r\n\r\nok'
    )
    with RawUpstream(lambda c, i, r: answer) as up:
        gw = make_gateway(GATEWAY_UPSTREAM_USERS=up.url)
        result = gw("GET", "/api/users/x", headers=ALICE)
    assert result["statusCode"] == 200
    assert "1000000" not in result["headers"]["ratelimit"], result["headers"]["ratelimit"]
    assert "1000000" not in result["headers"]["ratelimit-policy"]


def test_session_store_errors_keep_aws_details_out_of_the_client_body(make_gateway) -> None:
    """Item 9: client errors carry a code and a generic message. ``POST /auth/sessions`` with
    the sessions table unreachable answers the AwsUnavailable text, which names the DynamoDB
    endpoint's host:port and the connection error."""
    dead = free_port()
    gw = make_gateway(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{dead}", GATEWAY_RATE_LIMIT_FAILURE_MODE="open"
    )
    result = gw("POST", "/auth/sessions", headers=ALICE)
    assert result["statusCode"] == 503, result
    body = result["body"]
    assert str(dead) not in body and "127.0.0.1" not in body, body
    assert "refused" not in body.lower(), body


def test_session_lookup_errors_keep_aws_details_out_of_the_client_body(make_gateway) -> None:
    """Same, on the proxied path: a session token while DynamoDB is unreachable answers
    ``auth_unavailable`` with "session store unavailable: GetItem: connect to host:port ..."."""
    dead = free_port()
    gw = make_gateway(AWS_ENDPOINT_URL=f"http://127.0.0.1:{dead}")
    result = gw("GET", "/api/users/x", headers={"authorization": "Bearer gws_" + "a" * 43})
    assert result["statusCode"] == 503, result
    body = result["body"]
    assert str(dead) not in body and "127.0.0.1" not in body, body


def test_alg_with_a_quote_is_not_injected_into_www_authenticate(make_gateway) -> None:
    """The rejected ``alg`` is quoted with ``repr`` inside the challenge's quoted-string: a
    ``"`` in it closes error_description and adds parameters of the attacker's choosing
    (RFC 9110 11.6.1 / 5.6.4: a quoted-string escapes ``"`` and ``\\``)."""
    forged = jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    header = base64.urlsafe_b64encode(json.dumps({"alg": 'x",realm="evil'}).encode())
    forged = header.rstrip(b"=").decode() + "." + forged.split(".", 1)[1]
    gw = make_gateway()
    result = gw("GET", "/api/users/x", headers={"authorization": f"Bearer {forged}"})
    assert result["statusCode"] == 401
    challenge = result["headers"]["www-authenticate"]
    assert 'realm="evil' not in challenge, challenge


def test_non_latin1_alg_is_a_401_not_a_500(make_gateway) -> None:
    """Issue 11 names it: an ``alg`` with a non-Latin-1 character gives 500 (the challenge
    header cannot be encoded)."""
    forged = jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    header = base64.urlsafe_b64encode(json.dumps({"alg": "李"}).encode())
    forged = header.rstrip(b"=").decode() + "." + forged.split(".", 1)[1]
    gw = make_gateway()
    result = gw("GET", "/api/users/x", headers={"authorization": f"Bearer {forged}"})
    assert result["statusCode"] == 401, result
    assert error_of(result)["code"] == "unauthorized"


@pytest.fixture
def echo_upstream():
    with RawUpstream(echo_target) as up:
        yield up


def test_underscore_spellings_of_gateway_headers_are_dropped(make_gateway, echo_upstream) -> None:
    """CGI-style servers (WSGI/Django/Flask, Rack/Rails, PHP) map ``X_HTTP_Method_Override``
    and ``X-HTTP-Method-Override`` to the same ``HTTP_X_HTTP_METHOD_OVERRIDE``; nginx and
    Apache drop header names with ``_`` by default for that reason. The gateway strips the
    ``-`` spellings of what it asserts (GATEWAY_SET) and forwards the ``_`` ones."""
    spoofed = {
        "x_http_method_override": "DELETE",
        "x_real_ip": "6.6.6.6",
        "x_forwarded_host": "admin.internal",
        "x_original_url": "/admin",
        "x_user_id": "admin",
        "x_forwarded_for": "6.6.6.6",
    }
    gw = make_gateway(GATEWAY_UPSTREAM_USERS=echo_upstream.url)
    assert gw("GET", "/api/users/x", headers={**ALICE, **spoofed})["statusCode"] == 200
    seen = {name for name, _ in echo_upstream.requests[-1].headers}
    assert not seen & set(spoofed), sorted(seen & set(spoofed))


def test_a_header_the_client_sent_cannot_open_the_circuit(make_gateway, echo_upstream) -> None:
    """A client header value with trailing whitespace passes the gateway's check (HTAB is
    allowed) but not h11's (field-value has no leading/trailing whitespace, RFC 9110 5.5): the
    request is never sent (RequestEncodingError), yet the proxy counts it as an upstream failure.
    Five such requests from one client open the circuit for every user of the upstream."""
    gw = make_gateway(GATEWAY_UPSTREAM_USERS=echo_upstream.url, GATEWAY_BREAKER_THRESHOLD="5")
    for _ in range(5):
        result = gw("GET", "/api/users/x", headers={**ALICE, "x-note": "trailing\t"})
        assert result["statusCode"] in (200, 400), result["body"]  # the client's doing, not a 502
    assert all(r.header("x-note") == "trailing" for r in echo_upstream.requests)
    result = gw("GET", "/api/users/y", headers=ALICE)
    assert result["statusCode"] == 200, result["body"]


def test_pool_keeps_working_when_descriptors_exceed_fd_setsize(echo_upstream) -> None:
    """A busy uvicorn process has more than 1,024 descriptors open; ``select.select`` cannot
    watch a descriptor numbered 1,024 or more (ValueError), and the idle check treats that as
    "not usable": every pooled connection is thrown away and keep-alive silently stops."""
    import asyncio
    import os
    import resource

    from gateway.http_client import HttpClient

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        pytest.skip("needs RLIMIT_NOFILE >= 1200")
    fillers = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]

    async def two() -> list[int]:
        client = HttpClient()
        statuses = []
        for target in ("/one", "/two"):
            resp = await client.request("GET", "http", "127.0.0.1", echo_upstream.port, target, [])
            statuses.append(resp.status)
        await client.aclose()
        return statuses

    try:
        assert asyncio.run(two()) == [200, 200]
    finally:
        for fd in fillers:
            os.close(fd)
    assert echo_upstream.connections == 1, echo_upstream.connections


def test_connection_answered_before_its_body_was_sent_is_not_pooled() -> None:
    """An upstream answers a large upload at once with a keep-alive 200 and reads nothing more
    for a while: the body is still in the client's write buffer. Reusing that connection would
    queue the next user's request behind bytes the upstream may treat as a request of its own."""
    import asyncio

    from gateway.http_client import HttpClient

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    port = sock.getsockname()[1]
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            accepted.append(1)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            threading.Thread(target=lambda c=conn: (time.sleep(3), c.close()), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()

    async def go() -> list[int]:
        client = HttpClient()
        out = []
        first = await client.request(
            "POST", "http", "127.0.0.1", port, "/up", [], b"x" * 4_000_000, timeout=2
        )
        out.append(first.status)
        second = await client.request("GET", "http", "127.0.0.1", port, "/next", [], timeout=2)
        out.append(second.status)
        await client.aclose()
        return out

    try:
        assert asyncio.run(go()) == [200, 200]
    finally:
        sock.close()
    assert len(accepted) == 2


def test_uvicorn_sends_one_date_and_one_server_header(tables, upstream) -> None:
    """RFC 9110 6.6.1 / 5.3: Date is a singleton field. Under uvicorn the upstream's Date and
    Server are forwarded and uvicorn prepends its own: the client gets two of each (a cache
    computing age from Date picks either)."""
    from tests.gateway.processes import UvicornGateway
    from tests.gateway.support import gateway_env

    answer = (
        b"HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2001 00:00:00 GMT\r\nServer: upstream/1\r\n"
        b"Content-Length: 2\r\n\r\nok"
    )
    with RawUpstream(lambda c, i, r: answer) as raw:
        gw = UvicornGateway(gateway_env(tables, upstream.url, GATEWAY_UPSTREAM_USERS=raw.url))
        try:
            gw.wait_ready()
            request = (
                "GET /api/users/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Authorization: {ALICE['authorization']}\r\n\r\n"
            ).encode()
            with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
                sock.sendall(request)
                reply = b""
                while chunk := sock.recv(65536):
                    reply += chunk
        finally:
            gw.stop()
    head = reply.partition(b"\r\n\r\n")[0].decode("latin-1").lower().split("\r\n")
    assert head[0].startswith("http/1.1 200")
    names = [line.split(":", 1)[0] for line in head[1:]]
    assert names.count("date") == 1 and names.count("server") == 1, head


def test_uvicorn_overlong_utf8_dot_segments_are_rejected(tables, upstream) -> None:
    """``%c0%ae`` is an overlong (invalid, RFC 3629 3: decoders "MUST protect against decoding
    invalid sequences") UTF-8 form of ``.``; lenient decoders (the IIS and Tomcat traversals,
    CVE-2000-0884, CVE-2008-2938) read ``%c0%ae%c0%ae`` as ``..``. The gateway rejects
    ``..``, ``%2e%2e`` and ``..;`` but forwards the overlong spellings unchanged."""
    from tests.gateway.processes import UvicornGateway
    from tests.gateway.support import gateway_env

    with RawUpstream(echo_target) as raw:
        gw = UvicornGateway(gateway_env(tables, upstream.url, GATEWAY_UPSTREAM_USERS=raw.url))
        try:
            gw.wait_ready()
            statuses = {}
            for target in (
                "/api/users/%c0%ae%c0%ae/admin",
                "/api/users/%e0%80%ae%e0%80%ae/admin",
                "/api/users/..%c0%afadmin",
            ):
                request = (
                    f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                    f"Authorization: {ALICE['authorization']}\r\n\r\n"
                ).encode()
                with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
                    sock.sendall(request)
                    reply = b""
                    while chunk := sock.recv(65536):
                        reply += chunk
                statuses[target] = int(reply.split(b" ", 2)[1])
        finally:
            gw.stop()
    assert statuses == dict.fromkeys(statuses, 400), (statuses, [r.target for r in raw.requests])


def test_lone_surrogate_subject_is_not_a_500(make_gateway, echo_upstream) -> None:
    """JSON may spell a lone surrogate (``"\\ud800"``), and PyJWT decodes it into the ``sub``
    string; X-User-ID's percent-encoding (UTF-8, strict) then raises UnicodeEncodeError outside
    every error mapping: a signed token gets 500 "internal" on every proxied request."""
    gw = make_gateway(GATEWAY_UPSTREAM_USERS=echo_upstream.url)
    bearer = {"authorization": "Bearer " + token(sub="user-\ud800")}
    result = gw("GET", "/api/users/me", headers=bearer)
    assert result["statusCode"] in (200, 401), result
