"""Fixed-window rate limiting with exactly one conditional DynamoDB UpdateItem per request.

Item key: ``limiter_key`` (principal) + ``window_start`` (epoch seconds of the window). The
update ADDs 1 to ``c`` only while ``attribute_not_exists(c) OR c < :limit``; a failed condition
means the window is full. Each window is its own item, so a stale item whose TTL deletion
(``expires_at``) has not happened yet can never admit or block anything in a later window.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.aws import AwsCallError, AwsJsonClient, AwsUnavailable

POLICY_NAME = "default"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the window ends
    window: int
    degraded: bool = False  # DynamoDB failed and the failure mode decided

    def headers(self) -> dict[str, str]:
        """draft-ietf-httpapi-ratelimit-headers (structured fields)."""
        if self.degraded:
            return {}
        out = {
            "RateLimit-Policy": f'"{POLICY_NAME}";q={self.limit};w={self.window}',
            "RateLimit": f'"{POLICY_NAME}";r={self.remaining};t={self.reset_after}',
        }
        if not self.allowed:
            out["Retry-After"] = str(self.reset_after)
        return out


class RateLimiter:
    def __init__(
        self,
        ddb: AwsJsonClient,
        table: str,
        limit: int,
        window: int,
        fail_open: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ddb = ddb
        self.table = table
        self.limit = limit
        self.window = window
        self.fail_open = fail_open
        self.clock = clock
        self._template: str | None = None

    def update_params(self, key: str, window_start: int, expires_at: int) -> dict[str, Any]:
        """The UpdateItem request (``update_body`` is this, serialised)."""
        return {
            "TableName": self.table,
            "Key": {"limiter_key": {"S": key}, "window_start": {"N": str(window_start)}},
            "UpdateExpression": "ADD c :one SET expires_at = :exp",
            "ConditionExpression": "attribute_not_exists(c) OR c < :limit",
            "ExpressionAttributeValues": {
                ":one": {"N": "1"},
                ":limit": {"N": str(self.limit)},
                ":exp": {"N": str(expires_at)},
            },
            "ReturnValues": "UPDATED_NEW",
        }

    def update_body(self, key: str, window_start: int, expires_at: int) -> bytes:
        """``update_params`` as compact JSON, from a template built once: only the key and two
        numbers change per request (the key is JSON-escaped exactly as json.dumps does)."""
        if self._template is None:
            marks = ("\x00key\x00", "\x00start\x00", "\x00expires\x00")  # never in real values
            text = json.dumps(self.update_params(*marks), separators=(",", ":"))  # type: ignore[arg-type]
            text = text.replace("%", "%%")
            for mark, slot in zip(marks, ("%s", '"%d"', '"%d"'), strict=True):
                text = text.replace(json.dumps(mark), slot)
            self._template = text
        return (self._template % (json.dumps(key), window_start, expires_at)).encode()

    async def hit(self, key: str) -> tuple[Decision, str | None]:
        """Count one request for ``key``. Returns the decision and, on DynamoDB failure, why."""
        now = self.clock()
        window_start = int(now) - int(now) % self.window
        reset_after = max(1, math.ceil(window_start + self.window - now))
        try:
            result = await self.ddb.call_body(
                "UpdateItem", self.update_body(key, window_start, window_start + self.window + 60)
            )
        except AwsCallError as exc:
            if exc.code == "ConditionalCheckFailedException":
                return Decision(False, self.limit, 0, reset_after, self.window), None
            return self._degraded(reset_after, f"{exc.code}: {exc.message}")
        except AwsUnavailable as exc:
            return self._degraded(reset_after, str(exc))
        try:
            count = int(result["Attributes"]["c"]["N"])
        except (KeyError, TypeError, ValueError):
            return self._degraded(reset_after, "UpdateItem returned no counter")
        return Decision(
            True, self.limit, max(self.limit - count, 0), reset_after, self.window
        ), None

    def _degraded(self, reset_after: int, why: str) -> tuple[Decision, str]:
        return Decision(self.fail_open, self.limit, 0, reset_after, self.window, degraded=True), why
