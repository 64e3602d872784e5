"""Structured JSON logs on stdout with Powertools key names, built on structlog.

One access line per request (``access``) and ``ERROR`` lines with an ``error_code``
(``error``). A redaction processor removes Authorization, cookies, tokens and secrets at any
depth, by key name and by value shape (Bearer credentials, JWTs, session tokens).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any


def _import_structlog():
    """Import structlog without letting it pull in rich/better_exceptions for pretty tracebacks.

    The gateway renders JSON only; those optional imports cost ~70 ms of cold start and would
    drag the CLI's console library into the Lambda process when both are installed. Hidden only
    while structlog loads, and only if nothing imported them already.
    """
    hidden = [name for name in ("rich", "better_exceptions") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import structlog
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
    return structlog


structlog = _import_structlog()

REDACTED = "[REDACTED]"
_SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "cookies",
        "set-cookie",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "session_token",
        "jwt",
        "secret",
        "client_secret",
        "jwt_secret",
        "password",
        "api_key",
        "x-api-key",
        "secretstring",
    }
)
_SENSITIVE_VALUE = re.compile(
    r"(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]+"  # credentials with their scheme
    r"|eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"  # JWT shape
    r"|gws_[A-Za-z0-9_-]{20,}"  # the gateway's own session tokens
)
_HINTS = ("eyJ", "earer", "gws_", "asic ", "EARER", "ASIC ")
# One C-level scan instead of a generator over _HINTS (same strings): most values have none.
_HINT = re.compile("|".join(re.escape(h) for h in _HINTS))


def _sensitive_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    k = key.lower()
    return k in _SENSITIVE_KEYS or k.endswith(("_token", "_secret", "password")) or "secret" in k


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) >= 12 and _HINT.search(value):
            return _SENSITIVE_VALUE.sub(REDACTED, value)
        return value
    if isinstance(value, Mapping):
        return {k: (REDACTED if _sensitive_key(k) else _redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_redact(v) for v in value]
    return value


# The access line's own keys: never sensitive names (their string values are still checked).
_SAFE_KEYS = frozenset(
    [
        "level",
        "location",
        "message",
        "event",
        "timestamp",
        "service",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "xray_trace_id",
        "correlation_id",
        "method",
        "path",
        "route",
        "status",
        "latency_ms",
        "upstream",
        "upstream_latency_ms",
        "upstream_status",
        "user_id",
        "client_ip",
        "rate_limited",
        "request_bytes",
        "response_bytes",
        "error_code",
    ]
)


def redact_processor(_logger: object, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: redact sensitive keys and values at any depth."""
    for key, value in event_dict.items():
        cls = value.__class__
        if value is None or cls is int or cls is float or cls is bool:
            continue
        if key not in _SAFE_KEYS and _sensitive_key(key):
            event_dict[key] = REDACTED
        elif cls is str:  # _redact's string case, inlined: most values are short plain strings
            if len(value) >= 12 and _HINT.search(value):
                event_dict[key] = _SENSITIVE_VALUE.sub(REDACTED, value)
        elif isinstance(value, str | Mapping | list | tuple | set):
            event_dict[key] = _redact(value)
    return event_dict


_second: tuple[int, str] = (-1, "")


def iso_now() -> str:
    """``2026-11-24T10:00:00.123Z``; the part up to the second is formatted once per second."""
    global _second
    now = time.time()
    whole = int(now)
    if _second[0] != whole:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int(now % 1 * 1000):03d}Z"


class _Shape:
    """Put the Powertools keys first, in contract order."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __call__(self, _logger: object, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        out = {
            "level": method.upper(),
            "location": event_dict.pop("location", "gateway"),
            "message": event_dict.pop("event", ""),
            "timestamp": iso_now(),
            "service": self.service,
        }
        out.update(event_dict)
        return out


_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)  # json.dumps builds one per call


def _dumps(obj: Any, **_: Any) -> str:
    return _ENCODER.encode(obj)


class GatewayLogger:
    def __init__(self, service: str = "gateway", level: str = "INFO", stream: Any = None) -> None:
        self.service = service
        self._access_enabled = _LEVELS.get(level, 20) <= _LEVELS["INFO"]
        self._stream = stream  # None: whatever sys.stdout is at write time (as PrintLogger does)
        self._lock = threading.Lock()
        self._log = structlog.wrap_logger(
            structlog.PrintLogger(stream or sys.stdout),
            processors=[
                redact_processor,
                _Shape(service),
                structlog.processors.JSONRenderer(serializer=_dumps),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, 20)),
        )

    def access(self, fields: dict[str, Any]) -> None:
        """The per-request line: the same keys, order, redaction and JSON as the structlog chain
        above produces for ``info("request", location="gateway.access", **fields)``, built in
        one pass (this runs on every request) and written with a single write call."""
        if not self._access_enabled:
            return
        event = {
            "level": "INFO",
            "location": "gateway.access",
            "message": "request",
            "timestamp": iso_now(),
            "service": self.service,
        }
        event.update(fields)
        line = _dumps(redact_processor(None, "info", event)) + "\n"
        stream = self._stream or sys.stdout
        with self._lock:
            stream.write(line)
            stream.flush()

    def error(self, error_code: str, message: str, **fields: Any) -> None:
        self._log.error(
            message, location=fields.pop("location", "gateway"), error_code=error_code, **fields
        )

    def warning(self, message: str, **fields: Any) -> None:
        self._log.warning(message, location=fields.pop("location", "gateway"), **fields)
