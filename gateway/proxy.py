"""Forwarding a request to its upstream: routing, path safety, header hygiene, retries,
circuit breaking and the mapping of transport failures to 502/503/504."""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass
from urllib.parse import quote

from gateway.breaker import CircuitBreaker
from gateway.config import Settings, Upstream
from gateway.errors import GatewayError
from gateway.http_client import ConnectError, HttpClient, HttpError, ReadTimeout, Response

# RFC 9110 7.6.1 plus the legacy names proxies still see.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
     "proxy-authenticate", "proxy-authorization"}
)  # fmt: skip
# Set by the gateway itself: a client's copy is dropped before ours is added.
GATEWAY_SET = frozenset({"host", "content-length", "x-request-id", "x-user-id", "x-forwarded-for"})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRY_STATUSES = frozenset({502, 503, 504})
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def find_upstream(upstreams: tuple[Upstream, ...], path: str) -> tuple[Upstream, str] | None:
    """Longest matching prefix on a segment boundary -> (upstream, suffix starting with '/')."""
    best: Upstream | None = None
    for up in upstreams:
        if (path == up.prefix or path.startswith(up.prefix + "/")) and (
            best is None or len(up.prefix) > len(best.prefix)
        ):
            best = up
    if best is None:
        return None
    return best, path[len(best.prefix) :] or "/"


_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")
_DOT_SEGMENT = re.compile(r"(?:^|/)\.{1,2}(?:/|$)")


def check_path(path: str, raw_path: str | None) -> None:
    """Reject dot segments, encoded or literal separators, NUL and control characters."""
    bad = None
    found = _BAD_CHARS.search(path)
    if found:
        bad = "backslash" if found.group() == "\\" else "control character"
    elif _DOT_SEGMENT.search(path):
        bad = "dot segment"
    elif raw_path is not None and "%" in raw_path:
        lowered = raw_path.lower()
        if "%2f" in lowered or "%5c" in lowered or "%00" in lowered:
            bad = "encoded separator"
        elif _DOT_SEGMENT.search(lowered.replace("%2e", ".")):
            bad = "dot segment"
    if bad:
        raise GatewayError(400, "bad_path", f"path rejected: {bad}")


def connection_tokens(headers: list[tuple[str, str]]) -> set[str]:
    names: set[str] = set()
    for name, value in headers:
        if name == "connection":
            names.update(t.strip().lower() for t in value.split(",") if t.strip())
    return names


def request_headers(
    client_headers: list[tuple[str, str]],
    request_id: str,
    user_id: str | None,
    client_ip: str | None,
    forward_authorization: bool,
) -> list[tuple[str, str]]:
    drop = HOP_BY_HOP | GATEWAY_SET | connection_tokens(client_headers)
    out = []
    for name, value in client_headers:
        if name in drop or (name == "authorization" and not forward_authorization):
            continue
        if "\r" in value or "\n" in value:
            continue
        out.append((name, value))
    out.append(("x-request-id", request_id))
    if user_id:
        out.append(("x-user-id", user_id))
    if client_ip:
        out.append(("x-forwarded-for", client_ip))
    return out


def response_headers(upstream_headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    drop = HOP_BY_HOP | connection_tokens(upstream_headers) | {"content-length", "x-request-id"}
    return [(n, v) for n, v in upstream_headers if n not in drop]


@dataclass(slots=True)
class ProxyResult:
    response: Response
    upstream_ms: float
    attempts: int


class Proxy:
    def __init__(self, settings: Settings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http
        self.breakers = {
            up.name: CircuitBreaker(settings.breaker_threshold, settings.breaker_cooldown)
            for up in settings.upstreams
        }

    async def forward(
        self,
        up: Upstream,
        method: str,
        suffix: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> ProxyResult:
        breaker = self.breakers[up.name]
        target = up.base_path + quote(suffix, safe=_PATH_SAFE) + (f"?{query}" if query else "")
        retries = self.settings.retries if method in IDEMPOTENT else 0
        deadline = time.monotonic() + up.timeout
        started = time.perf_counter()
        attempt = 0
        while True:
            if not breaker.allow():
                raise GatewayError(
                    503,
                    "upstream_unavailable",
                    f"upstream {up.name} is failing; circuit open",
                    {"Retry-After": str(breaker.retry_after())},
                )
            attempt += 1
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise ReadTimeout("deadline spent")
                resp = await self.http.request(
                    method, up.scheme, up.host, up.port, target, headers, body,
                    host_header=up.host_header, connect_timeout=up.connect_timeout, timeout=remaining,
                    max_body=6 * 1024 * 1024,
                )  # fmt: skip
            except HttpError as exc:
                breaker.failure()
                if exc.retryable and attempt <= retries and await _backoff(attempt, deadline):
                    continue
                if isinstance(exc, ReadTimeout) or (
                    isinstance(exc, ConnectError) and "timed out" in str(exc)
                ):
                    raise GatewayError(
                        504, "upstream_timeout", f"upstream {up.name} did not answer in time"
                    ) from None
                raise GatewayError(
                    502, "bad_gateway", f"upstream {up.name} failed: {exc}"
                ) from None
            if resp.status in RETRY_STATUSES:
                breaker.failure()
                if attempt <= retries and await _backoff(attempt, deadline):
                    continue
            else:
                breaker.success()
            return ProxyResult(resp, (time.perf_counter() - started) * 1000, attempt)


async def _backoff(attempt: int, deadline: float) -> bool:
    """Full-jitter exponential backoff; False when it would overrun the deadline."""
    delay = random.uniform(0, min(0.05 * 2**attempt, 0.5))
    if time.monotonic() + delay >= deadline:
        return False
    await asyncio.sleep(delay)
    return True
