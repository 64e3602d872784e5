"""Differential fuzz of the upstream client's framing, with h11 as the oracle.

Hypothesis builds upstream byte streams from the pieces framing bugs are made of (duplicate and
conflicting Content-Length, Transfer-Encoding spellings, loose chunk sizes, odd status lines,
control characters in values, bodies on bodiless answers, bytes after the answer) and a raw
socket serves them in random segments. The client's verdict must be the oracle's: a
``h11.Connection`` fed the same bytes in memory, plus the two documented stricter rules of
``gateway.http_client`` (Transfer-Encoding with Content-Length, or on HTTP/1.0, is an error).

Second property: whatever the first answer on a connection was, the next request gets its own
answer, never bytes left over from the first.
"""

from __future__ import annotations

import asyncio
import contextlib

import h11
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.http_client import HttpClient, HttpError
from tests.gateway.rawsock import Action, RawUpstream, Request, echo_target, ok

FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

content_lengths = st.sampled_from(
    ["{n}", "{n}", "{n}", "{m}", "+{n}", "0x{n}", " {n} ", "{n}, {n}", "{n},{m}", "", "-1", "1_0"]
)
transfer_encodings = st.sampled_from(
    ["chunked", "Chunked", "gzip, chunked", "xchunked", "chunked, gzip", "identity", " chunked"]
)
chunk_sizes = st.sampled_from(["{x}", "{x}", "{X}", "0x{x}", "{x};ext=1", " {x}", "{x} ", "+{x}"])
values = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12),
    st.sampled_from(["a\x00b", "a\rb", "a\x0bb", "a\x1bb", "caf\xe9", "\t tab", "a\x7fb"]),
)
names = st.one_of(
    st.sampled_from(["x-a", "set-cookie", "connection", "content-type", "x-b"]),
    st.sampled_from(["x y", "x\x00y", "(x)", "x\xe9"]),
)


@st.composite
def responses(draw: st.DrawFn) -> bytes:
    version = draw(st.sampled_from(["HTTP/1.1"] * 6 + ["HTTP/1.0", "HTTP/2.0", "HTTP/1.1 "]))
    status = draw(st.sampled_from(["200", "200", "204", "304", "404", "503", "2000", "20", "abc"]))
    body = draw(st.binary(max_size=40))
    chunked = draw(st.booleans())
    headers: list[tuple[str, str]] = []
    n, m = len(body), len(body) + draw(st.integers(1, 5))
    if chunked:
        headers.append(("Transfer-Encoding", draw(transfer_encodings)))
        if draw(st.integers(0, 4)) == 0:
            headers.append(("Content-Length", str(n)))
    elif draw(st.integers(0, 5)):
        for _ in range(draw(st.integers(1, 2))):
            headers.append(("Content-Length", draw(content_lengths).format(n=n, m=m)))
    for _ in range(draw(st.integers(0, 3))):
        headers.append((draw(names), draw(values)))
    eol = draw(st.sampled_from(["\r\n"] * 8 + ["\n"]))
    informational = "HTTP/1.1 100 Continue\r\n\r\n" if draw(st.integers(0, 5)) == 0 else ""
    head = f"{informational}{version} {status} X{eol}"
    head += "".join(f"{k}: {v}{eol}" for k, v in headers) + eol
    data = head.encode("latin-1")
    if chunked:
        pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
        for piece in pieces:
            size = draw(chunk_sizes).format(x=f"{len(piece):x}", X=f"{len(piece):X}")
            data += size.encode() + b"\r\n" + piece + b"\r\n"
        data += b"0\r\n" + (b"X-Trailer: 1\r\n" if draw(st.booleans()) else b"") + b"\r\n"
    else:
        data += body
    if draw(st.integers(0, 3)) == 0:
        data += draw(st.sampled_from([ok(b"left over"), b"junk", b"\r\n"]))
    return data


def oracle(method: str, data: bytes, eof: bool) -> tuple | str:
    """h11's verdict on ``data`` as the answer to ``method /``: (status, body) or "error";
    "incomplete" when it needs more bytes and the stream has not ended."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target="/", headers=[("host", "u")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    if eof:
        conn.receive_data(b"")
    response, body = None, b""
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                return "incomplete"
            if isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                return "error"
    except h11.RemoteProtocolError:
        return "error"
    names = [k for k, _ in response.headers]
    if b"transfer-encoding" in names and (
        b"content-length" in names or response.http_version == b"1.0"
    ):
        return "error"  # gateway.http_client's stricter rule (RFC 9112 6.1)
    return response.status_code, body


def client_verdict(port: int, method: str, timeout: float = 2.0) -> tuple | str:
    async def go() -> tuple | str:
        client = HttpClient()
        try:
            resp = await client.request(method, "http", "127.0.0.1", port, "/", [], timeout=timeout)
        except HttpError:
            return "error"
        finally:
            await client.aclose()
        return resp.status, resp.body

    return asyncio.run(go())


def segments(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@FUZZ
@given(
    data=responses(),
    method=st.sampled_from(["GET", "GET", "HEAD"]),
    cuts=st.lists(st.integers(0, 400), max_size=3),
)
def test_client_agrees_with_h11(data: bytes, method: str, cuts: list[int]) -> None:
    """The stream arrives in random segments, then the upstream closes the connection."""
    script = lambda conn, index, req: Action(send=segments(data, cuts), close=True)  # noqa: E731
    with RawUpstream(script) as up:
        got = client_verdict(up.port, method)
    expected = oracle(method, data, eof=True)
    assert got == expected, (data, got, expected)


@FUZZ
@given(data=responses(), method=st.sampled_from(["GET", "HEAD"]))
def test_pooled_connection_never_serves_a_previous_answer(data: bytes, method: str) -> None:
    complete = oracle(method, data, eof=False) != "incomplete"

    def script(conn: int, index: int, req: Request) -> bytes | Action:
        if (conn, index) == (0, 0):
            return Action(send=data, close=not complete)
        return echo_target(conn, index, req)

    async def go() -> bytes:
        client = HttpClient()
        with contextlib.suppress(HttpError):
            await client.request(method, "http", "127.0.0.1", up.port, "/first", [], timeout=2)
        second = await client.request("GET", "http", "127.0.0.1", up.port, "/second", [], timeout=2)
        await client.aclose()
        return second.body

    with RawUpstream(script) as up:
        assert asyncio.run(go()) == b"GET /second"


header_text = st.text(
    alphabet=st.sampled_from(
        [*"abcXYZ09-_.~!#", " ", "\t", ":", "\r", "\n", "\x00", "\x01", "\x7f", "\xe9", "李"]
    ),
    max_size=8,
)


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "HEAD", "DELETE", "G ET", ""]),
    target=st.sampled_from(["/", "/a?b=1", "/a%20b", "/a b", "/\x7f", "/é"]),
    headers=st.lists(st.tuples(header_text, header_text), max_size=4),
    body=st.binary(max_size=8),
)
def test_request_encoder_agrees_with_h11(method, target, headers, body) -> None:
    """The client writes request heads itself (see ``_encode_request``): whatever it accepts,
    h11 accepts too and serialises to the same bytes; it never accepts what h11 rejects."""
    from gateway.http_client import RequestEncodingError, _encode_request

    try:
        ours = _encode_request(method, target, "upstream:8080", headers, body)
    except (RequestEncodingError, UnicodeEncodeError):
        ours = None
    wire = [("host", "upstream:8080")] + [(n, v.strip(" \t")) for n, v in headers]
    if body or method in ("POST", "PUT", "PATCH"):
        wire.append(("content-length", str(len(body))))
    try:
        conn = h11.Connection(h11.CLIENT)
        theirs = conn.send(h11.Request(method=method, target=target, headers=wire))
    except (h11.LocalProtocolError, UnicodeEncodeError, TypeError):
        theirs = None
    if ours is not None:
        assert theirs is not None and ours.lower() == theirs.lower(), (ours, theirs)
