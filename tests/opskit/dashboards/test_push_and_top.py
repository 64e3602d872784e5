"""`opskit dashboards render|push` and `opskit top` against a moto server; p99 via Stubber."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import boto3
from botocore.stub import Stubber
from click.testing import CliRunner
from rich.console import Console

from opskit.app import App
from opskit.cli import cli
from opskit.config import load_environment
from opskit.dashboards.charts import bar_rows, sparkline
from opskit.dashboards.top import UnitPrices, build_series, fetch, metric_queries
from opskit.errors import EXIT_CHECK_FAILED
from tests.opskit.alarms.fake_stack import OUTPUTS, STACK, create_fake_stack

PRICES = UnitPrices(
    http_api_per_million=1.0,
    lambda_requests_per_million=0.2,
    lambda_gb_second=0.0000133334,
    memory_gb=0.5,
)


def run(*args: str):
    return CliRunner().invoke(cli, ["--env", "local", *args])


def test_render_needs_alarms_then_fills_everything(local_env, clients):
    create_fake_stack(clients)
    before = run("dashboards", "render")
    assert before.exit_code == EXIT_CHECK_FAILED
    assert "no managed alarms exist yet" in before.output and "opskit alarms apply" in before.output

    assert run("alarms", "apply").exit_code == 0
    result = run("dashboards", "render")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    text = json.dumps(body)
    assert "${" not in text
    assert OUTPUTS["ApiId"] in text and OUTPUTS["SessionsTableName"] in text
    alarm_widget = next(w for w in body["widgets"] if w["type"] == "alarm")
    arns = alarm_widget["properties"]["alarms"]
    assert len(arns) == 20 and all(a.startswith("arn:aws:cloudwatch:us-east-1:") for a in arns)
    assert all(
        w["properties"]["region"] == "us-east-1"
        for w in body["widgets"]
        if w["type"] in {"metric", "log"}
    )


def test_push_is_idempotent_and_prints_the_console_url(local_env, clients):
    create_fake_stack(clients)
    assert run("alarms", "apply").exit_code == 0
    first = run("dashboards", "push")
    assert first.exit_code == 0, first.output
    assert f"Dashboard {STACK}-gateway updated." in first.output
    url = f"https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/{STACK}-gateway"
    assert url in first.output.replace("\n", "")
    stored = json.loads(
        clients.client("cloudwatch").get_dashboard(DashboardName=f"{STACK}-gateway")[
            "DashboardBody"
        ]
    )
    assert stored == json.loads(run("dashboards", "render").stdout)
    second = run("dashboards", "push")
    assert "unchanged (already up to date)" in second.output


def test_push_refuses_an_invalid_template(local_env, clients, tmp_path):
    create_fake_stack(clients)
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "widgets": [
                    {
                        "type": "metric",
                        "x": 20,
                        "y": 0,
                        "width": 8,
                        "height": 6,
                        "properties": {
                            "region": "${Region}",
                            "metrics": [
                                ["AWS/Lambda", "Errors", "FunctionName", "${FunctionName}"]
                            ],
                        },
                    }
                ]
            }
        )
    )
    result = run("dashboards", "push", "--template", str(bad))
    assert result.exit_code == EXIT_CHECK_FAILED
    assert "overflows the 24-column grid" in result.output
    assert clients.client("cloudwatch").list_dashboards()["DashboardEntries"] == []


def put_traffic(cw, now: datetime) -> None:
    api = [{"Name": "ApiId", "Value": OUTPUTS["ApiId"]}, {"Name": "Stage", "Value": "$default"}]
    fn = [{"Name": "FunctionName", "Value": OUTPUTS["FunctionName"]}]
    base = now.replace(second=0, microsecond=0) - timedelta(minutes=30)
    data = []
    for i in range(3):
        ts = base + timedelta(minutes=5 * i)
        data += [
            {
                "MetricName": "Count",
                "Dimensions": api,
                "Timestamp": ts,
                "Value": 600.0,
                "Unit": "Count",
            },
            {
                "MetricName": "5xx",
                "Dimensions": api,
                "Timestamp": ts,
                "Value": 6.0 * i,
                "Unit": "Count",
            },
        ]
    cw.put_metric_data(Namespace="AWS/ApiGateway", MetricData=data)
    cw.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": fn,
                "Timestamp": base,
                "Value": 1800.0,
                "Unit": "Count",
            },
            {
                "MetricName": "Duration",
                "Dimensions": fn,
                "Timestamp": base,
                "Value": 1800.0 * 50,
                "Unit": "Milliseconds",
            },
        ],
    )


def test_top_draws_rates_and_cost_from_moto_metrics(local_env, clients):
    create_fake_stack(clients)
    now = datetime.now(UTC)
    put_traffic(clients.client("cloudwatch"), now)
    buffer = io.StringIO()
    console = Console(file=buffer, width=160, color_system=None)
    from opskit.terminal import Terminal

    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        raise KeyboardInterrupt

    env = load_environment("local")
    app = App(
        env=env,
        terminal=Terminal(console=console, err_console=console),
        sleep=sleep,
        _clients=clients,
    )
    result = CliRunner().invoke(
        cli, ["top", "--hours", "1", "--watch", "--interval", "30"], obj=app
    )
    assert result.exit_code == 130, result.output  # Ctrl-C: 130, as documented
    out = buffer.getvalue()
    assert naps == [30.0]
    assert "1,800 requests, 18 5xx" in out
    for title in (
        "Request rate",
        "Error rate (5xx)",
        "Latency max",  # local: the emulator computes no percentiles
        "Cost so far (estimate, this window)",
    ):
        assert title in out
    assert "last 2.00 req/s" in out  # 600 requests per 300 s
    assert "max 2.00%" in out  # 12 of 600 in the last point
    assert "█" in out


def test_series_math_and_cost():
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    t0, t1 = start, start + timedelta(minutes=5)
    data = {
        "requests": {t0: 300.0, t1: 600.0},
        "errors5xx": {t1: 30.0},
        "latencyp99": {t0: 120.0},
        "invocations": {t0: 300.0, t1: 600.0},
        "durationms": {t0: 300 * 100.0, t1: 600 * 100.0},
    }
    series = build_series(
        data, start=start, end=start + timedelta(minutes=15), period=300, prices=PRICES
    )
    assert series.request_rate == [1.0, 2.0, None]
    assert series.error_rate == [0.0, 5.0, None]
    assert series.p99_latency == [120.0, None, None]
    expected = 900 * 1.0 / 1e6 + 900 * 0.2 / 1e6 + 900 * 0.1 * 0.5 * 0.0000133334
    assert abs(series.cost_so_far[-1] - expected) < 1e-12
    assert series.cost_so_far[0] < series.cost_so_far[1] == series.cost_so_far[2]


def test_p99_shape_from_get_metric_data():
    """moto returns no values for percentile statistics, so the p99 latency series is checked with
    Stubber and the documented GetMetricData response shape (MetricDataResults: Id, Label,
    Timestamps, Values, StatusCode; NextToken for the next page)."""
    cw = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    end = start + timedelta(minutes=10)
    queries = metric_queries("abc", "$default", "fn", 300)
    assert next(q for q in queries if q["Id"] == "latencyp99")["MetricStat"]["Stat"] == "p99"
    t0, t1 = start, start + timedelta(minutes=5)
    params = {
        "MetricDataQueries": queries,
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    with Stubber(cw) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {
                        "Id": "latencyp99",
                        "Label": "Latency",
                        "Timestamps": [t0],
                        "Values": [182.5],
                        "StatusCode": "PartialData",
                    }
                ],
                "NextToken": "page2",
            },
            params,
        )
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {
                        "Id": "latencyp99",
                        "Label": "Latency",
                        "Timestamps": [t1],
                        "Values": [240.0],
                        "StatusCode": "Complete",
                    },
                    {
                        "Id": "requests",
                        "Label": "Count",
                        "Timestamps": [t0, t1],
                        "Values": [10.0, 20.0],
                        "StatusCode": "Complete",
                    },
                ]
            },
            {**params, "NextToken": "page2"},
        )
        data = fetch(cw, queries, start, end)
        stub.assert_no_pending_responses()
    series = build_series(data, start=start, end=end, period=300, prices=PRICES)
    assert series.p99_latency == [182.5, 240.0]


def test_charts():
    assert sparkline([0, 4, 8, None]) == "▁▄█·"
    rows = bar_rows([8.0, 4.0, 0.0, None], width=10, height=2)
    assert rows == ["█   ", "██ ·"]
    assert len(sparkline(list(range(100)), width=20)) == 20
    assert sparkline([0.0, 0.0]) == "▁▁"
