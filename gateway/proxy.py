"""Forwarding a request to its upstream: routing, path safety, header hygiene, retries,
circuit breaking and the mapping of transport failures to 502/503/504.

Header hygiene, both ways (RFC 9110 5.1, 5.5, 7.6.1):

- client headers: a name that is not a token, or a value with a control character other than
  HTAB (CR, LF, NUL included), is a 400 ``bad_header``; hop-by-hop headers, the headers named
  in ``Connection``, and every header the gateway asserts itself (``GATEWAY_SET``: identity,
  client address, forwarding and method-override headers), also spelled with ``_`` for ``-``
  (CGI-style servers read both as one name), are dropped; the gateway then sets
  ``X-Request-ID``, ``X-User-ID`` and ``X-Forwarded-For`` (the source address it saw).
- ``X-User-ID`` is the principal's id (the JWT ``sub``) with every character outside printable
  ASCII, space and ``%`` percent-encoded as UTF-8 (RFC 3986 2.1): ``李雷`` is sent as
  ``%E6%9D%8E%E9%9B%B7``; an ASCII id without space or ``%`` is sent unchanged.
- upstream headers: h11 rejects CR, LF and NUL (502); a header with any other control character
  is dropped (its name is logged, never its value), as are hop-by-hop headers and those the
  gateway answers itself (``GATEWAY_ANSWERS``: length, request id, rate limit); on the Lambda path
  a value that is not UTF-8 is dropped too (the Lambda response is JSON text).

Paths: the upstream receives the raw path exactly as the client sent it (after the route
prefix), never a re-encoding of a decoded path; dot segments (also encoded, also with
``;`` parameters such as ``..;``), encoded separators and control characters are rejected.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from gateway.breaker import CircuitBreaker
from gateway.config import Settings, Upstream
from gateway.errors import GatewayError
from gateway.http_client import (
    IDEMPOTENT_METHODS,
    TOKEN,
    ConnectError,
    HttpClient,
    HttpError,
    ReadTimeout,
    RequestEncodingError,
    Response,
    ResponseTooLarge,
)

# RFC 9110 7.6.1 plus the legacy names proxies still see.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
     "proxy-authenticate", "proxy-authorization"}
)  # fmt: skip
# Asserted by the gateway (or by no one): a client's copy is dropped before ours is added.
# Forwarding headers tell an upstream who the client is and how it came in; the method-override
# and URL-rewrite headers change what an upstream framework executes (a GET retried as
# idempotent must not become a DELETE upstream, a path checked here must be the one served).
GATEWAY_SET = frozenset(
    {"host", "content-length", "expect", "x-request-id", "x-user-id", "x-forwarded-for", "forwarded",
     "x-real-ip", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-forwarded-prefix",
     "x-forwarded-server", "x-forwarded-scheme", "x-original-forwarded-for", "true-client-ip",
     "x-client-ip", "x-cluster-client-ip", "cf-connecting-ip", "fastly-client-ip", "x-original-url",
     "x-rewrite-url", "x-original-uri", "x-http-method-override", "x-http-method",
     "x-method-override"}
)  # fmt: skip
# Response headers the gateway sets itself: an upstream's copy would contradict (or spoof) it.
GATEWAY_ANSWERS = frozenset({"content-length", "x-request-id", "ratelimit", "ratelimit-policy"})
# Added by uvicorn to every response: an upstream's copy would make two (Date is a singleton,
# RFC 9110 6.6.1). nginx's proxy hides the upstream's Date and Server by default too.
SERVER_SET = frozenset({"date", "server"})
RETRY_STATUSES = frozenset({502, 503, 504})
MAX_RETRY_AFTER_WAIT = 2.0  # seconds: a longer Retry-After is passed to the client instead

_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # control characters except HTAB
# Printable ASCII except space and "%": what X-User-ID carries unencoded.
_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")
_HEADER_SAFE_RE = re.compile(r"[\x21-\x24\x26-\x7e]*")
# RFC 3986 pchar plus "/": what a forwarded path may carry unencoded ("%" only as pct-encoding).
_PATH_CHARS = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")
_QUERY_CHARS = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")
_PCT = re.compile(r"%[0-9A-Fa-f]{2}")


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
# A segment that is "." or ".." once its ";" parameters are removed (Tomcat, Jetty and Spring
# strip them, so "/..;/" climbs a directory there).
_DOT_SEGMENT = re.compile(r"(?:^|/)\.{1,2}(?:;[^/]*)?(?:/|$)")


# An overlong (invalid) UTF-8 form, e.g. %c0%ae for ".": lenient decoders read %c0%ae%c0%ae
# as ".." (the IIS and Tomcat traversals), so it is rejected with the dot segments.
_OVERLONG = re.compile(rb"[\xc0\xc1][\x80-\xbf]|\xe0[\x80-\x9f]|\xf0[\x80-\x8f]")


def check_path(path: str, raw_path: str | None) -> None:
    """Reject dot segments, encoded or literal separators, NUL, control characters and overlong
    UTF-8."""
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
        elif _DOT_SEGMENT.search(lowered.replace("%2e", ".").replace("%3b", ";")):
            bad = "dot segment"
    if (
        not bad
        and raw_path is not None
        and ("%" in raw_path or not raw_path.isascii())
        and _OVERLONG.search(unquote_to_bytes(raw_path.encode("latin-1")))
    ):
        bad = "overlong UTF-8"
    if bad:
        raise GatewayError(400, "bad_path", f"path rejected: {bad}")


def raw_suffix(up: Upstream, raw_path: str) -> str:
    """The client's raw path after the route prefix, as it goes upstream (segments align with
    the decoded path because encoded separators are rejected)."""
    segments = up.prefix.count("/") + 1
    parts = raw_path.split("/", segments)
    return _target_part("/" + parts[-1] if len(parts) > segments else "/", _PATH_CHARS)


def target_query(query: str) -> str:
    """The client's raw query string, as it goes upstream."""
    return _target_part(query, _QUERY_CHARS)


def _target_part(text: str, allowed: re.Pattern[str]) -> str:
    """``text`` unchanged when a request-target may carry it; else what it may not carry is
    percent-encoded (a ``%`` not followed by two hex digits becomes ``%25``, which a lenient
    decoder reads the same way)."""
    if allowed.fullmatch(text):
        return text
    return "".join(
        c if allowed.fullmatch(c) or (c == "%" and _PCT.match(text, i)) else _pct(c)
        for i, c in enumerate(text)
    )


def _pct(char: str) -> str:
    return "".join(f"%{b:02X}" for b in char.encode("latin-1"))


def header_safe(text: str) -> str:
    """``text`` as a header value anyone can parse: see the module docstring (X-User-ID)."""
    if _HEADER_SAFE_RE.fullmatch(text):
        return text
    from urllib.parse import quote

    return quote(text, safe=_HEADER_SAFE)


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
    for name, value in client_headers:
        if TOKEN.fullmatch(name) is None:
            raise GatewayError(400, "bad_header", "a request header name is not a valid token")
        if _CTL.search(value):
            raise GatewayError(
                400, "bad_header", f"request header {name} has a control character in its value"
            )
    drop = HOP_BY_HOP | GATEWAY_SET | connection_tokens(client_headers)
    # "_" for "-" too: CGI-style servers (WSGI, Rack, PHP) read X_Real_IP as X-Real-IP.
    out = [
        (name, value.strip(" \t"))  # RFC 9110 5.5: surrounding whitespace is not the value
        for name, value in client_headers
        if name not in drop
        and name.replace("_", "-") not in drop
        and (forward_authorization or name != "authorization")
    ]
    out.append(("x-request-id", request_id))
    if user_id:
        out.append(("x-user-id", header_safe(user_id)))
    if client_ip:
        out.append(("x-forwarded-for", client_ip))
    return out


def response_headers(
    upstream_headers: list[tuple[str, str]],
    utf8_only: bool,
    server_sets: frozenset[str] = frozenset(),
) -> tuple[list[tuple[bytes, bytes]], list[str]]:
    """(headers to send the client, names of the headers dropped as invalid). ``server_sets``:
    names the HTTP server around the app adds itself (``SERVER_SET`` under uvicorn)."""
    drop = HOP_BY_HOP | connection_tokens(upstream_headers) | GATEWAY_ANSWERS | server_sets
    out: list[tuple[bytes, bytes]] = []
    invalid: list[str] = []
    for name, value in upstream_headers:
        if name in drop:
            continue
        raw = value.encode("latin-1")
        if _CTL.search(value):
            invalid.append(name)
            continue
        if utf8_only and not value.isascii():
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                invalid.append(name)
                continue
        out.append((name.encode("latin-1"), raw))
    return out, invalid


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After (RFC 9110 10.2.3) as seconds from now: delay-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


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
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
        max_body: int = 6 * 1024 * 1024,
    ) -> ProxyResult:
        """Send ``target`` (path and query, as they go on the wire) to ``up``.

        Retries: connection failures (the request never left) for every method; 502/503/504
        answers only for idempotent methods, after ``Retry-After`` when the answer has one and
        it fits the deadline and ``MAX_RETRY_AFTER_WAIT``. A 503 with ``Retry-After`` is an
        answer, not a failure: it does not count towards opening the circuit."""
        breaker = self.breakers[up.name]
        idempotent = method in IDEMPOTENT_METHODS
        retries = self.settings.retries
        target = up.base_path + target
        deadline = time.monotonic() + up.timeout
        started = time.perf_counter()
        attempt = 0
        while True:
            grant = breaker.allow()
            if grant is None:
                raise GatewayError(
                    503,
                    "upstream_unavailable",
                    "the upstream service is failing; try again later",
                    {"Retry-After": str(breaker.retry_after())},
                    detail=f"upstream {up.name}: circuit open",
                )
            attempt += 1
            recorded = False
            try:
                try:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise ReadTimeout("deadline spent before the attempt")
                    resp = await self.http.request(
                        method, up.scheme, up.host, up.port, target, headers, body,
                        host_header=up.host_header, connect_timeout=up.connect_timeout,
                        timeout=remaining, max_body=max_body, idempotent=idempotent,
                    )  # fmt: skip
                except RequestEncodingError:
                    # Nothing was sent and the upstream is not to blame: not a failure.
                    raise GatewayError(
                        400, "bad_header", "a request header cannot be forwarded"
                    ) from None
                except ResponseTooLarge as exc:
                    raise GatewayError(
                        502,
                        "upstream_response_too_large",
                        "the upstream response is too large to return",
                        detail=f"upstream {up.name}: {exc}",
                    ) from None
                except HttpError as exc:
                    breaker.failure()
                    recorded = True
                    if exc.retryable and attempt <= retries and await _backoff(attempt, deadline):
                        continue
                    raise _mapped(up, exc) from None
                if resp.status in RETRY_STATUSES:
                    wait = retry_after_seconds(resp.header("retry-after"))
                    if resp.status != 503 or wait is None:
                        breaker.failure()
                        recorded = True
                    if (
                        idempotent
                        and attempt <= retries
                        and await _backoff(attempt, deadline, wait)
                    ):
                        continue
                else:
                    breaker.success()
                    recorded = True
                return ProxyResult(resp, (time.perf_counter() - started) * 1000, attempt)
            finally:
                if not recorded:
                    breaker.release(grant)


def _mapped(up: Upstream, exc: HttpError) -> GatewayError:
    """A transport failure as the client sees it: a code and a generic message; the address,
    timeouts and TLS reasons go to the error log line only (``detail``)."""
    detail = f"upstream {up.name}: {exc}"
    if isinstance(exc, ReadTimeout) or (isinstance(exc, ConnectError) and "timed out" in str(exc)):
        return GatewayError(
            504, "upstream_timeout", "the upstream service did not answer in time", detail=detail
        )
    return GatewayError(502, "bad_gateway", "the upstream service failed to answer", detail=detail)


async def _backoff(attempt: int, deadline: float, retry_after: float | None = None) -> bool:
    """Wait before another attempt: ``Retry-After`` when given (at most
    ``MAX_RETRY_AFTER_WAIT``), else full-jitter exponential backoff. False when the wait would
    overrun the deadline (or the cap): the caller gives up and answers with what it has."""
    if retry_after is not None:
        if retry_after > MAX_RETRY_AFTER_WAIT:
            return False
        delay = retry_after
    else:
        delay = random.uniform(0, min(0.05 * 2**attempt, 0.5))
    if time.monotonic() + delay >= deadline:
        return False
    await asyncio.sleep(delay)
    return True
