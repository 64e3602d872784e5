"""From the gateway's own logs to a month of usage.

Reads CloudWatch events (`{"timestamp": ms, "message": "..."}`) of the function
log group: Lambda `REPORT` lines (billed duration, memory, init duration) and
the gateway's JSON access lines (`"message": "request"`: route, bytes,
rate_limited). Events come from CloudWatch (filter_log_events, paginated), a
file (JSON lines of events, or a document with an `events` array), or the local
account (the same API on the emulator). Light imports: botocore only when reading CloudWatch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from opskit.cost.model import RouteUsage, Usage, with_overrides
from opskit.errors import ConfigError, NotFoundError
from opskit.logs import platform
from opskit.logs.platform import Report

MONTH_SECONDS = 730 * 3600  # AWS's billing month
EVENT_OVERHEAD_BYTES = 26  # CloudWatch Logs bills each event as its UTF-8 size + 26 bytes
API_METERING_BYTES = 512 * 1024
MIN_SPAN_SECONDS = 10.0  # shortest span a rate is measured over (one request is not a rate)
BASES = ("auto", "observed", "window")

# DynamoDB request units of the gateway's session calls (gateway/sessions.py, gateway/app.py).
# Items are well under 1 KB / 4 KB, so every call is the minimum charge.
SESSION_LOOKUP_RRU = 1.0  # GetItem with ConsistentRead=True (0.5 if it were eventually consistent)
SESSION_WRITE_WRU = 2.0  # PutItem / DeleteItem: 1 WRU on the table + 1 on the user_id-index GSI
REVOKE_ALL_RRU = 0.5  # Query on the GSI (GSIs read eventually consistent)
REVOKE_ALL_ASSUMED_SESSIONS = 1  # the access line does not say how many sessions were deleted


@dataclass
class RouteStats:
    requests: int = 0
    rate_limited: int = 0
    response_bytes: int = 0
    billed_ms: float = 0.0
    latency_ms: float = 0.0


@dataclass
class LogStats:
    events: int = 0
    bytes_ingested: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    invocations: int = 0
    billed_ms: float = 0.0
    cold_starts: int = 0
    init_ms: float = 0.0  # INIT milliseconds charged (inside Billed Duration, or added once)
    init_included: int = 0  # cold starts whose Billed Duration contains INIT (today's format)
    init_added: int = 0  # old-format lines dated from 2025-08-01: INIT added once
    init_free: int = 0  # old-format lines dated before 2025-08-01: INIT was not billed
    xray_lines: int = 0  # REPORT events with an XRAY line (active tracing on)
    xray_sampled: int = 0  # ... of which `Sampled: true`: traces recorded
    memory_mb: int | None = None
    timeouts: int = 0
    requests: int = 0
    rate_limited: int = 0
    request_bytes: int = 0
    response_bytes: int = 0
    api_units: int = 0
    latency_ms: float = 0.0
    access_memory_mb: int | None = None
    traffic_first_ms: int | None = None  # first/last access or REPORT event: the traffic's span
    traffic_last_ms: int | None = None
    auth_lines: int = 0  # access lines that carry the `auth` field
    session_lookups: int = 0  # `"auth": "session"`: one GetItem each
    session_creates: int = 0  # POST /auth/sessions -> 201: PutItem
    session_revokes: int = 0  # DELETE /auth/sessions/current -> 204: DeleteItem
    session_revoke_alls: int = 0  # DELETE /auth/sessions -> 200: Query + BatchWriteItem
    routes: dict[str, RouteStats] = field(default_factory=dict)
    _now: int | None = field(default=None, repr=False)
    _billed_by_id: dict[str, float] = field(default_factory=dict, repr=False)
    _route_by_id: dict[str, str] = field(default_factory=dict, repr=False)

    def add(self, timestamp: int | None, message: str) -> None:
        self.events += 1
        self.bytes_ingested += (
            len(message.encode("utf-8", "replace")) + EVENT_OVERHEAD_BYTES
            if not message.isascii()
            else len(message) + EVENT_OVERHEAD_BYTES
        )
        if timestamp is not None:
            if self.first_ms is None or timestamp < self.first_ms:
                self.first_ms = timestamp
            if self.last_ms is None or timestamp > self.last_ms:
                self.last_ms = timestamp
        self._now = timestamp
        head = message[:8]
        if head.startswith("REPORT"):
            self._report(message)
        elif head.startswith("XRAY "):
            self._xray(message)
        elif head.startswith("{"):
            self._json(message)
        elif "Task timed out" in message:
            self.timeouts += 1
        elif '"message"' in message and "{" in message:  # a JSON line behind a text prefix
            self._json(message[message.index("{") :])

    def _report(self, message: str) -> None:
        report = platform.parse_report(message)
        if report is not None:
            self._invocation(report)

    def _invocation(self, report: Report) -> None:
        """One REPORT (text or JSON format): the duration charged, INIT counted once."""
        self._traffic()
        self.invocations += 1
        charged = report.charged_ms(self._now)
        self.billed_ms += charged
        self.memory_mb = report.memory_mb or self.memory_mb
        if report.init_ms is not None:
            self.cold_starts += 1
            init = report.init_charged_ms(self._now)
            self.init_ms += init
            if report.init_included:
                self.init_included += 1
            elif init:
                self.init_added += 1
            else:
                self.init_free += 1
        if report.xray is not None:
            self.xray_lines += 1
            self.xray_sampled += report.xray.sampled
        self._billed_by_id[report.request_id] = charged

    def _xray(self, message: str) -> None:
        """An XRAY line logged as its own event (normally it is part of the REPORT event)."""
        xray = platform.parse_xray(message)
        if xray is not None:
            self.xray_lines += 1
            self.xray_sampled += xray.sampled

    def _json(self, message: str) -> None:
        try:
            line = orjson.loads(message)
        except orjson.JSONDecodeError:
            return
        if not isinstance(line, dict):
            return
        if line.get("message") != "request":
            if line.get("type") == "platform.report":  # Lambda's JSON log format
                report = platform.from_record(line)
                if isinstance(report, Report):
                    self._invocation(report)
            return
        self._traffic()
        self.requests += 1
        route = str(line.get("route") or "unmatched")
        stats = self.routes.get(route)
        if stats is None:
            stats = self.routes[route] = RouteStats()
        stats.requests += 1
        request_bytes = _number(line.get("request_bytes"))
        response_bytes = _number(line.get("response_bytes"))
        self.request_bytes += request_bytes
        self.response_bytes += response_bytes
        stats.response_bytes += response_bytes
        self.api_units += max(1, -(-max(request_bytes, response_bytes) // API_METERING_BYTES))
        latency = float(line.get("latency_ms") or 0.0)
        self.latency_ms += latency
        stats.latency_ms += latency
        if line.get("rate_limited"):
            self.rate_limited += 1
            stats.rate_limited += 1
        memory = line.get("function_memory_size")
        if memory:
            self.access_memory_mb = int(_number(memory))
        request_id = line.get("function_request_id")
        if request_id:
            self._route_by_id[str(request_id)] = route
        if "auth" in line:
            self.auth_lines += 1
            if line["auth"] in ("session", "s"):
                self.session_lookups += 1
        if route.startswith("/auth/sessions"):
            self._session_call(route, str(line.get("method") or ""), line.get("status"))

    def _session_call(self, route: str, method: str, status: Any) -> None:
        if route == "/auth/sessions" and method == "POST" and status == 201:
            self.session_creates += 1
        elif route == "/auth/sessions/current" and method == "DELETE" and status == 204:
            self.session_revokes += 1
        elif route == "/auth/sessions" and method == "DELETE" and status == 200:
            self.session_revoke_alls += 1

    def _traffic(self) -> None:
        now = self._now
        if now is None:
            return
        if self.traffic_first_ms is None or now < self.traffic_first_ms:
            self.traffic_first_ms = now
        if self.traffic_last_ms is None or now > self.traffic_last_ms:
            self.traffic_last_ms = now

    @property
    def session_read_units(self) -> float:
        return self.session_lookups * SESSION_LOOKUP_RRU + self.session_revoke_alls * REVOKE_ALL_RRU

    @property
    def session_write_units(self) -> float:
        deletes = self.session_revokes + self.session_revoke_alls * REVOKE_ALL_ASSUMED_SESSIONS
        return (self.session_creates + deletes) * SESSION_WRITE_WRU

    def finish(self) -> LogStats:
        """Join REPORT lines to routes through the Lambda request id."""
        for request_id, route in self._route_by_id.items():
            billed = self._billed_by_id.get(request_id)
            if billed is not None:
                self.routes[route].billed_ms += billed
        self._route_by_id.clear()
        self._billed_by_id.clear()
        return self

    @property
    def observed_seconds(self) -> float:
        """First to last traffic event (access or REPORT line), in seconds (0 if unknown)."""
        if self.traffic_first_ms is None or self.traffic_last_ms is None:
            return 0.0
        return (self.traffic_last_ms - self.traffic_first_ms) / 1000


def _number(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return 0


def aggregate(events: Iterable[tuple[int | None, str]]) -> LogStats:
    stats = LogStats()
    add = stats.add
    for timestamp, message in events:
        add(timestamp, message)
    return stats.finish()


@dataclass(frozen=True)
class Basis:
    """What the month is projected from: the traffic's own span, or the whole window read."""

    kind: str  # "observed" | "window"
    seconds: float  # the span the rate is measured over
    observed_seconds: float  # first to last traffic event
    window_seconds: float | None  # the window read (--since, the report's period); None: a file
    first_ms: int | None
    last_ms: int | None
    requests: int

    @property
    def minimum_applied(self) -> bool:
        return self.kind == "observed" and self.observed_seconds < self.seconds

    def label(self, factor: float) -> str:
        span = f"({_iso_range(self.first_ms, self.last_ms)})"
        if self.kind == "observed":
            text = f"observed {self.requests:,} requests over {_duration(self.observed_seconds)} {span}"
            if self.minimum_applied:
                text += f", counted as the {_duration(self.seconds)} minimum span"
            return f"{text}; projected at that rate to a 730-hour month (x{factor:,.0f})"
        return (
            f"{self.requests:,} requests in the {_window_name(self.seconds)} window "
            f"(traffic {span[1:-1]}); projected from the whole window to a 730-hour month (x{factor:,.2f})"
        )

    def to_dict(self, factor: float) -> dict[str, Any]:
        return {
            "basis": self.kind,
            "label": self.label(factor),
            "span_seconds": round(self.seconds, 3),
            "observed_seconds": round(self.observed_seconds, 3),
            "window_seconds": None
            if self.window_seconds is None
            else round(self.window_seconds, 3),
            "min_span_seconds": MIN_SPAN_SECONDS,
            "first_traffic": _iso(self.first_ms),
            "last_traffic": _iso(self.last_ms),
            "month_factor": round(factor, 6),
        }


def choose_basis(stats: LogStats, window_seconds: float | None, mode: str = "auto") -> Basis:
    """`auto`: the observed span when it is shorter than the window (a new service, a demo),
    else the window. The span is at least MIN_SPAN_SECONDS (and at most the window)."""
    if mode not in BASES:
        raise ConfigError(
            f"bad basis '{mode}'", f"expected one of {', '.join(BASES)}", "e.g. --basis auto"
        )
    observed = stats.observed_seconds
    window = window_seconds if window_seconds and window_seconds > 0 else None
    if mode == "window" and window is None:
        raise ConfigError(
            "--basis window without a window",
            "a file's events have no window of their own",
            "add --since (the span the export covers), or use --basis auto",
        )
    use_window = window is not None and (
        mode == "window" or (mode == "auto" and observed >= window)
    )
    if use_window:
        kind, seconds = "window", float(window)  # type: ignore[arg-type]
    else:
        kind, seconds = "observed", max(observed, MIN_SPAN_SECONDS)
        if window is not None:
            seconds = min(seconds, window)
    return Basis(
        kind,
        seconds,
        observed,
        window,
        stats.traffic_first_ms,
        stats.traffic_last_ms,
        stats.requests or stats.invocations,
    )


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_range(first: int | None, last: int | None) -> str:
    a, b = _iso(first), _iso(last)
    if a is None or b is None:
        return "no timestamps"
    if a[:10] == b[:10]:
        return f"{a}\u2013{b[11:]}"
    return f"{a}\u2013{b}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.3g} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _window_name(seconds: float) -> str:
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{seconds / 86400:.0f}-day"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:.0f}-hour"
    return _duration(seconds)


@dataclass
class Projection:
    usage: Usage
    routes: list[RouteUsage]
    stats: LogStats
    basis: Basis
    factor: float
    notes: list[str]

    @property
    def window_seconds(self) -> float:
        """The span the month is scaled from (kept for callers of the old name)."""
        return self.basis.seconds

    def summary(self) -> dict[str, Any]:
        s = self.stats
        return {
            "events": s.events,
            "projection": self.basis.to_dict(self.factor),
            "month_factor": round(self.factor, 3),
            "requests_seen": s.requests,
            "invocations_seen": s.invocations,
            "cold_starts_seen": s.cold_starts,
            "rate_limited_share": round(s.rate_limited / s.requests, 4) if s.requests else 0.0,
            "bytes_ingested": s.bytes_ingested,
            "timeouts": s.timeouts,
            "dynamodb": {
                "auth_field_seen": s.auth_lines > 0,
                "session_lookups": s.session_lookups,
                "session_creates": s.session_creates,
                "session_revokes": s.session_revokes + s.session_revoke_alls,
                "session_read_units": s.session_read_units,
                "session_write_units": s.session_write_units,
            },
        }


def project_month(
    stats: LogStats, base: Usage, window_seconds: float | None = None, basis: str = "auto"
) -> Projection:
    """Scale what the logs show to a 730-hour month, over the basis `choose_basis` picks."""
    if stats.requests == 0 and stats.invocations == 0:
        raise NotFoundError(
            "no gateway traffic in the logs",
            f'{stats.events} events, none a REPORT line or a JSON access line ("message": "request")',
            "widen --since, check the log group, or pass --file with exported events",
        )
    chosen = choose_basis(stats, window_seconds, basis)
    factor = MONTH_SECONDS / chosen.seconds
    notes = [chosen.label(factor)]
    requests = stats.requests or stats.invocations
    invocations = stats.invocations or stats.requests
    if stats.invocations:
        # billed_ms is what was charged, INIT counted once: split it into the run and the
        # INIT part so that the model's two Lambda lines add up to exactly that.
        duration = (stats.billed_ms - stats.init_ms) / stats.invocations
        memory = stats.memory_mb or base.memory_mb
        charged_colds = stats.init_included + stats.init_added
        cold_rate = charged_colds / stats.invocations
        init_ms = stats.init_ms / charged_colds if charged_colds else 0.0
        per_request_billed = {
            route: r.billed_ms / r.requests if r.requests and r.billed_ms else duration
            for route, r in stats.routes.items()
        }
        notes.extend(_init_notes(stats))
    else:
        # No REPORT lines (e.g. the local account runs the app under uvicorn): approximate.
        duration = (
            math.ceil(stats.latency_ms / stats.requests) if stats.requests else base.duration_ms
        )
        memory = stats.access_memory_mb or base.memory_mb
        cold_rate, init_ms = base.cold_start_rate, base.init_ms
        per_request_billed = {
            route: math.ceil(r.latency_ms / r.requests) if r.requests else duration
            for route, r in stats.routes.items()
        }
        notes.append(
            "no Lambda REPORT lines: billed duration approximated by the gateway's latency_ms, cold starts by assumption"
        )
    if not stats.requests:
        notes.append("no access lines: requests taken from REPORT lines, sizes by assumption")
    ddb_reads, ddb_writes = _dynamodb_per_request(stats, base, notes)
    usage = with_overrides(
        base,
        requests=requests * factor,
        invocations=invocations * factor,
        duration_ms=duration,
        memory_mb=float(memory),
        cold_start_rate=cold_rate,
        init_ms=init_ms,
        log_bytes=stats.bytes_ingested / requests,
        api_units=stats.api_units * factor if stats.requests else None,
        request_bytes=stats.request_bytes / stats.requests if stats.requests else None,
        response_bytes=stats.response_bytes / stats.requests if stats.requests else None,
        ddb_reads=ddb_reads,
        ddb_writes=ddb_writes,
    )
    gb = float(memory) / 1024
    routes = [
        RouteUsage(
            route,
            r.requests * factor,
            r.requests * factor * per_request_billed[route] / 1000 * gb,
            r.response_bytes * factor,
        )
        for route, r in stats.routes.items()
    ]
    if stats.rate_limited:
        notes.append(
            f"{stats.rate_limited / stats.requests:.1%} of requests were rate limited (still billed by API Gateway, Lambda and DynamoDB)"
        )
    return Projection(usage, routes, stats, chosen, factor, notes)


def _init_notes(stats: LogStats) -> list[str]:
    notes = []
    if stats.init_included:
        notes.append(
            f"{stats.init_included:,} cold starts: Billed Duration already includes INIT "
            "(today's REPORT format); INIT counted once"
        )
    if stats.init_added:
        notes.append(
            f"{stats.init_added:,} cold starts in the pre-2025-08 REPORT format dated after "
            "2025-08-01: INIT added once to Billed Duration (billed since then)"
        )
    if stats.init_free:
        notes.append(
            f"{stats.init_free:,} cold starts logged before 2025-08-01: INIT not charged "
            "(free then for ZIP functions on managed runtimes; billed today)"
        )
    return notes


def _dynamodb_per_request(
    stats: LogStats, base: Usage, notes: list[str]
) -> tuple[float | None, float | None]:
    """RRU and WRU per request: the rate limiter's write (base) plus the session calls seen."""
    if not stats.requests:
        return None, None
    reads: float | None = None
    if stats.auth_lines:
        reads = stats.session_read_units / stats.requests
        notes.append(
            f"DynamoDB reads: {stats.session_lookups:,} session-authenticated requests "
            f"x {SESSION_LOOKUP_RRU:g} RRU (consistent GetItem)"
            + (
                f" + {stats.session_revoke_alls:,} revoke-all queries x {REVOKE_ALL_RRU:g} RRU"
                if stats.session_revoke_alls
                else ""
            )
        )
    else:
        notes.append(
            "access lines carry no `auth` field (a gateway older than the field): session reads "
            f"not measured, {base.ddb_reads:g} RRU/request assumed (set --ddb-reads)"
        )
    writes = None
    if stats.session_write_units:
        writes = base.ddb_writes + stats.session_write_units / stats.requests
        notes.append(
            f"DynamoDB writes: rate limiter {base.ddb_writes:g} WRU/request + sessions "
            f"({stats.session_creates:,} created, {stats.session_revokes + stats.session_revoke_alls:,} revoked)"
            f" x {SESSION_WRITE_WRU:g} WRU (table + user_id-index)"
            + (
                f"; revoke-all assumed to delete {REVOKE_ALL_ASSUMED_SESSIONS} session"
                if stats.session_revoke_alls
                else ""
            )
        )
    return reads, writes


# --- event sources -------------------------------------------------------------------------


def iter_file_events(path: Path) -> Iterator[tuple[int | None, str]]:
    """JSON lines of CloudWatch events, or one JSON document with an `events` array."""
    if not path.is_file():
        raise NotFoundError(
            f"no such file {path}",
            "cannot read events",
            "pass --file PATH to an export of log events",
        )
    with path.open("rb") as handle:
        first = handle.read(4096).lstrip()
        handle.seek(0)
        if first.startswith(b"{") and _is_document(path):
            document = orjson.loads(path.read_bytes())
            yield from _events_of(document.get("events", []), path)
            return
        for number, raw in enumerate(handle, 1):
            raw = raw.strip()
            if not raw:
                continue
            try:
                event = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise ConfigError(
                    f"{path}:{number} is not JSON",
                    "expected one CloudWatch event per line",
                    "export with `aws logs filter-log-events` or use the `events` document shape",
                ) from None
            if not isinstance(event, dict) or "message" not in event:
                raise ConfigError(
                    f"{path}:{number} is not a log event",
                    'expected {"timestamp": ms, "message": "..."}',
                    "export with `aws logs filter-log-events`",
                )
            yield event.get("timestamp"), event["message"]


def _is_document(path: Path) -> bool:
    """A whole-file JSON object with `events` (not JSON lines)."""
    with path.open("rb") as handle:
        first_line = handle.readline()
    try:
        value = orjson.loads(first_line)
    except orjson.JSONDecodeError:
        return True  # a multi-line document
    return isinstance(value, dict) and "events" in value


def _events_of(events: Any, path: Path) -> Iterator[tuple[int | None, str]]:
    if not isinstance(events, list):
        raise ConfigError(
            f"{path}: `events` is not a list",
            'expected {"events": [{"timestamp": ms, "message": ...}]}',
            "fix the export",
        )
    for event in events:
        if isinstance(event, dict) and "message" in event:
            yield event.get("timestamp"), event["message"]


def iter_cloudwatch_events(
    logs: Any, group: str, start: datetime, end: datetime, page_size: int | None = None
) -> Iterator[tuple[int | None, str]]:
    """filter_log_events over [start, end), every page followed."""
    from opskit.aws import aws_error, error_code  # botocore: only when reading CloudWatch

    kwargs: dict[str, Any] = {
        "logGroupName": group,
        "startTime": int(start.timestamp() * 1000),
        "endTime": int(end.timestamp() * 1000) - 1,
    }
    if page_size:
        kwargs["limit"] = page_size
    while True:
        try:
            page = logs.filter_log_events(**kwargs)
        except Exception as exc:  # botocore errors -> one line
            if error_code(exc) == "ResourceNotFoundException":
                raise NotFoundError(
                    f"log group {group} not found",
                    "nothing deployed, or no traffic yet",
                    "deploy with `opskit deploy`, or pass --file with exported events",
                ) from None
            raise aws_error(f"reading {group}", exc, "grant logs:FilterLogEvents") from None
        for event in page.get("events", []):
            yield event.get("timestamp"), event.get("message", "")
        token = page.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            return
        kwargs["nextToken"] = token


def window_of(since: timedelta) -> float:
    return since.total_seconds()
