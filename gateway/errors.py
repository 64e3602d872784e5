"""The one error shape: ``{"error": {"code", "message", "request_id"}}``."""

from __future__ import annotations

import json


class GatewayError(Exception):
    """Raised anywhere in request handling; rendered by ``gateway.app`` as a JSON error.

    ``message`` is what the client reads: generic, no addresses or library errors. ``detail``
    (optional) is what the error log line says instead, for 5xx answers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.detail = detail


def error_body(code: str, message: str, request_id: str | None, **extra: object) -> bytes:
    payload: dict[str, object] = {
        "error": {"code": code, "message": message, "request_id": request_id}
    }
    payload.update(extra)
    return json.dumps(payload, separators=(",", ":")).encode()
