"""A keep-alive HTTP/1.1 client: asyncio transports for the pool, deadlines and TLS; h11 for the
framing.

Why not aiohttp or httpx: ``bench/upstream_client.py`` measures all three. Importing aiohttp
costs about 100 ms of cold start and httpx about 70 ms on top of FastAPI. This module keeps what
a reverse proxy needs: pooled connections per origin, connect and total timeouts, a response size
cap and typed errors that the proxy maps to 502/504. The bytes on the wire are read and written
by h11 (a sans-IO HTTP/1.1 implementation): a gateway is a security boundary, and hand-written
framing desynchronised pooled connections (a response's leftover bytes served to the next user).

Rules on top of h11, each a reason to close a connection rather than reuse it:

- a response that both h11 and RFC 9112 accept, but with framing doubt: Transfer-Encoding
  together with Content-Length, or Transfer-Encoding in an HTTP/1.0 response (RFC 9112 6.1:
  "ought to be handled as an error") is rejected outright;
- any byte left over after a complete response (a body on a HEAD/204/304 answer, a second
  response nobody asked for) closes the connection; so does any byte, or the end of the stream,
  arriving while the connection sits idle in the pool (checked again at check-out, with a
  zero-timeout poll of the socket, so a stale connection is found before a request is written);
- a pooled connection that dies before any byte of the response arrived is retried once on a new
  connection only for idempotent requests (RFC 9110 9.2.2, RFC 9112 9.3.1); otherwise the caller
  gets ``ConnectionLost``: the request may have been processed, so it is not sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import select
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # ssl is imported lazily: it costs cold-start time
    import ssl

import h11

_MAX_HEAD = 64 * 1024
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class HttpError(Exception):
    """Base class. ``retryable`` means the request surely never reached the server."""

    retryable = False


class ConnectError(HttpError):
    retryable = True


class ConnectTimeout(ConnectError):
    pass


class ReadTimeout(HttpError):
    pass


class RequestEncodingError(HttpError):
    """The request could not be put on the wire (a header name or value HTTP does not allow).
    Nothing was sent."""


class ProtocolError(HttpError):
    """Reset, early close, a response h11 or the rules above reject, or a body over the cap."""


class ConnectionLost(ProtocolError):
    """The connection closed before any byte of the response: the request may have been
    processed (never re-sent unless idempotent)."""


class ResponseTooLarge(ProtocolError):
    """The response body is over the caller's cap."""


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]]  # names lower-cased, order kept, values latin-1 decoded
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


def host_header(host: str, port: int, scheme: str) -> str:
    """The Host header (RFC 9110 7.2) for an origin: IPv6 literals in brackets, the port only
    when it is not the scheme's default."""
    name = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return name if port == default else f"{name}:{port}"


class _Stream(asyncio.Protocol):
    """The transport's bytes and end of stream, for one connection."""

    __slots__ = ("transport", "buffer", "eof", "_waiter")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def read(self) -> bytes:
        """The bytes received so far (waiting for some); b"" at the end of the stream."""
        while not self.buffer and not self.eof:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


class _Conn:
    __slots__ = ("stream", "transport", "h11", "idle_since", "fileno")

    def __init__(self, stream: _Stream) -> None:
        self.stream = stream
        self.transport: asyncio.Transport = stream.transport  # type: ignore[assignment]
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD)
        self.idle_since = 0.0
        sock = self.transport.get_extra_info("socket")
        self.fileno = sock.fileno() if sock is not None else -1

    def usable(self, now: float, keepalive: float) -> bool:
        """Idle, clean and still open: no byte or end of stream arrived since check-in."""
        if (
            self.transport.is_closing()
            or self.stream.eof
            or self.stream.buffer
            or now - self.idle_since >= keepalive
        ):
            return False
        if self.fileno < 0:
            return True
        try:  # readable while idle = the peer closed or sent bytes nobody asked for
            poller = select.poll()  # not select.select: it fails on descriptors >= 1024
            poller.register(self.fileno, select.POLLIN)
            events = poller.poll(0)
        except (OSError, ValueError):
            return False
        return not events

    def reusable(self) -> bool:
        """After a complete exchange: both sides done, keep-alive, nothing left over."""
        conn = self.h11
        if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
            return False
        conn.start_next_cycle()
        return (
            not conn.trailing_data[0]
            and not self.stream.buffer
            and not self.stream.eof
            and not self.transport.get_write_buffer_size()  # an answer before the body was sent
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a broken transport must never raise
            if self.transport.get_write_buffer_size():
                self.transport.abort()  # unsent bytes the peer may never read: do not linger
            else:
                self.transport.close()


class HttpClient:
    """One per process (per event loop). ``request`` is safe to call concurrently."""

    def __init__(self, max_idle_per_origin: int = 64, keepalive: float = 4.0) -> None:
        self._idle: dict[tuple[str, str, int], list[_Conn]] = {}
        self._max_idle = max_idle_per_origin
        self._keepalive = keepalive
        self._ssl: ssl.SSLContext | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _ssl_context(self):  # ssl imported lazily
        if self._ssl is None:
            import ssl

            self._ssl = ssl.create_default_context()
        return self._ssl

    async def _connect(self, scheme: str, host: str, port: int, timeout: float) -> _Conn:
        ssl_ctx = self._ssl_context() if scheme == "https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, stream = await loop.create_connection(
                    _Stream, host, port, ssl=ssl_ctx, server_hostname=host if ssl_ctx else None
                )
        except TimeoutError:
            raise ConnectTimeout(f"connect to {host}:{port} timed out after {timeout:g}s") from None
        except OSError as exc:  # includes ssl.SSLError (certificate, handshake)
            raise ConnectError(f"connect to {host}:{port} failed: {exc.strerror or exc}") from None
        return _Conn(stream)

    def _checkout(self, origin: tuple[str, str, int]) -> _Conn | None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # connections belong to the loop that opened them
            self._idle.clear()
            self._loop = loop
        pool = self._idle.get(origin)
        now = time.monotonic()
        while pool:
            conn = pool.pop()
            if conn.usable(now, self._keepalive):
                return conn
            conn.close()
        return None

    def _checkin(self, origin: tuple[str, str, int], conn: _Conn) -> None:
        pool = self._idle.setdefault(origin, [])
        if len(pool) >= self._max_idle or not conn.reusable():
            conn.close()
            return
        conn.idle_since = time.monotonic()
        pool.append(conn)

    async def request(
        self,
        method: str,
        scheme: str,
        host: str,
        port: int,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        *,
        host_header: str | None = None,
        connect_timeout: float = 2.0,
        timeout: float = 10.0,
        max_body: int = 6 * 1024 * 1024,
        idempotent: bool | None = None,
    ) -> Response:
        """Send one request; ``timeout`` bounds the whole exchange including connecting.

        ``idempotent`` (default: by method) allows one re-send on a new connection when a pooled
        one turns out to be dead before any response byte arrived."""
        origin = (scheme, host, port)
        try:
            head = _encode_request(method, target, host_header or host, headers, body)
        except UnicodeEncodeError:
            raise RequestEncodingError(
                "request not sent: a header has characters outside latin-1"
            ) from None
        retry_stale = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        deadline = time.monotonic() + timeout
        conn = self._checkout(origin)
        reused = conn is not None
        while True:
            if conn is None:
                remaining = max(deadline - time.monotonic(), 0.001)
                conn = await self._connect(scheme, host, port, min(connect_timeout, remaining))
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                    response = await _exchange(conn, method, head, body, max_body)
            except TimeoutError:
                conn.close()
                raise ReadTimeout(f"{host}:{port} did not answer within {timeout:g}s") from None
            except _NothingReceived:
                conn.close()
                if reused and retry_stale:  # a pooled connection the server had closed
                    conn, reused = None, False
                    continue
                raise ConnectionLost(
                    f"{host}:{port} closed the connection before answering"
                    + (" (pooled connection; not re-sent)" if reused else "")
                ) from None
            except h11.ProtocolError as exc:
                conn.close()
                # h11's message may quote the offending bytes (a header value, a cookie): keep
                # only its first words, never the value itself.
                raise ProtocolError(f"{host}:{port}: malformed response ({_reason(exc)})") from None
            except HttpError:
                conn.close()
                raise
            except OSError as exc:
                conn.close()
                raise ProtocolError(f"{host}:{port}: {type(exc).__name__}") from None
            except BaseException:
                conn.close()
                raise
            self._checkin(origin, conn)
            return response

    async def aclose(self) -> None:
        for pool in self._idle.values():
            for conn in pool:
                conn.close()
        self._idle.clear()


class _NothingReceived(Exception):
    pass


_QUOTED = re.compile(r"""bytearray\(|b'|b"|'|"|\(""")


def _reason(exc: Exception) -> str:
    """h11's message up to the first quoted value (h11 quotes the offending bytes)."""
    text = _QUOTED.split(str(exc), maxsplit=1)[0]
    return text.strip().rstrip(":").strip() or type(exc).__name__


TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")  # RFC 9110 5.6.2 token (names, methods)
_FIELD_VALUE = re.compile(
    r"[\t\x20-\x7e\x80-\xff]*"
)  # once stripped: VCHAR, obs-text, inner SP/HTAB
_TARGET = re.compile(r"[\x21-\x7e]+")
_HOST = re.compile(r"[-A-Za-z0-9._~!$&'()*+,;=:\[\]%]+")  # RFC 3986 host [":" port]
_SHADOWS: dict[str, h11.Request] = {}


def _encode_request(
    method: str, target: str, host: str, headers: list[tuple[str, str]], body: bytes
) -> bytes:
    """The request head, serialised here rather than by h11 (whose per-header validation and
    event machinery cost more than the rest of a proxied request's framing). The framing is
    fixed, so there is little to get wrong: the request line, the headers, Content-Length
    (never Transfer-Encoding), the body. Names must be RFC 9110 tokens and values field-values
    (no control characters but HTAB, leading and trailing whitespace removed as RFC 9110 5.5
    says it is not part of the value); a differential test checks every accepted request
    against h11's own serialisation."""
    if (
        TOKEN.fullmatch(method) is None
        or _TARGET.fullmatch(target) is None
        or _HOST.fullmatch(host) is None
    ):
        raise RequestEncodingError("request not sent: bad method, target or host")
    lines = [f"{method} {target} HTTP/1.1\r\nhost: {host}\r\n"]
    for name, value in headers:
        value = value.strip(" \t")
        if TOKEN.fullmatch(name) is None or _FIELD_VALUE.fullmatch(value) is None:
            raise RequestEncodingError("request not sent: a header name or value is not valid")
        lines.append(f"{name}: {value}\r\n")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"content-length: {len(body)}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


def _shadow(method: str) -> h11.Request:
    """What h11 is told was sent: the method (response framing depends on it, HEAD has no
    body), HTTP/1.1, no Connection: close; the bytes it would write are not used."""
    event = _SHADOWS.get(method)
    if event is None:
        event = _SHADOWS[method] = h11.Request(method=method, target="/", headers=[("host", "h")])
    return event


_END = h11.EndOfMessage()


async def _exchange(conn: _Conn, method: str, head: bytes, body: bytes, max_body: int) -> Response:
    wire = conn.h11
    wire.send(_shadow(method))
    wire.send(_END)
    if conn.transport.is_closing():
        raise _NothingReceived("closed")
    # No waiting for the write to drain: the whole request is in memory already, and an
    # upstream may answer (413, 401) without reading the body; waiting for the write first
    # would turn that answer into a timeout. Unsent bytes keep a connection out of the pool.
    conn.transport.write(head + body if len(body) < 65536 else head)
    if len(body) >= 65536:
        conn.transport.write(body)
    chunk = await conn.stream.read()
    if not chunk:
        raise _NothingReceived("EOF")
    wire.receive_data(chunk)
    headers: list[tuple[str, str]] = []
    status = 0
    parts: list[bytes] = []
    total = 0
    while True:
        event = wire.next_event()
        cls = type(event)
        if cls is h11.Data:
            total += len(event.data)  # type: ignore[union-attr]
            if total > max_body:
                raise ResponseTooLarge(f"response body over the {max_body} byte cap")
            parts.append(event.data)  # type: ignore[union-attr]
        elif cls is h11.Response:
            status = event.status_code  # type: ignore[union-attr]
            headers = _checked_headers(event)  # type: ignore[arg-type]
        elif cls is h11.EndOfMessage:
            body = parts[0] if len(parts) == 1 and type(parts[0]) is bytes else b"".join(parts)
            return Response(status, headers, body)
        elif event is h11.NEED_DATA:
            wire.receive_data(await conn.stream.read())
        elif cls is h11.ConnectionClosed:
            raise ProtocolError("connection closed mid-response")
        # InformationalResponse (100 Continue and friends): skipped


def _checked_headers(response: h11.Response) -> list[tuple[str, str]]:
    """The response's headers (names lower-cased), after the framing rule h11 leaves to us:
    Transfer-Encoding with Content-Length, or on HTTP/1.0, is an error (RFC 9112 6.1)."""
    if response.status_code > 599:  # RFC 9110 15: outside 100..599 is invalid (h11 takes 3DIGIT)
        raise ProtocolError("malformed response (status code outside 100-599)")
    raw = response.headers.raw_items()
    # h11 caps a head only while it is incomplete; one that arrived whole is capped here.
    if sum(len(name) + len(value) for name, value in raw) > _MAX_HEAD:
        raise ProtocolError(f"malformed response (head over {_MAX_HEAD} bytes)")
    headers = [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in raw]
    if any(name == "transfer-encoding" for name, _ in headers) and (
        response.http_version == b"1.0" or any(name == "content-length" for name, _ in headers)
    ):
        raise ProtocolError(
            "malformed response (Transfer-Encoding with Content-Length or on HTTP/1.0)"
        )
    return headers
