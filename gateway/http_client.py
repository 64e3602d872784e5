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
        self._ssl = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _ssl_context(self):  # noqa: ANN202 - ssl imported lazily
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
        request = _request_event(method, target, host_header or host, headers, body)
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
                    response = await _exchange(conn, request, body, max_body)
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


def _request_event(
    method: str, target: str, host: str, headers: list[tuple[str, str]], body: bytes
) -> h11.Request:
    try:
        wire = [(b"host", host.encode("ascii"))]
        for name, value in headers:
            wire.append((name.encode("ascii"), value.encode("latin-1")))
        if body or method in ("POST", "PUT", "PATCH"):
            wire.append((b"content-length", str(len(body)).encode()))
        return h11.Request(method=method, target=target.encode("ascii"), headers=wire)
    except (UnicodeEncodeError, h11.LocalProtocolError) as exc:
        raise RequestEncodingError(f"request not sent: {_encoding_reason(exc)}") from None


def _encoding_reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeEncodeError):
        return "a header or the target has characters outside latin-1"
    return _reason(exc)


async def _exchange(conn: _Conn, request: h11.Request, body: bytes, max_body: int) -> Response:
    wire = conn.h11
    data = wire.send(request) or b""
    if body:
        data += wire.send(h11.Data(data=body)) or b""
    data += wire.send(h11.EndOfMessage()) or b""
    if conn.transport.is_closing():
        raise _NothingReceived("closed")
    # No waiting for the write to drain: the whole request is in memory already, and an
    # upstream may answer (413, 401) without reading the body; waiting for the write first
    # would turn that answer into a timeout. Unsent bytes keep a connection out of the pool.
    conn.transport.write(data)
    received = 0
    response: h11.Response | None = None
    parts: list[bytes] = []
    total = 0
    while True:
        event = wire.next_event()
        if event is h11.NEED_DATA:
            chunk = await conn.stream.read()
            if not chunk and received == 0:
                raise _NothingReceived("EOF")
            received += len(chunk)
            wire.receive_data(chunk)
            continue
        cls = type(event)
        if cls is h11.Response:
            response = event  # type: ignore[assignment]
            _check_framing(response)  # type: ignore[arg-type]
        elif cls is h11.Data:
            total += len(event.data)  # type: ignore[union-attr]
            if total > max_body:
                raise ResponseTooLarge(f"response body over the {max_body} byte cap")
            parts.append(event.data)  # type: ignore[union-attr]
        elif cls is h11.EndOfMessage:
            assert response is not None
            headers = [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in response.headers
            ]
            return Response(
                response.status_code,
                headers,
                parts[0] if len(parts) == 1 else b"".join(parts),
            )
        elif cls is h11.ConnectionClosed:
            raise ProtocolError("connection closed mid-response")
        # InformationalResponse (100 Continue and friends): skipped


def _check_framing(response: h11.Response) -> None:
    if response.status_code > 599:  # RFC 9110 15: outside 100..599 is invalid (h11 takes 3DIGIT)
        raise ProtocolError("malformed response (status code outside 100-599)")
    te = cl = False
    for name, _ in response.headers:
        if name == b"transfer-encoding":
            te = True
        elif name == b"content-length":
            cl = True
    if te and (cl or response.http_version == b"1.0"):
        raise ProtocolError(
            "malformed response (Transfer-Encoding with Content-Length or on HTTP/1.0)"
        )
