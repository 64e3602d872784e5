"""The gateway's hand-written HTTP/1.1 response framing before h11 (gateway/http_client.py as of
commit 7afe919), kept only as the baseline of ``bench/http_parse.py``. Never import it from the
gateway: it desynchronised pooled connections (see issue 11)."""

# ruff: noqa
from __future__ import annotations

import asyncio


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer) -> None:  # noqa: ANN001
        self.reader = reader
        self.writer = writer


class Response:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


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
