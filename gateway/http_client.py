"""A small keep-alive HTTP/1.1 client on asyncio streams.

Why not aiohttp or httpx: ``bench/upstream_client.py`` measures all three. Importing aiohttp
costs about 100 ms of cold start and httpx about 70 ms on top of FastAPI; this module costs
nothing (asyncio is already loaded) and spends less CPU per request than httpx. It does what a
reverse proxy needs and no more: pooled connections per origin, connect and total timeouts,
Content-Length / chunked / close-delimited bodies, a response size cap, and typed errors that the
proxy maps to 502/504.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # ssl is imported lazily: it costs cold-start time
    import ssl

_MAX_HEAD = 64 * 1024


class HttpError(Exception):
    """Base class. ``retryable`` means the request never reached the server."""

    retryable = False


class ConnectError(HttpError):
    retryable = True


class ConnectTimeout(ConnectError):
    pass


class ReadTimeout(HttpError):
    pass


class ProtocolError(HttpError):
    """Reset, early close, malformed response or a body over the cap."""


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]]  # names lower-cased, order kept
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


class _Conn:
    __slots__ = ("reader", "writer", "idle_since")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self, now: float, keepalive: float) -> bool:
        return (
            not self.writer.is_closing()
            and not self.reader.at_eof()
            and now - self.idle_since < keepalive
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a broken transport must never raise
            self.writer.close()


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
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    ssl=ssl_ctx,
                    server_hostname=host if ssl_ctx else None,
                    limit=_MAX_HEAD,
                )
        except TimeoutError:
            raise ConnectTimeout(f"connect to {host}:{port} timed out after {timeout:g}s") from None
        except OSError as exc:
            raise ConnectError(f"connect to {host}:{port} failed: {exc.strerror or exc}") from None
        return _Conn(reader, writer)

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
        if len(pool) >= self._max_idle:
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
    ) -> Response:
        """Send one request; ``timeout`` bounds the whole exchange including connecting."""
        origin = (scheme, host, port)
        head = _encode_head(method, target, host_header or host, headers, body)
        deadline = time.monotonic() + timeout
        conn = self._checkout(origin)
        reused = conn is not None
        while True:
            if conn is None:
                conn = await self._connect(scheme, host, port, min(connect_timeout, timeout))
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                    response, keep = await _exchange(conn, method, head, body, max_body)
            except TimeoutError:
                conn.close()
                raise ReadTimeout(f"{host}:{port} did not answer within {timeout:g}s") from None
            except _NothingReceived as exc:
                conn.close()
                if reused:  # a pooled connection the server had closed: try once on a new one
                    conn, reused = None, False
                    continue
                raise ProtocolError(
                    f"{host}:{port} closed the connection without a response ({exc})"
                ) from None
            except (
                OSError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                ValueError,
            ) as exc:
                conn.close()
                raise ProtocolError(f"{host}:{port}: {type(exc).__name__}: {exc}") from None
            except BaseException:
                conn.close()
                raise
            if keep:
                self._checkin(origin, conn)
            else:
                conn.close()
            return response

    async def aclose(self) -> None:
        for pool in self._idle.values():
            for conn in pool:
                conn.close()
        self._idle.clear()


class _NothingReceived(Exception):
    pass


def _encode_head(
    method: str, target: str, host: str, headers: list[tuple[str, str]], body: bytes
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"host: {host}"]
    for name, value in headers:
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"content-length: {len(body)}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


async def _exchange(
    conn: _Conn, method: str, head: bytes, body: bytes, max_body: int
) -> tuple[Response, bool]:
    reader, writer = conn.reader, conn.writer
    try:
        writer.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            writer.write(body)
        await writer.drain()
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise _NothingReceived("EOF") from None
        raise
    except (ConnectionResetError, BrokenPipeError) as exc:
        raise _NothingReceived(type(exc).__name__) from None
    status, version, headers = _parse_head(raw)
    while 100 <= status < 200:  # skip 100 Continue and friends
        raw = await reader.readuntil(b"\r\n\r\n")
        status, version, headers = _parse_head(raw)
    connection = ""
    length: int | None = None
    chunked = False
    for name, value in headers:
        if name == "content-length":
            if not value.strip().isdigit():
                raise ValueError(f"bad content-length {value!r}")
            length = int(value)
        elif name == "transfer-encoding":
            chunked = value.strip().lower().endswith("chunked")
        elif name == "connection":
            connection = value.lower()
    keep = version == "HTTP/1.1" and "close" not in connection
    if method == "HEAD" or status in (204, 304):
        data = b""
    elif chunked:
        data = await _read_chunked(reader, max_body)
    elif length is not None:
        if length > max_body:
            raise ValueError(f"response body of {length} bytes is over the {max_body} byte cap")
        data = await reader.readexactly(length)
    else:
        data = await _read_to_eof(reader, max_body)
        keep = False
    return Response(status, headers, data), keep


def _parse_head(raw: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    lines = raw.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise ValueError(f"malformed status line {lines[0][:80]!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ValueError(f"malformed header line {line[:80]!r}")
        headers.append((name.lower(), value.strip()))
    return int(code), version, headers


async def _read_chunked(reader: asyncio.StreamReader, max_body: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        total += size
        if total > max_body:
            raise ValueError(f"response body over the {max_body} byte cap")
        chunk = await reader.readexactly(size + 2)
        if chunk[-2:] != b"\r\n":
            raise ValueError("malformed chunk")
        parts.append(chunk[:-2])


async def _read_to_eof(reader: asyncio.StreamReader, max_body: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while chunk := await reader.read(65536):
        total += len(chunk)
        if total > max_body:
            raise ValueError(f"response body over the {max_body} byte cap")
        parts.append(chunk)
    return b"".join(parts)
