"""The CloudWatch runner.

moto's Logs Insights only evaluates fields/sort/limit and answers Complete at once, so the
polling, backoff, failure and Ctrl-C logic is tested with botocore's Stubber and response
shapes from the CloudWatch Logs API reference (StartQuery, GetQueryResults, StopQuery).
What moto does do faithfully, receiving StartQuery for the right log groups and time range
over real HTTP, is tested against the moto server.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from opskit.app import App
from opskit.cli import cli
from opskit.config import Environment
from opskit.errors import QueryFailed
from opskit.insights.cloudwatch import GB, run_query, wait_for_results
from opskit.terminal import Terminal

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
END = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
GROUP = "/aws/lambda/opskit-dev-gateway"


def results(status: str, rows=(), scanned: float = 0.0, bytes_scanned: float = 0.0) -> dict:
    return {
        "results": [
            [{"field": k, "value": v} for k, v in row.items()]
            + [{"field": "@ptr", "value": "CmAKJwoj"}]
            for row in rows
        ],
        "statistics": {
            "recordsMatched": float(len(rows)),
            "recordsScanned": scanned,
            "bytesScanned": bytes_scanned,
        },
        "status": status,
    }


@pytest.fixture
def logs():
    client = boto3.client("logs", region_name="us-east-1")
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


def test_polls_with_backoff_until_complete(logs):
    stub = logs.stubber
    stub.add_response(
        "start_query",
        {"queryId": "q-1"},
        {
            "logGroupNames": [GROUP],
            "startTime": int(START.timestamp()),
            "endTime": int(END.timestamp()),
            "queryString": "fields @message",
            "limit": 50,
        },
    )
    for _ in range(4):
        stub.add_response("get_query_results", results("Running", scanned=10.0), {"queryId": "q-1"})
    rows = [
        {"@timestamp": "2026-11-24 09:30:00.000", "path": "/a"},
        {"@timestamp": "2026-11-24 09:31:00.000"},
    ]
    stub.add_response(
        "get_query_results",
        results("Complete", rows, scanned=1000.0, bytes_scanned=2 * GB),
        {"queryId": "q-1"},
    )
    sleeps: list[float] = []
    seen: list[str] = []
    result = run_query(
        logs,
        [GROUP],
        "fields @message",
        START,
        END,
        limit=50,
        sleep=sleeps.append,
        on_status=lambda s, n, st: seen.append(s),
    )
    assert sleeps == [0.5, 1.0, 2.0, 4.0]
    assert seen == ["Running"] * 4 + ["Complete"]
    assert result.columns == ["@timestamp", "path"]  # @ptr dropped
    assert result.rows == rows
    assert result.records_scanned == 1000.0
    assert result.cost_usd == pytest.approx(0.01)  # 2 GB at $0.005/GB
    assert result.statistics()["bytes_scanned"] == 2 * GB


def test_backoff_is_capped(logs):
    logs.stubber.add_response("start_query", {"queryId": "q-2"})
    for _ in range(7):
        logs.stubber.add_response("get_query_results", results("Scheduled"))
    logs.stubber.add_response("get_query_results", results("Complete"))
    sleeps: list[float] = []
    run_query(logs, [GROUP], "fields @message", START, END, sleep=sleeps.append)
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


@pytest.mark.parametrize("status", ["Failed", "Cancelled", "Timeout", "Unknown"])
def test_terminal_failures_raise_query_failed(logs, status):
    logs.stubber.add_response("get_query_results", results("Running"))
    logs.stubber.add_response("get_query_results", results(status))
    with pytest.raises(QueryFailed) as info:
        wait_for_results(logs, "q-3", sleep=lambda s: None)
    assert f"ended {status}" in str(info.value)
    assert info.value.exit_code == 7


def test_ctrl_c_stops_the_query(logs):
    logs.stubber.add_response("get_query_results", results("Running"), {"queryId": "q-4"})
    logs.stubber.add_response("stop_query", {"success": True}, {"queryId": "q-4"})

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        wait_for_results(logs, "q-4", sleep=interrupted)


def test_malformed_query_is_one_actionable_error(logs):
    logs.stubber.add_client_error(
        "start_query", "MalformedQueryException", "unexpected symbol found bogus at line 1"
    )
    with pytest.raises(QueryFailed) as info:
        run_query(logs, [GROUP], "bogus", START, END)
    assert "CloudWatch rejected the query" in str(info.value) and "bogus" in str(info.value)


def test_full_page_is_reported_truncated(logs):
    logs.stubber.add_response(
        "get_query_results", results("Complete", [{"a": str(i)} for i in range(10_000)])
    )
    assert wait_for_results(logs, "q-5", sleep=lambda s: None).truncated


# ---- against the moto server ------------------------------------------------------------


def _app(moto: str, output: str = "json") -> App:
    env = Environment(name="dev", stack_name="opskit-dev", region="us-east-1")
    fixed_now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    return App(
        env=env,
        terminal=Terminal(output=output),
        clock=lambda: fixed_now,
        sleep=lambda s: None,
        endpoint_url=moto,
    )


def _capture_start_query(app: App) -> list[dict]:
    calls: list[dict] = []
    app.clients.client("logs").meta.events.register(
        "provide-client-params.logs.StartQuery", lambda params, **_: calls.append(dict(params))
    )
    return calls


def test_start_query_uses_stack_output_log_group_and_time_range(moto):
    app = _app(moto)
    custom = "/custom/gateway-logs"
    template = {
        "Resources": {
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": custom}}
        },
        "Outputs": {"FunctionLogGroupName": {"Value": {"Ref": "Logs"}}},
    }
    app.clients.client("cloudformation").create_stack(
        StackName="opskit-dev", TemplateBody=json.dumps(template)
    )
    logs = app.clients.client("logs")
    logs.create_log_stream(logGroupName=custom, logStreamName="s")
    stamp = int(datetime(2026, 11, 24, 9, 30, tzinfo=UTC).timestamp() * 1000)
    logs.put_log_events(
        logGroupName=custom,
        logStreamName="s",
        logEvents=[{"timestamp": stamp, "message": '{"message": "request", "latency_ms": 1500}'}],
    )
    calls = _capture_start_query(app)
    result = CliRunner().invoke(
        cli, ["insights", "slow-requests", "--since", "2h", "--threshold-ms", "1200"], obj=app
    )
    assert result.exit_code == 0, result.output
    assert len(calls) == 1
    assert calls[0]["logGroupNames"] == [custom]
    assert calls[0]["endTime"] == int(datetime(2026, 11, 24, 10, 0, tzinfo=UTC).timestamp())
    assert calls[0]["startTime"] == int(datetime(2026, 11, 24, 8, 0, tzinfo=UTC).timestamp())
    assert "latency_ms > 1200" in calls[0]["queryString"]
    assert "records scanned" in result.stderr and "$0.005/GB" in result.stderr
    assert isinstance(json.loads(result.stdout), list)


def test_without_a_stack_the_default_log_group_names_are_used(moto):
    app = _app(moto)
    logs = app.clients.client("logs")
    logs.create_log_group(logGroupName="/aws/apigateway/opskit-dev-api")
    calls = _capture_start_query(app)
    result = CliRunner().invoke(
        cli,
        [
            "insights",
            "run",
            "--query",
            "fields @message | limit 5",
            "--log-group",
            "access",
            "--start",
            "2026-11-24T08:00:00Z",
            "--end",
            "2026-11-24T09:00:00Z",
        ],
        obj=app,
    )
    assert result.exit_code == 0, result.output
    assert calls[0]["logGroupNames"] == ["/aws/apigateway/opskit-dev-api"]
    assert calls[0]["startTime"] == int(datetime(2026, 11, 24, 8, 0, tzinfo=UTC).timestamp())
    assert "stack opskit-dev not found" in result.stderr


def test_missing_log_group_is_a_clear_error(moto):
    result = CliRunner().invoke(cli, ["insights", "slow-requests"], obj=_app(moto))
    assert result.exit_code == 5
    assert "log group not found: /aws/lambda/opskit-dev-gateway" in result.output
