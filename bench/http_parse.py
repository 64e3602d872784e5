"""What h11 costs the gateway: import time and CPU per upstream response, against the
hand-written framing it replaced (bench/_old_http_parser.py), both measured in this run.

- ``h11_import_ms``: ``import h11`` in a fresh interpreter (median of IMPORT_RUNS);
  ``h11_import_after_fastapi_ms``: the same after FastAPI and Mangum are loaded, which is what
  the Lambda cold start pays (they share ``typing``, ``re`` ...).
- ``parse_us_per_response``: encode one request and frame one response through the client's own
  code path (``gateway.http_client._encode_request`` + ``_exchange`` on a pooled connection,
  bytes already received), for a mix of an upstream JSON answer, a DynamoDB answer and a chunked
  answer; ``parse_us_per_response_old`` runs the old ``_encode_head`` + ``_exchange`` on the
  same bytes; ``parse_ratio_vs_old`` is new / old.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _support import median

IMPORT_RUNS = 7
ROUNDS = 5
PER_ROUND = 3000

JSON_BODY = b'{"id": 42, "name": "' + b"x" * 280 + b'", "ok": 1}'
DDB_BODY = b'{"Attributes":{"c":{"N":"7"},"window_start":{"N":"1795514400"}}}'
RESPONSES = {
    "upstream_json": (
        b"HTTP/1.1 200 OK\r\nServer: BaseHTTP/0.6 Python/3.12\r\nDate: Tue, 01 Dec 2026 10:00:00 GMT\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\nX-Upstream: users\r\n\r\n%s"
        % (len(JSON_BODY), JSON_BODY)
    ),
    "dynamodb": (
        b"HTTP/1.1 200 OK\r\nServer: Server\r\nDate: Tue, 01 Dec 2026 10:00:00 GMT\r\n"
        b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: %d\r\nConnection: keep-alive\r\n"
        b"x-amzn-RequestId: 0DQR0UN5OCDNM4P3OAJ7PKLCUBVV4KQNSO5AEMVJF66Q9ASUAAJG\r\n"
        b"x-amz-crc32: 2745614147\r\n\r\n%s" % (len(DDB_BODY), DDB_BODY)
    ),
    "chunked": (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"6\r\nhello \r\n8\r\nchunked \r\n5\r\nworld\r\n0\r\n\r\n"
    ),
}
HEADERS = [
    ("accept", "*/*"),
    ("user-agent", "bench/1.0"),
    ("x-request-id", "3f1c0f6e8a4b4f7e9a512c1d5e6f7a8b"),
    ("x-user-id", "bench-user"),
    ("x-forwarded-for", "192.0.2.1"),
]


def import_ms(prelude: str) -> float:
    code = f"{prelude}\nimport time\nt = time.perf_counter()\nimport h11\nprint(time.perf_counter() - t)"
    samples = []
    for _ in range(IMPORT_RUNS):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        samples.append(float(out.stdout.strip()) * 1000)
    return median(samples)


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str) -> None:
        return None

    def close(self) -> None:
        pass


async def new_client(data: bytes, n: int) -> float:
    from gateway import http_client as hc

    stream = hc._Stream()
    stream.connection_made(_Transport())  # type: ignore[arg-type]
    conn = hc._Conn(stream)
    started = time.process_time()
    for _ in range(n):
        head = hc._encode_request("GET", "/items/42?x=1", "upstream:8080", HEADERS, b"")
        stream.buffer += data
        resp = await hc._exchange(conn, "GET", head, b"", 6 * 1024 * 1024)
        if not conn.reusable():
            raise SystemExit("the new client would not reuse the connection")
    assert resp.status == 200
    return (time.process_time() - started) / n


async def old_client(data: bytes, n: int) -> float:
    import _old_http_parser as old

    conn = old._Conn(None, _Writer())  # type: ignore[arg-type]
    started = time.process_time()
    for _ in range(n):
        head = old._encode_head("GET", "/items/42?x=1", "upstream:8080", HEADERS, b"")
        conn.reader = asyncio.StreamReader()
        conn.reader.feed_data(data)
        resp, keep = await old._exchange(conn, "GET", head, b"", 6 * 1024 * 1024)
    assert resp.status == 200 and keep
    return (time.process_time() - started) / n


class _Writer:
    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass


def per_response(run) -> float:
    """Median over rounds of the mean CPU seconds per response across the RESPONSES mix."""
    rounds = []
    for _ in range(ROUNDS):
        rounds.append(
            sum(asyncio.run(run(data, PER_ROUND)) for data in RESPONSES.values()) / len(RESPONSES)
        )
    return median(rounds)


def main() -> None:
    standalone = import_ms("")
    after = import_ms("import fastapi, mangum")
    new, old = [], []
    for _ in range(2):  # interleaved, so both see the same machine
        new.append(per_response(new_client))
        old.append(per_response(old_client))
    n, o = median(new), median(old)
    print(f"h11_import_ms={standalone:.1f}")
    print(f"h11_import_after_fastapi_ms={after:.1f}")
    print(f"parse_us_per_response={n * 1e6:.1f}")
    print(f"parse_us_per_response_old={o * 1e6:.1f}")
    print(f"parse_ratio_vs_old={n / o:.2f}")


if __name__ == "__main__":
    main()
