"""Follow a log group (FilterLogEvents polling) and pretty-print gateway lines; filters by level/path/status."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from opskit.insights.values import format_timestamp
from opskit.logs import platform
from opskit.logs.cloudwatch import filter_events

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import FilteredLogEventTypeDef


@dataclass(frozen=True)
class TailFilter:
    level: str | None = None  # INFO, WARNING, ERROR ... (case-insensitive)
    path: str | None = None  # exact path, prefix ending with '/', or a glob (/api/users/*)
    status: str | None = None  # 503, or a class: 5xx

    def matches(self, fields: dict[str, Any]) -> bool:
        if self.level and str(fields.get("level", "")).upper() != self.level.upper():
            return False
        if self.path:
            path = str(fields.get("path", ""))
            if any(c in self.path for c in "*?["):
                if not fnmatch.fnmatchcase(path, self.path):
                    return False
            elif not (
                path == self.path or (self.path.endswith("/") and path.startswith(self.path))
            ):
                return False
        if self.status:
            status = str(fields.get("status", ""))
            wanted = self.status.lower()
            if wanted.endswith("xx"):
                if not status.startswith(wanted[0]) or len(status) != 3:
                    return False
            elif status != wanted:
                return False
        return True

    @property
    def active(self) -> bool:
        return bool(self.level or self.path or self.status)


def parse_message(message: str) -> dict[str, Any]:
    stripped = message.strip()
    if stripped.startswith("{"):
        try:
            parsed = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def pretty(event: Mapping[str, Any]) -> tuple[str, str]:
    """(style, text) for one event: access lines in columns, platform/other lines as they are."""
    when = format_timestamp(int(event.get("timestamp") or 0))[11:]
    message = str(event.get("message", "")).rstrip("\n")
    fields = parse_message(message)
    if fields.get("message") == "request" and "status" in fields:
        status = fields.get("status")
        style = (
            "red"
            if isinstance(status, int) and status >= 500
            else "yellow"
            if isinstance(status, int) and status >= 400
            else ""
        )
        latency = fields.get("latency_ms")
        latency_text = f"{latency:.1f}ms" if isinstance(latency, int | float) else "-"
        text = (
            f"{when} {str(fields.get('level', '')):<7} {fields.get('method', '-'):<6} {fields.get('path', '-')} "
            f"{status} {latency_text}"
            + (f" upstream={fields['upstream']}" if fields.get("upstream") else "")
            + (f" user={fields['user_id']}" if fields.get("user_id") else "")
            + (f" id={fields['correlation_id']}" if fields.get("correlation_id") else "")
        )
        return style, text
    if fields:
        level = str(fields.get("level", ""))
        style = "red" if level in ("ERROR", "CRITICAL") else "yellow" if level == "WARNING" else ""
        extra = f" error_code={fields['error_code']}" if fields.get("error_code") else ""
        return style, f"{when} {level:<7} {fields.get('message', message)}{extra}"
    if platform.parse(message) is not None or "Task timed out" in message:
        return "red" if "Task timed out" in message else "dim", f"{when} {message}"
    return "", f"{when} {message}"


def tail(
    logs: CloudWatchLogsClient,
    log_group: str,
    start_ms: int,
    *,
    follow: bool,
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = 2.0,
    max_polls: int | None = None,
    tail_filter: TailFilter | None = None,
) -> Iterator[FilteredLogEventTypeDef]:
    """Yield matching events from start_ms on; with follow, keep polling for new ones.

    FilterLogEvents is inclusive of startTime, so events already shown are skipped by eventId.
    """
    tail_filter = tail_filter or TailFilter()
    seen: set[str] = set()
    since = start_ms
    polls = 0
    while True:
        newest = since
        fresh: set[str] = set()
        for event in filter_events(logs, log_group, since):
            key = (
                event.get("eventId")
                or f"{event.get('timestamp')}:{event.get('logStreamName')}:{event.get('message')}"
            )
            if key in seen:
                continue
            fresh.add(key)
            newest = max(newest, int(event.get("timestamp") or 0))
            if not tail_filter.active or tail_filter.matches(
                parse_message(str(event.get("message", "")))
            ):
                yield event
        # Keep only the ids at the newest timestamp: those are the ones a later poll sees again.
        seen = {k for k in seen | fresh} if newest == since else fresh
        since = newest
        polls += 1
        if not follow or (max_polls is not None and polls >= max_polls):
            return
        sleep(poll_seconds)
