"""Metrics derived from access lines on the local account: the mapping, and top reading them back.

The mapping is checked on its own (counts, the 4xx/5xx split, the Errors rule, latency
statistics, per-minute buckets, the 1000-datum limit); then real access lines go through
the shipper's loop into a moto server over HTTP and are read back with get_metric_data,
by the same queries and the same command (`opskit top`) that read them in AWS.
"""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from click.testing import CliRunner

from opskit.cli import cli
from opskit.dashboards.top import aligned_window, fetch, metric_queries
from opskit.local.metrics import MAX_DATUMS, Target, metric_data
from opskit.local.shipper import (
    MetricSink,
    PlatformLines,
    Sink,
    epoch_ms,
    is_access,
    read_line,
    run,
)
from tests.conftest import free_port
from tests.opskit.alarms.fake_stack import OUTPUTS, create_fake_stack

TARGET = Target(api_id="local", stage="$default", function_name="opskit-local-gateway")
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def access_line(at: datetime, status: int = 200, latency_ms: float | None = 10.0, **extra) -> str:
    record = {
        "level": "INFO",
        "location": "middleware",
        "message": "request",
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
        "function_request_id": f"req-{at.timestamp()}-{status}",
        "method": "GET",
        "path": "/api/users",
        "route": "/api/users",
        "status": status,
        "latency_ms": latency_ms,
        **extra,
    }
    return json.dumps(record) + "\n"


def accesses(lines: list[str]) -> list[tuple[int, dict]]:
    """What the shipper hands to metric_data: (epoch ms, record) of every access line."""
    parsed = [read_line(line)[1] for line in lines]
    return [(epoch_ms(r["timestamp"], 0.0), r) for r in parsed if is_access(r)]


def by_metric(calls: list[tuple[str, list[dict]]]) -> dict[tuple[str, str, datetime], dict]:
    return {
        (namespace, d["MetricName"], d["Timestamp"]): d for namespace, data in calls for d in data
    }


def test_counts_status_split_and_errors_rule():
    statuses = [200, 201, 404, 429, 500, 502, 504]
    lines = [access_line(T0 + timedelta(seconds=i), s) for i, s in enumerate(statuses)]
    lines.append(
        access_line(T0 + timedelta(seconds=30), 500, upstream="users", upstream_status=500)
    )
    lines.append('{"level": "ERROR", "message": "upstream failed", "error_code": "x"}\n')
    lines.append("plain text\n")
    got = by_metric(metric_data(accesses(lines), TARGET))

    def stats(namespace: str, name: str) -> dict:
        return got[(namespace, name, T0)]["StatisticValues"]

    assert stats("AWS/ApiGateway", "Count") == {
        "SampleCount": 8,
        "Sum": 8,
        "Minimum": 1,
        "Maximum": 1,
    }
    assert stats("AWS/ApiGateway", "4xx") == {
        "SampleCount": 8,
        "Sum": 2,
        "Minimum": 0,
        "Maximum": 1,
    }
    assert stats("AWS/ApiGateway", "5xx")["Sum"] == 4  # 500, 502, 504 and the proxied 500
    assert stats("AWS/Lambda", "Invocations")["Sum"] == 8
    # Only the gateway's own 500 is a function error; a proxied upstream 500, 502 and 504 are not.
    assert stats("AWS/Lambda", "Errors") == {"SampleCount": 8, "Sum": 1, "Minimum": 0, "Maximum": 1}
    assert {(ns, name) for ns, name, _ in got} == {
        ("AWS/ApiGateway", m) for m in ("Count", "4xx", "5xx", "Latency", "IntegrationLatency")
    } | {("AWS/Lambda", m) for m in ("Invocations", "Errors", "Duration")}


def test_latency_statistics_and_units():
    lines = [
        access_line(T0 + timedelta(seconds=1), latency_ms=12.5),
        access_line(T0 + timedelta(seconds=2), latency_ms=250.0),
        access_line(T0 + timedelta(seconds=3), latency_ms=3),
        access_line(T0 + timedelta(seconds=4), latency_ms=None),  # counted, no latency
    ]
    got = by_metric(metric_data(accesses(lines), TARGET))
    for namespace, name in (
        ("AWS/ApiGateway", "Latency"),
        ("AWS/ApiGateway", "IntegrationLatency"),
        ("AWS/Lambda", "Duration"),
    ):
        datum = got[(namespace, name, T0)]
        assert datum["Unit"] == "Milliseconds"
        assert datum["StatisticValues"] == {
            "SampleCount": 3,
            "Sum": 265.5,
            "Minimum": 3,
            "Maximum": 250,
        }
    assert got[("AWS/ApiGateway", "Count", T0)]["StatisticValues"]["Sum"] == 4
    assert got[("AWS/ApiGateway", "Count", T0)]["Unit"] == "Count"


def test_one_datum_per_metric_per_minute_with_the_dimensions_top_reads():
    lines = [
        access_line(T0 + timedelta(seconds=59, microseconds=999000), 500),
        access_line(T0 + timedelta(minutes=1), 200),
        access_line(T0 + timedelta(minutes=1, seconds=30), 404),
    ]
    calls = metric_data(accesses(lines), TARGET)
    got = by_metric(calls)
    minute1 = T0 + timedelta(minutes=1)
    assert sorted({ts for _, _, ts in got}) == [T0, minute1]
    assert got[("AWS/ApiGateway", "Count", T0)]["StatisticValues"]["Sum"] == 1
    assert got[("AWS/ApiGateway", "5xx", T0)]["StatisticValues"]["Sum"] == 1
    assert got[("AWS/ApiGateway", "Count", minute1)]["StatisticValues"]["Sum"] == 2
    assert got[("AWS/ApiGateway", "4xx", minute1)]["StatisticValues"]["Sum"] == 1
    assert got[("AWS/ApiGateway", "5xx", minute1)]["StatisticValues"]["Sum"] == 0
    assert [ns for ns, _ in calls] == ["AWS/ApiGateway", "AWS/Lambda"]  # 16 datums, two calls
    # Exactly the namespace, metric names and dimensions `opskit top` asks for.
    for query in metric_queries("local", "$default", "opskit-local-gateway", 60):
        metric = query["MetricStat"]["Metric"]
        datum = got[(metric["Namespace"], metric["MetricName"], T0)]
        assert datum["Dimensions"] == metric["Dimensions"]


def test_batches_hold_at_most_1000_datums():
    minutes = 250  # 5 API Gateway metrics x 250 = 1250 datums; 3 Lambda metrics x 250 = 750
    lines = [access_line(T0 + timedelta(minutes=m, seconds=7)) for m in range(minutes)]
    calls = metric_data(accesses(lines), TARGET)
    assert [(ns, len(data)) for ns, data in calls] == [
        ("AWS/ApiGateway", MAX_DATUMS),
        ("AWS/ApiGateway", 250),
        ("AWS/Lambda", 750),
    ]
    counts = [
        d["StatisticValues"]["Sum"] for _, data in calls for d in data if d["MetricName"] == "Count"
    ]
    assert len(counts) == minutes and sum(counts) == minutes
    assert metric_data([], TARGET) == []


def test_metric_failure_does_not_stop_log_shipping(clients, capsys):
    logs = clients.client("logs")
    dead = boto3.client(  # nothing listens there: every put_metric_data fails
        "cloudwatch",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    sink = Sink(logs, "/aws/lambda/opskit-local-gateway", "2026/11/24/[$LATEST]metrics")
    lines = [access_line(T0 + timedelta(seconds=i)) for i in range(3)]
    platform = PlatformLines(512, os.getpid(), T0.timestamp() - 1)
    assert run(iter(lines), sink, platform, metrics=MetricSink(dead, TARGET)) == 12
    events = logs.get_log_events(
        logGroupName="/aws/lambda/opskit-local-gateway",
        logStreamName="2026/11/24/[$LATEST]metrics",
    )["events"]
    assert len(events) == 12
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 1
    assert warnings[0].startswith("shipper: warning: could not publish metrics for 3 requests: ")


@pytest.fixture
def recent_lines() -> tuple[datetime, list[str]]:
    """Ten requests over two recent minutes: 6 + 4, one 404, one gateway 500, one proxied 502."""
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    specs = [(0, 200, 20.0), (5, 200, 40.0), (10, 404, 2.0), (15, 500, 8.0), (20, 200, 30.0)]
    specs += [(25, 200, 100.0), (65, 200, 10.0), (70, 200, 50.0), (75, 200, 60.0)]
    lines = [access_line(minute + timedelta(seconds=s), st, ms) for s, st, ms in specs]
    lines.append(
        access_line(
            minute + timedelta(seconds=80), 502, 5000.0, upstream="users", upstream_status=None
        )
    )
    return minute, lines


def test_shipped_lines_read_back_by_top(local_env, clients, recent_lines):
    minute, lines = recent_lines
    create_fake_stack(clients, outputs={**OUTPUTS, "ApiId": "local"})  # the local ApiId output
    cw = clients.client("cloudwatch")
    sink = Sink(clients.client("logs"), "/aws/lambda/opskit-local-gateway", "s")
    platform = PlatformLines(512, os.getpid(), minute.timestamp() - 1)
    tee = io.StringIO()
    assert run(iter(lines), sink, platform, tee, MetricSink(cw, TARGET)) == 40

    start, end = aligned_window(datetime.now(UTC), 1, 60)
    queries = metric_queries("local", "$default", "opskit-local-gateway", 60, "Maximum")
    data = fetch(cw, queries, start, end)
    minute1 = minute + timedelta(minutes=1)
    assert {ts.astimezone(UTC): v for ts, v in data["requests"].items()} == {minute: 6, minute1: 4}
    assert {ts.astimezone(UTC): v for ts, v in data["errors5xx"].items()} == {minute: 1, minute1: 1}
    assert {ts.astimezone(UTC): v for ts, v in data["invocations"].items()} == {
        minute: 6,
        minute1: 4,
    }
    assert sum(data["durationms"].values()) == 5320.0
    assert {ts.astimezone(UTC): v for ts, v in data["latencyp99"].items()} == {
        minute: 100.0,
        minute1: 5000.0,
    }

    def one(namespace: str, name: str, stat: str, dims: list[dict]) -> list[float]:
        result = cw.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "m",
                    "MetricStat": {
                        "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dims},
                        "Period": 3600,
                        "Stat": stat,
                    },
                }
            ],
            StartTime=start,
            EndTime=end,
        )["MetricDataResults"][0]
        return result["Values"]

    api = queries[0]["MetricStat"]["Metric"]["Dimensions"]
    fn = [{"Name": "FunctionName", "Value": "opskit-local-gateway"}]
    assert one("AWS/ApiGateway", "4xx", "Sum", api) == [1.0]
    assert one("AWS/ApiGateway", "Latency", "SampleCount", api) == [10.0]
    assert one("AWS/ApiGateway", "IntegrationLatency", "Average", api) == [532.0]
    assert one("AWS/Lambda", "Errors", "Sum", fn) == [1.0]  # the 500, not the 502

    result = CliRunner().invoke(
        cli, ["--env", "local", "top", "--hours", "1", "--period", "60"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "opskit-local · last 1h · 60s points" in result.output
    assert "10 requests, 2 5xx" in result.output
    assert "Latency max" in result.output and "max 5,000 ms" in result.output
    assert "no data in this window" not in result.output
