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


def apigw_line(request_id: str, status: int, integration: str = "41") -> str:
    """An API Gateway access line in the template's format."""
    return json.dumps(
        {
            "requestId": request_id,
            "routeKey": "ANY /api/{proxy+}",
            "status": str(status),
            "responseLatency": "45",
            "integrationLatency": integration,
            "integrationErrorMessage": "-",
            "ip": "203.0.113.9",
            "userAgent": "curl/8.5.0",
            "requestTimeEpoch": "1795000000000",
        },
        separators=(",", ":"),
    )


def test_xray_traces_are_counted_from_the_xray_lines():
    events = []
    for i in range(10):
        events += invocation(f"r{i}", "/api/users", T0 + i * 1000, 40, sampled=(i % 5 == 0))
    events[-1]["timestamp"] = T0 + 10_000
    stats = aggregate(pairs(events))
    assert (stats.xray_lines, stats.xray_sampled) == (10, 2)
    projection = project_month(stats, Usage())
    assert projection.usage.xray_traces == pytest.approx(2 * projection.factor)
    assert any("2 of 10 invocations sampled" in n for n in projection.notes)


def test_without_xray_lines_the_default_rule_runs_second_by_second():
    events = []
    for i in range(30):  # 30 requests in 3 seconds: 10 a second -> 1 + 0.05 x 9 a second
        events += invocation(f"r{i}", "/api/users", T0 + (i // 10) * 1000 + i, 40)
    stats = aggregate(pairs(events))
    assert stats.xray_lines == 0
    assert stats.traced_by_rule() == pytest.approx(3 * (1 + 0.05 * 9))


def test_api_gateway_access_lines_are_priced_apart_and_rejections_counted():
    function = pairs(sample_events(100))
    access = [(T0 + i, apigw_line(f"a{i}", 200)) for i in range(100)]
    access += [(T0 + 200 + i, apigw_line(f"t{i}", 429, "-")) for i in range(20)]  # throttled
    stats = aggregate(function)
    stats.merge_access_logs(aggregate(access))
    assert (stats.apigw_lines, stats.apigw_rejected) == (120, 20)
    size = sum(len(m) + EVENT_OVERHEAD_BYTES for _, m in access)
    assert stats.apigw_bytes == size
    assert stats.bytes_ingested == aggregate(function).bytes_ingested  # kept apart
    projection = project_month(stats, Usage())
    assert projection.usage.apigw_rejected == pytest.approx(20 * projection.factor)
    assert projection.usage.access_log_bytes == pytest.approx(size / 120)


def test_per_user_cost_attribution_top_n():
    events = []
    for i in range(40):
        user = "alice" if i < 30 else ("bob" if i < 38 else None)
        events += invocation(f"r{i}", "/api/users", T0 + i * 1000, 40 if user != "bob" else 400)
        events[-3]["message"] = events[-3]["message"].replace(
            '"user_id": "u1"', json.dumps({"user_id": user})[1:-1]
        )
    events[-1]["timestamp"] = T0 + 40_000
    result = estimate_from_events(pairs(events), Usage(), load_prices(), "none", None, {}, top=1)
    users = result.users
    assert (
        users[0]["user"] == "alice"
    )  # 30 requests: request-driven items dominate bob's 8 slow ones
    by_name = {u["user"]: u for u in users}
    assert "(2 other users)" in by_name and users[-1]["user"].startswith("(shared")
    total = sum(u["cost_usd"] for u in users)
    assert total == pytest.approx(result.result.total, abs=1e-3)


def test_memory_what_if_scales_only_the_gateways_own_work():
    events = []
    for i in range(20):  # latency 40 ms of which 30 ms upstream wait: 25 % own work
        events += invocation(f"r{i}", "/api/users", T0 + i * 1000, 40, latency_ms=40.0)
    events[-1]["timestamp"] = T0 + 20_000
    from opskit.cost.whatif import WhatIf

    base = estimate_from_events(pairs(events), Usage(), load_prices(), "none", None, {})
    stats = aggregate(pairs(events))
    assert stats.upstream_latency_ms == pytest.approx(20 * 5.0)  # events.py: upstream 5 ms
    share = (40 - 5) / 40
    bigger = estimate_from_events(
        pairs(events), Usage(), load_prices(), "none", None, {}, what_if=WhatIf(memory_mb=1024)
    )
    # 512 -> 1024 MB doubles CPU: own work halves, upstream wait stays
    expected = base.result.usage.duration_ms * ((1 - share) + share * 512 / 1024)
    assert bigger.result.usage.duration_ms == pytest.approx(expected)
    assert bigger.result.usage.memory_mb == 1024
    assert any(
        "what-if: memory 512 -> 1024 MB" in n and "measured" in n for n in bigger.projection.notes
    )
    assert bigger.baseline is not None and bigger.to_dict()["what_if"][
        "measured_total_usd"
    ] == pytest.approx(base.result.total)
    given = estimate_from_events(
        pairs(events),
        Usage(),
        load_prices(),
        "none",
        None,
        {},
        what_if=WhatIf(arch="x86_64", duration_scale=0.8),
    )
    assert given.result.usage.duration_ms == pytest.approx(base.result.usage.duration_ms * 0.8)
    assert any("given by --duration-scale" in n for n in given.projection.notes)
    unmeasured = estimate_from_events(
        pairs(events), Usage(), load_prices(), "none", None, {}, what_if=WhatIf(arch="x86_64")
    )
    assert any("assumed unchanged" in n for n in unmeasured.projection.notes)


def test_events_without_timestamps_fall_back_to_the_evenly_spread_rule():
    events = [(None, e["message"]) for e in sample_events(20)]
    stats = aggregate(events)
    projection = project_month(stats, Usage(), window_seconds=3600)
    assert projection.usage.xray_traces is None and projection.usage.metric_hours_share is None
    assert projection.usage.traced()[0] > 0  # not $0 of X-Ray for want of timestamps
