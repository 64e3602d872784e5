"""From-logs aggregation: REPORT and access lines, files, CloudWatch on the moto server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from opskit.cost.estimate import estimate_from_events
from opskit.cost.logs import (
    EVENT_OVERHEAD_BYTES,
    MONTH_SECONDS,
    aggregate,
    iter_cloudwatch_events,
    iter_file_events,
    project_month,
)
from opskit.cost.model import Usage
from opskit.errors import ConfigError, NotFoundError
from opskit.pricing import load_prices
from tests.opskit.cost.events import T0, invocation, sample_events


def pairs(events):
    return [(e["timestamp"], e["message"]) for e in events]


def test_aggregate_reads_report_and_access_lines():
    events = sample_events(100)
    stats = aggregate(pairs(events))
    assert stats.events == 400
    assert stats.requests == 100 and stats.invocations == 100
    # today's REPORT format: the cold start's Billed Duration is ceil(39.5 + 300.2) = 340 ms,
    # INIT inside it, counted once
    assert stats.cold_starts == 1 and stats.init_included == 1 and stats.init_ms == 300.2
    assert stats.billed_ms == 74 * 40 + 340 + 25 * 2
    assert stats.rate_limited == 10
    assert stats.memory_mb == 512
    assert stats.routes["/api/users"].requests == 75
    assert stats.routes["/api/users"].billed_ms == 74 * 40 + 340  # joined by function_request_id
    assert stats.routes["/health/live"].billed_ms == 25 * 2
    assert stats.bytes_ingested == sum(
        len(e["message"].encode()) + EVENT_OVERHEAD_BYTES for e in events
    )
    assert stats.observed_seconds == 3600  # first access line to last REPORT line


def test_projection_scales_to_a_730_hour_month():
    stats = aggregate(pairs(sample_events(100)))
    projection = project_month(stats, Usage())  # a file without --since: the traffic's own span
    assert projection.basis.kind == "observed"
    assert projection.factor == pytest.approx(MONTH_SECONDS / 3600)
    assert projection.usage.requests == pytest.approx(100 * 730)
    # run part + INIT part = what was billed: (3350 - 300.2) / 100 per invocation, plus 1 % x 300.2
    assert projection.usage.duration_ms == pytest.approx((74 * 40 + 340 + 25 * 2 - 300.2) / 100)
    assert projection.usage.cold_start_rate == pytest.approx(0.01)
    assert projection.usage.init_ms == pytest.approx(300.2)
    gb_s = projection.usage.lambda_gb_seconds / projection.factor
    assert gb_s == pytest.approx((74 * 40 + 340 + 25 * 2) / 1000 * 0.5)  # INIT not charged twice
    assert projection.usage.response_bytes == 1200
    assert any("rate limited" in note for note in projection.notes)
    # 1 h of traffic in a 2 h window: still the observed rate, unless --basis window
    assert project_month(stats, Usage(), window_seconds=7200).usage.requests == pytest.approx(
        100 * 730
    )
    assert project_month(
        stats, Usage(), window_seconds=7200, basis="window"
    ).usage.requests == pytest.approx(100 * 365)


def test_without_report_lines_latency_stands_in_and_says_so():
    events = [
        e for e in sample_events(20) if not e["message"].startswith(("REPORT", "START", "END"))
    ]
    projection = project_month(aggregate(pairs(events)), Usage(memory_mb=1024))
    assert projection.usage.duration_ms == 13  # ceil(12.5 ms latency)
    assert projection.usage.memory_mb == 512  # from function_memory_size in the access lines
    assert any("no Lambda REPORT lines" in note for note in projection.notes)


def test_no_traffic_is_a_clear_error():
    with pytest.raises(NotFoundError, match="no gateway traffic"):
        project_month(aggregate([(T0, "START RequestId: x Version: $LATEST")]), Usage())


def test_estimate_from_events_has_routes_and_what_if_requests():
    prices = load_prices()
    result = estimate_from_events(pairs(sample_events(200)), Usage(), prices, "none", None, {})
    data = result.to_dict()
    assert data["from_logs"]["requests_seen"] == 200
    routes = {r["route"]: r for r in data["routes"]}
    assert routes["/api/users"]["requests_month"] == round(150 * 730)
    assert routes["/api/users"]["per_million_usd"] > routes["/health/live"]["per_million_usd"]
    assert sum(r["cost_usd"] for r in data["routes"]) == pytest.approx(data["total_usd"], abs=1e-3)
    bigger = estimate_from_events(
        pairs(sample_events(200)), Usage(), prices, "none", None, {"requests": 10e6}
    ).to_dict()
    assert bigger["usage"]["requests"] == 10e6
    assert bigger["usage"]["invocations"] == pytest.approx(10e6)
    assert bigger["total_usd"] > data["total_usd"]


def test_file_as_json_lines_and_as_a_document(tmp_path):
    events = sample_events(10)
    lines = tmp_path / "events.jsonl"
    lines.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    document = tmp_path / "events.json"
    document.write_text(json.dumps({"events": events, "searchedLogStreams": []}, indent=2))
    assert list(iter_file_events(lines)) == pairs(events)
    assert list(iter_file_events(document)) == pairs(events)


def test_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(NotFoundError):
        list(iter_file_events(tmp_path / "missing.jsonl"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"timestamp": 1, "message": "x"}\nnot json\n')
    with pytest.raises(ConfigError, match=":2 is not JSON"):
        list(iter_file_events(bad))
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"timestamp": 1}\n')
    with pytest.raises(ConfigError, match="not a log event"):
        list(iter_file_events(wrong))


def test_cloudwatch_events_are_paginated_on_moto(clients):
    logs = clients.client("logs")
    group = "/aws/lambda/opskit-dev-gateway"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    now = datetime.now(UTC).replace(microsecond=0)
    base = int((now - timedelta(minutes=30)).timestamp() * 1000)
    events = []
    for i in range(30):
        events += invocation(f"r{i}", "/api/users", base + i * 1000, 40)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[{"timestamp": e["timestamp"], "message": e["message"]} for e in events],
    )
    got = list(iter_cloudwatch_events(logs, group, now - timedelta(hours=1), now, page_size=25))
    assert len(got) == 120  # 5 pages of 25, all followed
    assert aggregate(got).requests == 30
    with pytest.raises(NotFoundError, match="not found"):
        list(iter_cloudwatch_events(logs, "/aws/lambda/nope", now - timedelta(hours=1), now))


def test_lambda_json_log_format_platform_report():
    record = {
        "requestId": "r1",
        "metrics": {
            "durationMs": 10.2,
            "billedDurationMs": 11,
            "memorySizeMB": 1024,
            "maxMemoryUsedMB": 90,
            "initDurationMs": 250.5,
        },
    }
    events = [
        (
            T0,
            json.dumps(
                {"time": "2026-11-17T10:00:00.000Z", "type": "platform.report", "record": record}
            ),
        ),
        (T0 + 1000, json.loads(json.dumps(invocation("r1", "/api/orders", T0, 11)[1]["message"]))),
    ]
    stats = aggregate(events)
    assert (
        stats.invocations,
        stats.billed_ms,
        stats.memory_mb,
        stats.cold_starts,
        stats.init_ms,
    ) == (1, 11.0 + 251, 1024, 1, 251)  # old format dated 2026: INIT (250.5) added once
    assert stats.routes["/api/orders"].billed_ms == 262.0


def test_init_is_never_charged_twice_and_old_logs_keep_the_old_rule():
    """The REPORT formats of both eras, through aggregate and the projection (issue 14 item 1)."""
    before = int(datetime(2025, 3, 1, tzinfo=UTC).timestamp() * 1000)
    today = invocation("r-new", "/api/users", T0, 40, init_ms=300.2)  # Billed 340 ms
    old_now = invocation("r-old", "/api/users", T0 + 10, 40, init_ms=300.2, era="old")  # 40 ms
    old_then = invocation("r-then", "/api/users", before, 40, init_ms=300.2, era="old")
    assert "Billed Duration: 340 ms" in today[3]["message"]
    assert "Billed Duration: 40 ms" in old_now[3]["message"]
    stats = aggregate(pairs(today))
    assert stats.billed_ms == 340  # the old code made it 340 + 301
    assert aggregate(pairs(old_now)).billed_ms == 40 + 301  # pre-Aug format, dated after: once
    assert aggregate(pairs(old_then)).billed_ms == 40  # dated before 2025-08-01: INIT was free
    both = aggregate(pairs(old_then + today))
    assert (both.init_included, both.init_free, both.billed_ms) == (1, 1, 380)
    projection = project_month(stats, Usage())
    assert projection.usage.lambda_gb_seconds == pytest.approx(340 / 1000 * 0.5 * projection.factor)
    assert any("already includes INIT" in note for note in projection.notes)
    assert any("before 2025-08-01" in note for note in project_month(both, Usage()).notes)
