"""From-logs projection basis (observed span vs window), session reads/writes, fixed items."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from opskit.aws import ClientFactory
from opskit.cli import cli
from opskit.config import Environment
from opskit.cost.estimate import base_usage, estimate_from_events
from opskit.cost.fixed import baseline_fixed_items, fixed_items_or_options
from opskit.cost.logs import (
    MIN_SPAN_SECONDS,
    MONTH_SECONDS,
    SESSION_LOOKUP_RRU,
    SESSION_WRITE_WRU,
    aggregate,
    choose_basis,
    project_month,
)
from opskit.cost.model import Usage, estimate
from opskit.errors import ConfigError, UsageError
from opskit.pricing import load_prices
from tests.opskit.cost.events import OMIT, T0, invocation

WEEK = 7 * 86400.0


def burst(n: int, span_ms: int, start_ms: int = T0, **access) -> list[tuple[int, str]]:
    """n invocations whose traffic (first access line .. last REPORT line) spans span_ms."""
    step = (span_ms - 3) // max(1, n - 1)
    events: list[dict] = []
    for i in range(n):
        events += invocation(f"b{i:05d}", "/api/users", start_ms + i * step, 30, **access)
    events[-1]["timestamp"] = start_ms + 1 + span_ms  # the last REPORT line
    return [(e["timestamp"], e["message"]) for e in events]


def env(settings: dict | None = None) -> Environment:
    return Environment(
        name="dev",
        stack_name="opskit-dev",
        region="us-east-1",
        project="opskit",
        settings=settings or {},
    )


# --- basis ---------------------------------------------------------------------------------


def test_a_burst_in_a_7_day_window_is_projected_at_its_observed_rate():
    stats = aggregate(burst(3000, 32_000))
    projection = project_month(stats, Usage(), window_seconds=WEEK)
    assert projection.basis.kind == "observed"
    assert projection.basis.seconds == pytest.approx(32.0)
    assert projection.usage.requests == pytest.approx(3000 * MONTH_SECONDS / 32)
    label = projection.notes[0]
    assert label.startswith("observed 3,000 requests over 32 s (2026-11-")
    assert "projected at that rate to a 730-hour month" in label
    summary = projection.summary()["projection"]
    assert summary["basis"] == "observed" and summary["window_seconds"] == WEEK
    assert summary["first_traffic"].endswith("Z") and summary["label"] == label
    # the old behaviour, on request: the whole window
    window = project_month(stats, Usage(), window_seconds=WEEK, basis="window")
    assert window.basis.kind == "window"
    assert window.usage.requests == pytest.approx(3000 * 730 / 168)
    assert "3,000 requests in the 7-day window" in window.notes[0]


def test_traffic_over_the_whole_window_is_projected_from_the_window():
    stats = aggregate(burst(50, 3_600_000))
    assert stats.observed_seconds == pytest.approx(3600)
    at = project_month(stats, Usage(), window_seconds=3600)  # boundary: span == window
    assert at.basis.kind == "window" and "1-hour window" in at.notes[0]
    assert at.usage.requests == pytest.approx(50 * 730)
    just_over = project_month(stats, Usage(), window_seconds=3601)  # span 1 s short: observed
    assert just_over.basis.kind == "observed"
    assert just_over.usage.requests == pytest.approx(50 * 730)


def test_minimum_span_and_window_clamp():
    stats = aggregate(burst(2, 1_000))  # two requests 1 s apart: not a rate
    basis = choose_basis(stats, WEEK)
    assert basis.kind == "observed" and basis.seconds == MIN_SPAN_SECONDS
    assert basis.minimum_applied and "10 s minimum span" in basis.label(1.0)
    assert choose_basis(stats, 5.0).seconds == 5.0  # never longer than the window read
    single = aggregate(burst(1, 3))
    assert choose_basis(single, None).seconds == MIN_SPAN_SECONDS
    with pytest.raises(UsageError, match="--basis window without a window"):
        choose_basis(stats, None, "window")


# --- DynamoDB from the access line's `auth` -----------------------------------------------------


def test_session_reads_and_writes_are_counted_from_access_lines():
    events = burst(6, 60_000, auth="session") + burst(4, 60_000, T0 + 1, auth="jwt")
    events += [
        (T0 + 10, e["message"])
        for e in invocation("c1", "/auth/sessions", T0, 5, method="POST", status=201)
    ]
    events += [
        (T0 + 20, e["message"])
        for e in invocation(
            "d1", "/auth/sessions/current", T0, 5, method="DELETE", status=204, auth="session"
        )
    ]
    stats = aggregate(events)
    assert stats.requests == 12 and stats.session_lookups == 7
    assert stats.session_read_units == 7 * SESSION_LOOKUP_RRU
    assert stats.session_write_units == 2 * SESSION_WRITE_WRU  # create + revoke, table + GSI
    projection = project_month(stats, Usage(ddb_writes=1.0), window_seconds=60)
    assert projection.usage.ddb_reads == pytest.approx(7 / 12)
    assert projection.usage.ddb_writes == pytest.approx(1 + 4 / 12)
    result = estimate(projection.usage, load_prices())
    reads = next(i for i in result.items if i.key == "dynamodb_read_units")
    assert reads.quantity == pytest.approx(projection.usage.requests * 7 / 12 / 1e6)
    assert reads.cost > 0
    assert projection.summary()["dynamodb"]["session_lookups"] == 7


def test_lines_without_auth_keep_the_assumption_and_say_so():
    stats = aggregate(burst(5, 20_000, auth=OMIT))
    projection = project_month(stats, Usage(ddb_reads=0.25))
    assert projection.usage.ddb_reads == 0.25
    assert any("no `auth` field" in note for note in projection.notes)
    jwt_only = project_month(aggregate(burst(5, 20_000)), Usage(ddb_reads=0.25))
    assert jwt_only.usage.ddb_reads == 0.0  # measured: nobody used a session


# --- fixed items: the alarm baseline ---------------------------------------------------------


def test_baseline_counts_alarm_metrics_as_billed_and_filters_as_custom_metrics():
    items = baseline_fixed_items(env())
    # 20 alarms: 8 metric-math alarms of 2 metrics each, 12 single-metric ones; no custom
    # domain, so no certificate alarm
    assert (items.alarms, items.alarm_metrics, items.custom_metrics) == (20, 28, 6)
    assert items.high_resolution == 0
    assert Usage().alarms == items.alarm_metrics and Usage().custom_metrics == items.custom_metrics
    disabled = baseline_fixed_items(env({"alarms": {"api-5xx-rate": {"enabled": False}}}))
    assert (disabled.alarms, disabled.alarm_metrics) == (19, 26)
    domain = env()
    domain.parameters.update(DomainName="api.example.com", CertificateArn="arn:aws:acm:x")
    assert baseline_fixed_items(domain).alarms == 21  # + the certificate's DaysToExpiry


def test_custom_alarm_file_metric_math_and_high_resolution(tmp_path: Path):
    path = tmp_path / "alarms.toml"
    path.write_text(
        """
[[metric_filter]]
key = "a"
log_group = "${FunctionLogGroupName}"
pattern = "x"
metric = "A"

[[alarm]]
key = "math"
expression = "m1 + m2 + m3"
period = 10
evaluation_periods = 1
datapoints_to_alarm = 1
comparison = "GreaterThanThreshold"
threshold = 1
treat_missing_data = "notBreaching"
[alarm.metrics.m1]
namespace = "AWS/Lambda"
metric = "Errors"
[alarm.metrics.m2]
namespace = "AWS/Lambda"
metric = "Throttles"
[alarm.metrics.m3]
namespace = "${GatewayNamespace}"
metric = "A"
"""
    )
    items = baseline_fixed_items(env(), path)
    assert (items.alarms, items.alarm_metrics, items.high_resolution, items.custom_metrics) == (
        1,
        3,
        3,
        1,
    )
    assert base_usage(env(), items).alarms == 9  # high resolution: 3x the standard price


def test_options_stand_in_for_the_baseline():
    assert fixed_items_or_options(env(), 3, 0) == (
        None,
        "alarms and custom metrics from --alarms / --custom-metrics",
    )
    items, note = fixed_items_or_options(env(), 3, None)
    assert items is not None and "overridden by --alarms" in note
    broken = env({"alarms": {"no-such-alarm": 1}})
    with pytest.raises(ConfigError, match="pass --alarms N and --custom-metrics N"):
        fixed_items_or_options(broken, None, None)
    assert fixed_items_or_options(broken, 1, 1)[0] is None  # both given: the file is not read


def test_fixed_items_are_priced_with_the_free_tier():
    usage = replace(Usage(), alarms=22, custom_metrics=5)
    items = {i.key: i for i in estimate(usage, load_prices()).items}
    assert items["cloudwatch_alarm"].cost == pytest.approx(2.2)
    assert items["cloudwatch_custom_metric"].cost == pytest.approx(1.5)
    free = {i.key: i for i in estimate(usage, load_prices(), "always").items}
    assert free["cloudwatch_alarm"].cost == pytest.approx(1.2)
    assert free["cloudwatch_custom_metric"].cost == 0


def test_the_estimate_modules_stay_light():
    code = (
        "import sys; from pathlib import Path;"
        "from opskit.config import Environment;"
        "from opskit.cost.estimate import base_usage;"
        "from opskit.cost.fixed import baseline_fixed_items;"
        "e = Environment(name='dev', stack_name='s', region='us-east-1', project='p');"
        "base_usage(e, baseline_fixed_items(e));"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore', 'rich', 'duckdb', 'moto'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# --- end to end on the local account -------------------------------------------------------


def _put_burst(moto: str, group: str, n: int, span_ms: int) -> None:
    logs = ClientFactory("us-east-1", endpoint_url=moto).client("logs")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="demo")
    start = int((datetime.now(UTC) - timedelta(minutes=5)).timestamp() * 1000)
    events = [
        {"timestamp": ts, "message": message}
        for ts, message in burst(n, span_ms, start, auth="session")
    ]
    logs.put_log_events(logGroupName=group, logStreamName="demo", logEvents=events)


def test_demo_burst_on_the_local_account_is_projected_from_its_span(local_env, moto):
    _put_burst(moto, "/aws/lambda/opskit-local-gateway", 300, 30_000)
    args = ["--env", "local", "cost", "estimate", "--from-logs"]
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    projection = data["from_logs"]["projection"]
    assert projection["basis"] == "observed" and projection["window_seconds"] == WEEK
    assert data["usage"]["requests"] == pytest.approx(300 * MONTH_SECONDS / 30, rel=1e-3)
    items = {i["rate_key"]: i for i in data["line_items"]}
    assert items["dynamodb_read_units"]["quantity"] == pytest.approx(
        data["usage"]["requests"] / 1e6, rel=1e-6
    )  # every request used a session: 1 RRU each
    assert items["cloudwatch_alarm"]["quantity"] == 28
    assert items["cloudwatch_custom_metric"]["quantity"] == 6
    assert any("28 alarm metrics from 20 alarms" in n for n in data["notes"])
    table = CliRunner().invoke(cli, [*args, "--alarms", "4", "--custom-metrics", "0"])
    assert table.exit_code == 0, table.output
    assert "Projection (observed): observed 300 requests over 30 s" in table.output
    window = CliRunner().invoke(cli, [*args, "--basis", "window", "--format", "json"])
    assert json.loads(window.stdout)["usage"]["requests"] == pytest.approx(300 * 730 / 168)
    report = CliRunner().invoke(cli, ["--env", "local", "cost", "--days", "1", "--format", "json"])
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["from_logs"]["projection"]["basis"] == "observed"


def test_basis_without_from_logs_is_a_usage_error(local_env):
    result = CliRunner().invoke(cli, ["--env", "local", "cost", "estimate", "--basis", "window"])
    assert result.exit_code == 2 and "--from-logs" in result.output


def test_estimate_from_events_passes_the_basis_through():
    prices = load_prices()
    events = burst(100, 60_000)
    auto = estimate_from_events(events, Usage(), prices, "none", WEEK, {})
    window = estimate_from_events(events, Usage(), prices, "none", WEEK, {}, "window")
    assert auto.to_dict()["from_logs"]["projection"]["basis"] == "observed"
    assert auto.result.usage.requests == pytest.approx(window.result.usage.requests * WEEK / 60)
