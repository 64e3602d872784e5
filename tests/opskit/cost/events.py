"""Log events shaped like the brief's contracts: gateway access lines and Lambda platform lines."""

from __future__ import annotations

import json

from opskit.logs import platform

T0 = 1_795_000_000_000  # ms, 2026-11-17T...Z
OMIT = object()  # leave a key out of the access line (lines from before the field existed)


def access_line(
    request_id: str,
    route: str,
    *,
    ts_ms: int,
    rate_limited: bool = False,
    request_bytes: int = 300,
    response_bytes: int = 1200,
    latency_ms: float = 12.5,
    memory: int = 512,
    method: str = "GET",
    status: int | None = None,
    auth: object = "jwt",
) -> str:
    line = {
        "level": "INFO",
        "location": "gateway.middleware:log_request:42",
        "message": "request",
        "timestamp": "2026-11-17T10:00:00.123Z",
        "service": "gateway",
        "cold_start": False,
        "function_name": "opskit-dev-gateway",
        "function_memory_size": memory,
        "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:opskit-dev-gateway",
        "function_request_id": request_id,
        "xray_trace_id": "1-5759e988-bd862e3fe1be46a994272793",
        "correlation_id": f"c-{request_id}",
        "method": method,
        "path": route,
        "route": route,
        "status": status if status is not None else (429 if rate_limited else 200),
        "latency_ms": latency_ms,
        "upstream": "users" if route.startswith("/api/users") else None,
        "upstream_latency_ms": 5.0,
        "upstream_status": 200,
        "user_id": "u1",
        "client_ip": "203.0.113.9",
        "rate_limited": rate_limited,
        "request_bytes": request_bytes,
        "response_bytes": response_bytes,
        "auth": auth,
    }
    if auth is OMIT:
        del line["auth"]
    return json.dumps(line)


def report_line(
    request_id: str,
    billed_ms: int,
    *,
    memory: int = 512,
    init_ms: float | None = None,
    era: str = "today",
    sampled: bool | None = None,
) -> str:
    """A text REPORT event as Lambda writes it: `billed_ms` is the invocation's own billed time;
    on a cold start today's format adds INIT into Billed Duration (since 2025-08-01), the old
    format leaves it beside it. `sampled` appends the XRAY line of a traced invocation."""
    duration = billed_ms - 0.5
    billed = billed_ms
    if init_ms is not None and era == "today":
        billed = platform.billed_duration(duration, init_ms)
    xray = None
    if sampled is not None:
        xray = platform.Xray("1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", sampled)
    return platform.format_report(
        platform.Report(request_id, duration, billed, memory, 81, init_ms, xray=xray)
    )


def invocation(
    request_id: str,
    route: str,
    ts_ms: int,
    billed_ms: int,
    *,
    init_ms: float | None = None,
    era: str = "today",
    sampled: bool | None = None,
    **access,
) -> list[dict]:
    return [
        {"timestamp": ts_ms, "message": f"START RequestId: {request_id} Version: $LATEST\n"},
        {
            "timestamp": ts_ms + 1,
            "message": access_line(request_id, route, ts_ms=ts_ms, **access) + "\n",
        },
        {"timestamp": ts_ms + 2, "message": f"END RequestId: {request_id}\n"},
        {
            "timestamp": ts_ms + 3,
            "message": report_line(
                request_id, billed_ms, init_ms=init_ms, era=era, sampled=sampled
            ),
        },
    ]


def sample_events(n: int = 100, span_ms: int = 3_600_000) -> list[dict]:
    """n invocations spread over span_ms: 3 in 4 on /api/users (40 ms), 1 in 4 on /health/live (2 ms);
    the first is a cold start (300.2 ms INIT); every 10th request is rate limited."""
    events: list[dict] = []
    step = span_ms // max(1, n - 1)
    for i in range(n):
        route, billed = ("/health/live", 2) if i % 4 == 3 else ("/api/users", 40)
        events += invocation(
            f"req-{i:06d}",
            route,
            T0 + i * step,
            billed,
            init_ms=300.2 if i == 0 else None,
            rate_limited=(i % 10 == 9),
            auth=None if route == "/health/live" else "jwt",
        )
    # the traffic (first access line at T0 + 1 ms .. the last REPORT line) spans span_ms exactly
    events[-1]["timestamp"] = T0 + 1 + span_ms
    return events
