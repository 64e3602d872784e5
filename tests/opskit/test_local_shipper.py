"""The log shipper: synthesized Lambda platform lines and batched put_log_events (moto server)."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime

from opskit.local.shipper import PlatformLines, Sink, rss_peak_mb, run, to_events
from opskit.logs.platform import parse_report

ACCESS = {
    "level": "INFO",
    "location": "gateway.access",
    "message": "request",
    "timestamp": "2026-11-24T10:00:00.500Z",
    "function_request_id": "3f1c0a52-5b1e-4c1a-9e8e-0b6b5c2f1d10",
    "method": "GET",
    "path": "/health/live",
    "route": "/health/live",
    "status": 200,
    "latency_ms": 12.34,
}
END_MS = int(datetime(2026, 11, 24, 10, 0, 0, 500000, tzinfo=UTC).timestamp() * 1000)


def test_access_line_gets_start_end_report_with_init_duration_once():
    started = END_MS / 1000 - 0.5  # process started 500 ms before the request ended
    platform = PlatformLines(memory_mb=512, gateway_pid=os.getpid(), started=started)
    line = json.dumps(ACCESS)
    events = to_events(line + "\n", platform, now=0.0)
    rid = ACCESS["function_request_id"]
    memory = rss_peak_mb(os.getpid())
    assert memory > 10
    # Written as Lambda writes REPORT today: Billed Duration = ceil(12.34 + 487.66) = 500 ms,
    # INIT included (issue 14: the old line said 13 ms and cost added INIT on top).
    assert [e[1] for e in events] == [
        f"START RequestId: {rid} Version: $LATEST",
        line,
        f"END RequestId: {rid}",
        f"REPORT RequestId: {rid}\tDuration: 12.34 ms\tBilled Duration: 500 ms\tMemory Size: 512 MB"
        f"\tMax Memory Used: {memory} MB\tInit Duration: 487.66 ms\t",
    ]
    assert [e[0] for e in events] == [END_MS - 13, END_MS, END_MS, END_MS]
    report = parse_report(events[3][1])
    assert report is not None and report.init_included and report.charged_ms(END_MS) == 500
    again = to_events(json.dumps({**ACCESS, "latency_ms": 1.0}), platform, now=0.0)
    assert again[3][1] == (
        f"REPORT RequestId: {rid}\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 512 MB"
        f"\tMax Memory Used: {rss_peak_mb(os.getpid())} MB\t"
    )


def test_traced_requests_get_an_xray_line_sampled_by_the_default_rule():
    platform = PlatformLines(512, os.getpid(), END_MS / 1000 - 1)
    trace = "1-6745f6a0-0123456789abcdef01234567"
    reports = [
        parse_report(
            to_events(json.dumps({**ACCESS, "xray_trace_id": trace}), platform, now=0.0)[3][1]
        )
        for _ in range(200)  # 200 requests in one second: 1 from the reservoir + 5 % of 199
    ]
    assert all(r is not None and r.xray is not None and r.xray.trace_id == trace for r in reports)
    sampled = sum(r.xray.sampled for r in reports)  # type: ignore[union-attr]
    assert reports[0].xray.sampled  # type: ignore[union-attr]
    assert 1 <= sampled <= 1 + 40  # binomial(199, 0.05): mean 10, P(> 40) is negligible


def test_other_lines_are_shipped_as_they_are():
    platform = PlatformLines(512, os.getpid(), 0.0)
    error = json.dumps(
        {
            "level": "ERROR",
            "message": "upstream failed",
            "timestamp": "2026-11-24T10:00:00.500Z",
            "error_code": "upstream_timeout",
        }
    )
    assert to_events(error, platform, now=5.0) == [(END_MS, error)]
    assert to_events("plain text from a library\n", platform, now=5.0) == [
        (5000, "plain text from a library")
    ]
    assert to_events("   \n", platform, now=5.0) == []


def test_run_ships_in_time_order_into_the_log_group(clients):
    logs = clients.client("logs")
    sink = Sink(logs, "/aws/lambda/opskit-local-gateway", "2026/11/24/[$LATEST]0123456789abcdef")
    lines = [json.dumps({**ACCESS, "function_request_id": f"req-{i}"}) + "\n" for i in range(3)]
    tee = io.StringIO()
    shipped = run(iter(lines), sink, PlatformLines(256, os.getpid(), END_MS / 1000 - 1), tee)
    assert shipped == 12
    assert tee.getvalue() == "".join(lines)
    events = logs.get_log_events(
        logGroupName="/aws/lambda/opskit-local-gateway",
        logStreamName="2026/11/24/[$LATEST]0123456789abcdef",
        startFromHead=True,
    )["events"]
    assert len(events) == 12
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    reports = [e["message"] for e in events if e["message"].startswith("REPORT")]
    assert [r.split()[2] for r in reports] == ["req-0", "req-1", "req-2"]
    assert ["Init Duration" in r for r in reports] == [True, False, False]
    assert all("Memory Size: 256 MB" in r for r in reports)
