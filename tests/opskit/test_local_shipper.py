"""The log shipper: synthesized Lambda platform lines and batched put_log_events (moto server)."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime

from opskit.local.shipper import PlatformLines, Sink, rss_peak_mb, run, to_events

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
    assert [e[1].split(" Max Memory Used: ")[0] for e in events] == [
        f"START RequestId: {rid} Version: $LATEST",
        line,
        f"END RequestId: {rid}",
        f"REPORT RequestId: {rid} Duration: 12.34 ms Billed Duration: 13 ms Memory Size: 512 MB",
    ]
    assert [e[0] for e in events] == [END_MS - 13, END_MS, END_MS, END_MS]
    memory = rss_peak_mb(os.getpid())
    assert memory > 10
    assert events[3][1].endswith(f" Max Memory Used: {memory} MB Init Duration: 487.66 ms")
    again = to_events(json.dumps({**ACCESS, "latency_ms": 1.0}), platform, now=0.0)
    assert again[3][1].endswith(
        f"Duration: 1.00 ms Billed Duration: 1 ms Memory Size: 512 MB Max Memory Used: {rss_peak_mb(os.getpid())} MB"
    )


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
