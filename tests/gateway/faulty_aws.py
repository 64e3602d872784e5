"""A fault-injecting AWS front: a real HTTP proxy on 127.0.0.1 in front of the moto server, and a
container-credentials server that hands out expiring credentials.

The proxy forwards every request to moto unless a planned fault matches it (by operation, the
``X-Amz-Target`` suffix). Faults have the shapes the AWS documentation gives them:

- ``throttle`` (``ProvisionedThroughputExceededException``, optional ``ThrottlingReasons``),
  ``throttling`` (``ThrottlingException``), ``429`` (an empty 429), ``500``/``503`` (with
  DynamoDB's ``InternalServerError`` / ``ServiceUnavailable`` bodies);
- ``reset``: the request is read, then the connection is reset (RST) without an answer;
- ``lost``: the request is applied by moto, then the connection is reset (the answer is lost);
- ``crc``: moto's answer with a wrong ``x-amz-crc32``;
- ``unprocessed=N``: a BatchWriteItem whose last N requests are *not* sent to moto and come
  back in ``UnprocessedItems`` (the rest really are applied).

Two standing modes: ``clock_offset`` (the proxy's clock; a request signed more than 5 minutes
away from it gets DynamoDB's "Signature expired" ``InvalidSignatureException`` with the proxy's
``Date``) and ``tokens`` (session token -> expiry epoch, filled by ``CredentialServer``; an
expired one gets ``ExpiredTokenException``). Every response closes its connection, so what a
test counts is what a client sent.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

DDB = "com.amazonaws.dynamodb.v20120810#"


def _error(code: str, message: str, **extra: object) -> bytes:
    return json.dumps({"__type": DDB + code, "message": message, **extra}).encode()


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultyAws

    def log_message(self, *args: object) -> None:
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
        front = self.server
        fault = front.take(operation)
        with front.lock:
            front.seen.append((operation, fault or "forwarded"))
            front.bodies.append((operation, body))
        skewed = self._skew_error()
        if skewed is not None:
            self._send(400, skewed, date=formatdate(time.time() + front.clock_offset, usegmt=True))
            return
        token = self.headers.get("X-Amz-Security-Token")
        if token is not None and token in front.tokens and front.tokens[token] <= time.time():
            self._send(400, _error("ExpiredTokenException", "The security token included in the request is expired"))  # fmt: skip
            return
        if fault == "lost":
            front.forward(self.path, dict(self.headers), body)
            fault = "reset"
        if fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if fault == "throttle":
            reasons = front.reasons
            extra = {"ThrottlingReasons": reasons} if reasons else {}
            self._send(400, _error("ProvisionedThroughputExceededException", "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.", **extra))  # fmt: skip
            return
        if fault == "throttling":
            self._send(400, _error("ThrottlingException", "Throughput exceeds the current capacity for one or more global secondary indexes. DynamoDB is automatically scaling your index so please be patient."))  # fmt: skip
            return
        if fault == "429":
            self._send(429, b"")
            return
        if fault == "500":
            self._send(500, _error("InternalServerError", "Internal server error"))
            return
        if fault == "503":
            self._send(503, json.dumps({"__type": "com.amazon.coral.availability#ServiceUnavailableException", "message": "Service unavailable"}).encode())  # fmt: skip
            return
        unprocessed: list = []
        table = ""
        if fault and fault.startswith("unprocessed="):
            table = next(iter(json.loads(body)["RequestItems"]))
            body, unprocessed = _split_batch(body, int(fault.split("=", 1)[1]))
        status, headers, data = front.forward(self.path, dict(self.headers), body)
        if unprocessed:
            answer = json.loads(data)
            answer["UnprocessedItems"] = {table: unprocessed}
            data = json.dumps(answer).encode()
            headers = [(k, v) for k, v in headers if k.lower() != "x-amz-crc32"]
        if fault == "crc":
            headers = [(k, v) for k, v in headers if k.lower() != "x-amz-crc32"]
            headers.append(("x-amz-crc32", "1"))
        self._send(status, data, headers)

    def _skew_error(self) -> bytes | None:
        offset = self.server.clock_offset
        if not offset:
            return None
        amz = self.headers.get("X-Amz-Date") or ""
        try:
            signed = time.mktime(time.strptime(amz, "%Y%m%dT%H%M%SZ")) - time.timezone
        except ValueError:
            return None
        now = time.time() + offset
        if abs(signed - now) <= 300:
            return None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        earliest = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now - 300))
        return _error(
            "InvalidSignatureException",
            f"Signature expired: {amz} is now earlier than {earliest} ({stamp} - 5 min.)",
        )

    def _send(
        self,
        status: int,
        data: bytes,
        headers: list[tuple[str, str]] | None = None,
        date: str | None = None,
    ) -> None:
        self.send_response_only(status)
        self.send_header("Date", date or formatdate(usegmt=True))
        sent = {"content-type": False}
        for name, value in headers or []:
            if name.lower() in (
                "content-length",
                "connection",
                "date",
                "transfer-encoding",
                "server",
            ):
                continue
            sent["content-type"] |= name.lower() == "content-type"
            self.send_header(name, value)
        if not sent["content-type"]:
            self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True


def _split_batch(body: bytes, leave: int) -> tuple[bytes, list]:
    request = json.loads(body)
    table, items = next(iter(request["RequestItems"].items()))
    keep, left = items[: max(len(items) - leave, 0)], items[max(len(items) - leave, 0) :]
    request["RequestItems"] = {table: keep} if keep else {}
    if not keep:  # nothing to apply: answer as DynamoDB would for an empty success
        return b"", left
    return json.dumps(request).encode(), left


class FaultyAws(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, backend: str) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.backend = urlsplit(backend)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.lock = threading.Lock()
        self.plans: list[tuple[str | None, str, int]] = []  # (operation, fault, times; -1: always)
        self.seen: list[tuple[str, str]] = []
        self.bodies: list[tuple[str, bytes]] = []
        self.clock_offset = 0.0
        self.tokens: dict[str, float] = {}
        self.reasons: list[dict[str, str]] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def plan(self, fault: str, operation: str | None = None, times: int = 1) -> None:
        """Inject ``fault`` into the next ``times`` requests for ``operation`` (-1: all)."""
        with self.lock:
            self.plans.append((operation, fault, times))

    def clear(self) -> None:
        with self.lock:
            self.plans.clear()
            self.seen.clear()
            self.bodies.clear()
            self.reasons = []
            self.clock_offset = 0.0

    def take(self, operation: str) -> str | None:
        with self.lock:
            for i, (op, fault, times) in enumerate(self.plans):
                if op is None or op == operation:
                    if times == 1:
                        del self.plans[i]
                    elif times > 1:
                        self.plans[i] = (op, fault, times - 1)
                    return fault
        return None

    def count(self, operation: str, fault: str | None = None) -> int:
        with self.lock:
            return sum(
                1 for op, f in self.seen if op == operation and (fault is None or f == fault)
            )

    def forward(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        if not body:  # an all-unprocessed batch: DynamoDB's empty success
            return 200, [], b'{"UnprocessedItems":{}}'
        conn = http.client.HTTPConnection(self.backend.hostname, self.backend.port, timeout=10)
        try:
            headers = {
                k: v
                for k, v in headers.items()
                if k.lower() not in ("host", "content-length", "connection")
            }
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def __enter__(self) -> FaultyAws:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _CredentialHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CredentialServer

    def log_message(self, *args: object) -> None:
        return

    def do_GET(self) -> None:
        srv = self.server
        with srv.lock:
            srv.requests.append({k.lower(): v for k, v in self.headers.items()})
            ok = self.headers.get("Authorization") == srv.token and self.path == srv.path
            if ok and srv.fail_next > 0:
                srv.fail_next -= 1
                ok = False
                status = 500
            else:
                status = 200 if ok else 401
            if ok:
                srv.issued += 1
                n = srv.issued
                expires = time.time() + srv.lifetime
                token = f"container-token-{n}"
                srv.front.tokens[token] = expires
                data = json.dumps({
                    "AccessKeyId": f"ASIACONTAINER{n:04d}",
                    "SecretAccessKey": f"container-secret-{n}",
                    "Token": token,
                    "Expiration": dt.datetime.fromtimestamp(expires, dt.UTC).isoformat().replace("+00:00", "Z"),
                }).encode()  # fmt: skip
            else:
                data = json.dumps({"message": "unauthorized"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class CredentialServer(ThreadingHTTPServer):
    """The container credentials endpoint (ECS / EKS Pod Identity / Lambda SnapStart's shape):
    GET with ``Authorization: <token>`` -> AccessKeyId, SecretAccessKey, Token, Expiration.
    Each fetch issues a new set that ``lifetime`` seconds later the front calls expired."""

    daemon_threads = True

    def __init__(
        self, front: FaultyAws, lifetime: float, token: str = "container-auth-token"
    ) -> None:
        super().__init__(("127.0.0.1", 0), _CredentialHandler)
        self.front = front
        self.lifetime = lifetime
        self.token = token
        self.path = "/2023-06-01/credentials"
        self.url = f"http://127.0.0.1:{self.server_address[1]}{self.path}"
        self.lock = threading.Lock()
        self.issued = 0
        self.fail_next = 0
        self.requests: list[dict[str, str]] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def env(self) -> dict[str, str]:
        """What Lambda SnapStart / ECS set instead of AWS_ACCESS_KEY_ID."""
        return {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.url,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": self.token,
        }

    def __enter__(self) -> CredentialServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


@contextmanager
def faulty_front(backend: str) -> Iterator[FaultyAws]:
    with FaultyAws(backend) as front:
        yield front
