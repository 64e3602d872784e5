"""Fixed-window rate limiting with exactly one conditional DynamoDB UpdateItem per request.

Item key: ``limiter_key`` (principal) + ``window_start`` (epoch seconds of the window). The
update ADDs 1 to ``c`` only while ``attribute_not_exists(c) OR c < :limit``; a failed condition
means the window is full. Each window is its own item, so a stale item whose TTL deletion
(``expires_at``) has not happened yet can never admit or block anything in a later window.

What keeps it from being bypassed, and cheap:

- a per-process **deny cache**: a key whose window is known to be full (DynamoDB counted the
  limit, refused the condition, or throttled that key) is denied until its window ends without
  any DynamoDB write (``source="cache"``). Counts never fall within a window, so this never
  denies what DynamoDB would admit;
- **throttling is not an outage**: DynamoDB throttling the key after the client's retries means
  the key is hotter than any limit, so it is denied (``source="throttled"``) and, when the throttle
  is about that key's partition, cached as full. Throttling of the whole table denies the request
  (Retry-After 1) without caching the key;
- the failure mode (``GATEWAY_RATE_LIMIT_FAILURE_MODE``) applies only to true outages: DynamoDB
  unreachable, timing out, answering 5xx, refusing our credentials or missing the table. Even
  failing open, a key is admitted at most ``limit`` times per window by this process (the counts
  it saw from DynamoDB plus its own admissions), and each such decision is one
  ``rate_limit_unavailable`` error line (the app logs it). After an outage DynamoDB is not asked
  again for 0.5 s, doubling up to 5 s while it lasts, so a black-holed endpoint does not cost
  every request its timeouts.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.aws import AwsCallError, AwsJsonClient, AwsThrottled, AwsUnavailable
from gateway.refresh import Backoff

POLICY_NAME = "default"
# After an outage the limiter stops asking DynamoDB for a while (the failure mode decides at
# once, instead of every request waiting out its timeouts): 0.5 s, doubling up to 5 s.
OUTAGE_BACKOFF = (0.5, 5.0)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the window ends
    window: int
    degraded: bool = False  # DynamoDB failed and the failure mode decided
    # "dynamodb" (counted by the write), "cache" (known full: no write), "throttled",
    # "degraded" (outage: the failure mode and this process's own counts decided)
    source: str = "dynamodb"

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
        deny_cache_size: int = 10_000,
    ) -> None:
        self.ddb = ddb
        self.table = table
        self.limit = limit
        self.window = window
        self.fail_open = fail_open
        self.clock = clock
        self.deny_cache_size = deny_cache_size  # 0: every request is a DynamoDB write
        self.writes = 0  # UpdateItem calls made (not attempts), for tests and bench/
        self._template: str | None = None
        self._denied: dict[str, float] = {}  # key -> end of the window known to be full
        self._seen: dict[str, tuple[int, int]] = {}  # key -> (window_start, count known here)
        self._outage = Backoff(*OUTAGE_BACKOFF)
        self._outage_why = ""

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
        """Count one request for ``key``. Returns the decision and, on an outage, why."""
        now = self.clock()
        window_start = int(now) - int(now) % self.window
        window_end = window_start + self.window
        reset_after = max(1, math.ceil(window_end - now))
        until = self._denied.get(key)
        if until is not None:
            if until > now:
                return self._deny(reset_after, "cache"), None
            del self._denied[key]
        if not self._outage.ready():
            return self._degraded(key, window_start, window_end, reset_after, self._outage_why)
        self.writes += 1
        try:
            result = await self.ddb.call_body(
                "UpdateItem", self.update_body(key, window_start, window_end + 60)
            )
        except AwsThrottled as exc:
            if exc.hot_key:
                self._remember_full(key, window_end)
                return self._deny(reset_after, "throttled"), None
            return self._deny(1, "throttled"), None
        except AwsCallError as exc:
            if exc.code == "ConditionalCheckFailedException":
                self._remember_full(key, window_end)
                return self._deny(reset_after, "dynamodb"), None
            return self._outage_began(
                key, window_start, window_end, reset_after, f"{exc.code}: {exc.message}"
            )
        except AwsUnavailable as exc:
            return self._outage_began(key, window_start, window_end, reset_after, str(exc))
        self._outage.succeeded()
        try:
            count = int(result["Attributes"]["c"]["N"])
        except (KeyError, TypeError, ValueError):
            return self._degraded(
                key, window_start, window_end, reset_after, "UpdateItem returned no counter"
            )
        self._count(key, window_start, count)
        if count >= self.limit:
            self._remember_full(key, window_end)
        return Decision(
            True, self.limit, max(self.limit - count, 0), reset_after, self.window
        ), None

    def _deny(self, reset_after: int, source: str) -> Decision:
        return Decision(False, self.limit, 0, reset_after, self.window, source=source)

    def _remember_full(self, key: str, window_end: float) -> None:
        if self.deny_cache_size <= 0:
            return
        self._denied.pop(key, None)
        while len(self._denied) >= self.deny_cache_size:
            # the oldest entry ends first (every window has the same length); dropping a live
            # one only costs a DynamoDB write later, never an admission
            del self._denied[next(iter(self._denied))]
        self._denied[key] = window_end

    def _count(self, key: str, window_start: int, count: int) -> None:
        cap = 4 * max(self.deny_cache_size, 1)
        if len(self._seen) >= cap:  # amortised O(1): at most one sweep per cap/2 new keys
            self._seen = {k: v for k, v in self._seen.items() if v[0] == window_start}
            if len(self._seen) > cap // 2:
                self._seen.clear()
        self._seen[key] = (window_start, count)

    def _outage_began(
        self, key: str, window_start: int, window_end: int, reset_after: int, why: str
    ) -> tuple[Decision, str]:
        self._outage.failed()
        self._outage_why = f"{why} (DynamoDB not asked again for a moment)"
        return self._degraded(key, window_start, window_end, reset_after, why)

    def _degraded(
        self, key: str, window_start: int, window_end: int, reset_after: int, why: str
    ) -> tuple[Decision, str]:
        """The failure mode decides, except for a key this process already saw reach the limit
        in this window: that one is over the limit (a 429), whatever the mode."""
        seen = self._seen.get(key)
        count = seen[1] if seen is not None and seen[0] == window_start else 0
        if count >= self.limit:
            self._remember_full(key, window_end)
            return self._deny(reset_after, "degraded"), why
        if self.fail_open:
            self._count(key, window_start, count + 1)
            if count + 1 >= self.limit:
                self._remember_full(key, window_end)
        decision = Decision(
            self.fail_open,
            self.limit,
            0,
            reset_after,
            self.window,
            degraded=True,
            source="degraded",
        )
        return decision, why
