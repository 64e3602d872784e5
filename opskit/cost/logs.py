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
from typing import TYPE_CHECKING, Any

import orjson

from opskit.cost.model import RouteUsage, Usage, with_overrides
from opskit.cost.xray import DEFAULT_RULE, SamplingRule
from opskit.errors import NotFoundError, UsageError
from opskit.logs import platform
from opskit.logs.platform import Report

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

MONTH_SECONDS = 730 * 3600  # AWS's billing month
EVENT_OVERHEAD_BYTES = 26  # CloudWatch Logs bills each event as its UTF-8 size + 26 bytes
API_METERING_BYTES = 512 * 1024
MIN_SPAN_SECONDS = 10.0  # shortest span a rate is measured over (one request is not a rate)
BASES = ("auto", "observed", "window")
ANONYMOUS = "(anonymous)"  # access lines without a user_id

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
    upstream_latency_ms: float = 0.0  # of latency_ms: waiting for the upstream (not CPU)
    access_memory_mb: int | None = None
    traffic_first_ms: int | None = None  # first/last access or REPORT event: the traffic's span
    traffic_last_ms: int | None = None
    auth_lines: int = 0  # access lines that carry the `auth` field
    session_lookups: int = 0  # `"auth": "session"`: one GetItem each
    session_creates: int = 0  # POST /auth/sessions -> 201: PutItem
    session_revokes: int = 0  # DELETE /auth/sessions/current -> 204: DeleteItem
    session_revoke_alls: int = 0  # DELETE /auth/sessions -> 200: Query + BatchWriteItem
    apigw_lines: int = 0  # API Gateway access lines (the /aws/apigateway/<stack>-api group)
    apigw_bytes: int = 0  # ... their ingested bytes (kept apart: flat-priced, not vended)
    apigw_rejected: int = 0  # ... of requests it answered without Lambda
    routes: dict[str, RouteStats] = field(default_factory=dict)
    users: dict[str, RouteStats] = field(default_factory=dict)  # by the access line's user_id
    _now: int | None = field(default=None, repr=False)
    _per_second: dict[int, int] = field(default_factory=dict, repr=False)
    _billed_by_id: dict[str, float] = field(default_factory=dict, repr=False)
    # request id -> (its route's stats, its user's stats): REPORT lines join through it
    _by_id: dict[str, tuple[RouteStats, RouteStats]] = field(default_factory=dict, repr=False)

    def add(self, timestamp: int | None, message: str) -> None:
        self.events += 1
        size = (
            len(message) + EVENT_OVERHEAD_BYTES
            if message.isascii()
            else len(message.encode("utf-8", "replace")) + EVENT_OVERHEAD_BYTES
        )
        if timestamp is not None:  # first_ms and last_ms are set together
            first_ms = self.first_ms
            if first_ms is None:
                self.first_ms = self.last_ms = timestamp
            elif timestamp < first_ms:
                self.first_ms = timestamp
            elif timestamp > self.last_ms:  # type: ignore[operator]
                self.last_ms = timestamp
        self._now = timestamp
        first = message[:1]  # dispatch on one character: this runs for every event
        if first == "{":
            if message.startswith('{"requestId"') and '"routeKey"' in message:
                self._apigw(message, size)  # an API Gateway access line (its own log group)
                return
            self.bytes_ingested += size
            self._json(message)
            return
        self.bytes_ingested += size
        if first == "R" and message.startswith("REPORT "):
            self._report(message)
        elif (first == "S" and message.startswith("START ")) or (
            first == "E" and message.startswith("END ")
        ):
            return
        elif first == "X" and message.startswith("XRAY "):
            self._xray(message)
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
        now = self._now
        if now is not None:
            if self.traffic_first_ms is None or now < self.traffic_first_ms:
                self.traffic_first_ms = now
            if self.traffic_last_ms is None or now > self.traffic_last_ms:
                self.traffic_last_ms = now
            per_second = self._per_second
            second = now // 1000
            per_second[second] = per_second.get(second, 0) + 1
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
        upstream = line.get("upstream_latency_ms")
        if upstream.__class__ in (int, float) and 0 < upstream:
            self.upstream_latency_ms += upstream if upstream < latency else latency
        if line.get("rate_limited"):
            self.rate_limited += 1
            stats.rate_limited += 1
        memory = line.get("function_memory_size")
        if memory:
            self.access_memory_mb = int(_number(memory))
        user = line.get("user_id")
        user_key = ANONYMOUS if user is None or user == "" else str(user)
        user_stats = self.users.get(user_key)
        if user_stats is None:
            user_stats = self.users[user_key] = RouteStats()
        user_stats.requests += 1
        user_stats.response_bytes += response_bytes
        request_id = line.get("function_request_id")
        if request_id:
            self._by_id[str(request_id)] = (stats, user_stats)
        if "auth" in line:
            self.auth_lines += 1
            if line["auth"] in ("session", "s"):
                self.session_lookups += 1
        if route.startswith("/auth/sessions"):
            self._session_call(route, str(line.get("method") or ""), line.get("status"))

    def _apigw(self, message: str, size: int) -> None:
        """API Gateway's own access line (the template's format): every request it metered,
        `integrationLatency` "-" when it answered without calling Lambda (throttled, no route)."""
        try:
            line = orjson.loads(message)
        except orjson.JSONDecodeError:
            self.bytes_ingested += size
            return
        if not isinstance(line, dict):
            self.bytes_ingested += size
            return
        self.apigw_lines += 1
        self.apigw_bytes += size
        if str(line.get("integrationLatency", "-")).strip() in ("-", ""):
            self.apigw_rejected += 1

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
        billed_by_id = self._billed_by_id
        for request_id, (route, user) in self._by_id.items():
            billed = billed_by_id.get(request_id)
            if billed is not None:
                route.billed_ms += billed
                user.billed_ms += billed
        self._by_id.clear()
        self._billed_by_id.clear()
        return self

    def merge_access_logs(self, other: LogStats) -> LogStats:
        """Take the API Gateway access lines read from their own log group."""
        self.apigw_lines += other.apigw_lines
        self.apigw_bytes += other.apigw_bytes
        self.apigw_rejected += other.apigw_rejected
        return self

    def traced_by_rule(self, rule: SamplingRule = DEFAULT_RULE) -> float:
        """Traces the default sampling rule would record for the requests seen, second by second."""
        return rule.traced_per_second(self._per_second.values())

    @property
    def hours_with_traffic(self) -> int:
        return len({second // 3600 for second in self._per_second})

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

    def lead(self) -> str:
        """The projection's basis in one sentence, rate and window first."""
        rate = self.requests / self.seconds if self.seconds else 0.0
        shown = f"{rate:,.3g}" if rate < 100 else f"{rate:,.0f}"
        if self.kind == "observed":
            return (
                f"at the observed rate of {shown} requests/s sustained for a 730-hour month "
                f"(measured over {_duration(self.observed_seconds)} of traffic, "
                f"{_iso_range(self.first_ms, self.last_ms)})"
            )
        return (
            f"at the average rate of {shown} requests/s over the {_window_name(self.seconds)} "
            "window, for a 730-hour month"
        )

    def to_dict(self, factor: float) -> dict[str, Any]:
        return {
            "basis": self.kind,
            "lead": self.lead(),
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
        raise UsageError(
            f"bad basis '{mode}'", f"expected one of {', '.join(BASES)}", "e.g. --basis auto"
        )
    observed = stats.observed_seconds
    window = window_seconds if window_seconds and window_seconds > 0 else None
    if mode == "window" and window is None:
        raise UsageError(
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
    users: list[RouteUsage] = field(default_factory=list)

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
            "init_billing": {
                "included_in_billed_duration": s.init_included,
                "added_once_old_format": s.init_added,
                "free_before_2025_08_01": s.init_free,
                "init_ms_charged": round(s.init_ms, 3),
            },
            "xray": {"report_lines_with_xray": s.xray_lines, "sampled": s.xray_sampled},
            "api_gateway_access_logs": {
                "lines": s.apigw_lines,
                "bytes": s.apigw_bytes,
                "answered_without_lambda": s.apigw_rejected,
            },
            "users_seen": len(s.users),
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
    xray_traces, xray_how = _xray_traces(stats, factor, notes)
    access_bytes, rejected = _access_logs(stats, factor, requests, base, notes)
    hours = chosen.seconds / 3600
    hours_share = (
        min(1.0, stats.hours_with_traffic / hours) if stats._per_second and hours else None
    )
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
        xray_traces=xray_traces,
        xray_how=xray_how,
        access_log_bytes=access_bytes,
        apigw_rejected=rejected,
        metric_hours_share=hours_share,
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
    per_invocation = duration + cold_rate * init_ms
    users = [
        RouteUsage(
            user,
            r.requests * factor,
            (r.billed_ms if r.billed_ms else r.requests * per_invocation) * factor / 1000 * gb,
            r.response_bytes * factor,
        )
        for user, r in stats.users.items()
    ]
    if stats.rate_limited:
        notes.append(
            f"{stats.rate_limited / stats.requests:.1%} of requests were rate limited (still billed by API Gateway, Lambda and DynamoDB)"
        )
    return Projection(usage, routes, stats, chosen, factor, notes, users)


def _xray_traces(
    stats: LogStats, factor: float, notes: list[str]
) -> tuple[float | None, str | None]:
    """Traces recorded a month: the XRAY lines' `Sampled: true`, else the default rule applied
    to the requests seen in each second."""
    if stats.xray_lines:
        notes.append(
            f"X-Ray: {stats.xray_sampled:,} of {stats.xray_lines:,} invocations sampled "
            "(XRAY lines, Sampled: true)"
        )
        return stats.xray_sampled * factor, "measured from the XRAY lines (Sampled: true)"
    if not stats.requests or not stats._per_second:
        return None, None  # no timestamps: the estimate applies the rule to evenly spread requests
    traced = stats.traced_by_rule()
    notes.append(
        f"X-Ray: no XRAY lines; the default rule ({DEFAULT_RULE.label()}) applied to the requests "
        f"seen in each second: {traced:,.1f} of {stats.requests:,} traced"
    )
    return traced * factor, "default rule applied second by second to the requests seen"


def _access_logs(
    stats: LogStats, factor: float, requests: int, base: Usage, notes: list[str]
) -> tuple[float | None, float | None]:
    """API Gateway access-log bytes per Lambda request, and the requests it answered alone."""
    if not stats.apigw_lines:
        notes.append(
            f"no API Gateway access logs read: {base.access_log_bytes:g} bytes a request assumed, "
            "requests rejected before Lambda not counted"
        )
        return None, None
    rejected = stats.apigw_rejected
    notes.append(
        f"API Gateway access logs: {stats.apigw_lines:,} lines, {rejected:,} requests answered "
        "without Lambda (throttled or unrouted: billed by API Gateway only)"
    )
    reached = max(requests, stats.apigw_lines - rejected, 1)
    return stats.apigw_bytes / (reached + rejected), rejected * factor


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
    """(timestamp, message) of every event in an export (any format opskit.logs.events reads)."""
    from opskit.logs.events import read_events

    for event in read_events(path):
        message = event["message"]
        yield event.get("timestamp"), message if type(message) is str else str(message)


def iter_cloudwatch_events(
    logs: CloudWatchLogsClient,
    group: str,
    start: datetime,
    end: datetime,
    page_size: int | None = None,
) -> Iterator[tuple[int | None, str]]:
    """filter_log_events over [start, end), every page followed (opskit.logs.cloudwatch)."""
    from opskit.logs.cloudwatch import filter_events

    start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000) - 1
    for event in filter_events(logs, group, start_ms, end_ms, page_size=page_size):
        yield event.get("timestamp"), event.get("message", "")


def window_of(since: timedelta) -> float:
    return since.total_seconds()


def optional_events(
    logs: CloudWatchLogsClient, group: str, start: datetime, end: datetime
) -> Iterator[tuple[int | None, str]]:
    """Like iter_cloudwatch_events, but a missing group yields nothing (access logs are read
    when they exist; the estimate says when they were not)."""
    try:
        yield from iter_cloudwatch_events(logs, group, start, end)
    except NotFoundError:
        return
