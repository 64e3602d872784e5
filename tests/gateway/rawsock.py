"""A raw-socket upstream on 127.0.0.1 that answers with whatever bytes a test scripts.

Each accepted connection gets a number (0, 1, ...); each request on it is read as HTTP/1.1 would
frame it (head, then a Content-Length body) and handed to ``script(conn_no, req_no, request)``,
which returns the bytes to send back, or an ``Action``. Every request is recorded, so a test can
count how many times the upstream executed something, and on which connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Request:
    conn: int
    index: int  # on its connection
    method: str
    target: str
    headers: list[tuple[str, str]]  # names lower-cased, values latin-1
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)


@dataclass
class Action:
    send: bytes | list[bytes] = b""  # a list: sent as separate segments, 1 ms apart
    then_sleep: float = 0.0
    later: bytes = b""  # sent after then_sleep, unasked
    close: bool = False  # then close (FIN)
    reset: bool = False  # then close with RST
    hang: bool = False  # then never answer again, keep the socket open


Script = Callable[[int, int, Request], "bytes | Action"]


def ok(body: bytes = b"ok", extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def echo_target(_conn: int, _index: int, req: Request) -> bytes:
    """A well-behaved answer naming what it answered (for desync checks)."""
    return ok(f"{req.method} {req.target}".encode())


class RawUpstream:
    def __init__(self, script: Script = echo_target) -> None:
        self.script = script
        self.requests: list[Request] = []
        self.connections = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._open: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> RawUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self.sock.close()
        with self.lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.close()

    def executed(self, target: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.target == target)

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                number = self.connections
                self.connections += 1
                self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        buffer = b""
        index = 0
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                headers = []
                for line in lines:
                    name, _, value = line.partition(":")
                    headers.append((name.strip().lower(), value.strip()))
                length = int(next((v for k, v in headers if k == "content-length"), "0"))
                while len(buffer) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                body, buffer = buffer[:length], buffer[length:]
                request = Request(number, index, method, target, headers, body)
                with self.lock:
                    self.requests.append(request)
                answer = self.script(number, index, request)
                index += 1
                action = answer if isinstance(answer, Action) else Action(send=answer)
                pieces = action.send if isinstance(action.send, list) else [action.send]
                for i, piece in enumerate(pieces):
                    if i:
                        time.sleep(0.001)
                    if piece:
                        conn.sendall(piece)
                if action.then_sleep:
                    time.sleep(action.then_sleep)
                if action.later:
                    conn.sendall(action.later)
                if action.hang:
                    while conn.recv(65536):
                        pass
                    return
                if action.reset:
                    import struct

                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    conn.close()
                    return
                if action.close:
                    conn.shutdown(socket.SHUT_RDWR)
                    conn.close()
                    return
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                conn.close()
