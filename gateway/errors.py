"""The one error shape: ``{"error": {"code", "message", "request_id"}}``.

``message`` is what the client reads: generic, never AWS's error text, an upstream address or a
TLS reason. ``detail`` is what the error log line says instead (redacted like every line).
"""

from __future__ import annotations

import json


class GatewayError(Exception):
    """Raised anywhere in request handling; rendered by ``gateway.app`` as a JSON error."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.detail = detail  # for the error log line only


def error_body(code: str, message: str, request_id: str | None, **extra: object) -> bytes:
    payload: dict[str, object] = {
        "error": {"code": code, "message": message, "request_id": request_id}
    }
    payload.update(extra)
    return json.dumps(payload, separators=(",", ":")).encode()
