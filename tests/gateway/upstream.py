"""Real local HTTP servers for gateway tests: a well-behaved echo upstream and its misbehaving modes.

Paths (after the gateway strips /api/<name>):
  anything        -> 200 JSON echo of method, path, headers, body
  /status/NNN     -> that status (JSON body)
  /slow?s=X       -> sleeps X seconds, then echoes
  /dribble        -> announces 50 bytes, sends one every 0.2 s
  /drop           -> closes the connection without answering
  /reset          -> resets the connection (RST)
  /chunked        -> a chunked response
  /hop            -> a response carrying hop-by-hop headers, including one named in Connection
  /jwks.json      -> the JSON in ``server.jwks``
  /flaky          -> 503 on the first call per key (?k=...), then 200
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: UpstreamServer

    def log_message(self, *args: object) -> None:  # quiet
        return

    def _reply(
        self, status: int, payload: object, extra: list[tuple[str, str]] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra or []:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        record = {
            "method": self.command,
            "path": url.path,
            "raw_target": self.path,
            "headers": [[k.lower(), v] for k, v in self.headers.items()],
            "body": body.decode("latin-1"),
        }
        with self.server.lock:
            self.server.requests.append(record)
        if url.path.startswith("/status/"):
            self._reply(int(url.path.rsplit("/", 1)[1]), {"status": "as asked"})
        elif url.path == "/slow":
            time.sleep(float(query.get("s", ["1"])[0]))
            self._reply(200, record)
        elif url.path == "/dribble":
            self.send_response(200)
            self.send_header("Content-Length", "50")
            self.end_headers()
            try:
                for _ in range(50):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
            self.close_connection = True
        elif url.path == "/drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif url.path == "/reset":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        elif url.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello ", b"chunked ", b"world"):
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif url.path == "/hop":
            self._reply(
                200,
                {"ok": True},
                [("Connection", "X-Upstream-Secret, keep-alive"), ("X-Upstream-Secret", "s3"), ("Keep-Alive", "timeout=5"),
                 ("Proxy-Authenticate", "Basic"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Kept", "yes")],
            )  # fmt: skip
        elif url.path == "/jwks.json":
            self._reply(200, self.server.jwks)
        elif url.path == "/flaky":
            key = query.get("k", [""])[0]
            with self.server.lock:
                seen = self.server.flaky.get(key, 0)
                self.server.flaky[key] = seen + 1
            self._reply(503 if seen == 0 else 200, {"attempt": seen + 1})
        else:
            self._reply(200, record)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class UpstreamServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # bursts of 200 connections in the concurrency test

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self.flaky: dict[str, int] = {}
        self.jwks: dict = {"keys": []}
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> UpstreamServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
