"""`opskit alarms list` and `opskit alarms test` (moto), alarm history (Stubber: moto lacks it)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import ANY, Stubber
from click.testing import CliRunner
from rich.console import Console

from opskit.alarms.service import fire_test
from opskit.app import App
from opskit.aws import ClientFactory
from opskit.cli import cli
from opskit.errors import EXIT_NOT_FOUND
from opskit.terminal import Terminal
from tests.opskit.alarms.fake_stack import STACK


def put_alarm(
    cw, name: str, description: str = f"x [opskit:managed stack={STACK}]", actions=()
) -> None:
    cw.put_metric_alarm(
        AlarmName=name,
        AlarmDescription=description,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=list(actions),
    )


def app_for(
    env, moto, *, sleep=lambda s: None, output="table", width=200
) -> tuple[App, io.StringIO]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    terminal = Terminal(output=output, console=console, err_console=console)
    app = App(
        env=env,
        terminal=terminal,
        sleep=sleep,
        _clients=ClientFactory("us-east-1", endpoint_url=moto),
    )
    return app, buffer


def test_list_shows_state_reason_and_since_alarms_first(env, moto, clients):
    """On the local account the states come from opskit's evaluation of the raw values."""
    from opskit.local.metrics import RawStore, raw_metrics_path

    cw = clients.client("cloudwatch")
    put_alarm(cw, f"{STACK}-lambda-errors")
    cw.put_metric_alarm(
        AlarmName=f"{STACK}-api-4xx-rate",
        AlarmDescription=f"x [opskit:managed stack={STACK}]",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "f"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    put_alarm(cw, "someone-else")
    minute = int(datetime.now(UTC).timestamp()) // 60 * 60 - 60
    RawStore(raw_metrics_path(env.state_dir)).append(
        {("AWS/Lambda", "Errors", (("FunctionName", "f"),), "Count", minute): [1.0, 1.0, 1.0]}
    )
    app, console = app_for(env, moto)
    result = CliRunner().invoke(cli, ["alarms", "list"], obj=app)
    assert result.exit_code == 0, result.output
    text = console.getvalue()
    assert "someone-else" not in text
    lines = [line for line in text.splitlines() if STACK in line and "Alarms of" not in line]
    assert "api-4xx-rate" in lines[0] and "ALARM" in lines[0]
    assert "[opskit] Threshold Crossed" in lines[0]  # printed as text, not read as markup
    assert "\\[opskit]" not in text  # and not escaped either
    assert "lambda-errors" in lines[1] and "INSUFFICIENT_DATA" in lines[1]

    app, console = app_for(env, moto, output="json")
    CliRunner().invoke(cli, ["alarms", "list"], obj=app)
    rows = json.loads(console.getvalue())
    assert [r["state"] for r in rows] == ["ALARM", "INSUFFICIENT_DATA"]
    assert rows[0]["since"].startswith(datetime.now(UTC).strftime("%Y-%m-%d"))
    assert rows[1]["reason"] == "[opskit] Insufficient Data: 1 datapoint was unknown."


def test_list_watch_refreshes_until_interrupted(env, moto, clients):
    put_alarm(clients.client("cloudwatch"), f"{STACK}-lambda-errors")
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:
            raise KeyboardInterrupt

    app, console = app_for(env, moto, sleep=sleep)
    result = CliRunner().invoke(cli, ["alarms", "list", "--watch", "--interval", "5"], obj=app)
    assert result.exit_code == 130, result.output  # Ctrl-C: 130, as documented
    assert naps == [5.0, 5.0]
    assert console.getvalue().count(f"Alarms of {STACK}") == 2


def test_test_sets_alarm_then_back(env, moto, clients):
    cw = clients.client("cloudwatch")
    put_alarm(cw, f"{STACK}-lambda-errors", actions=["arn:aws:sns:us-east-1:123456789012:t"])
    seen: list[str] = []

    def sleep(seconds: float) -> None:  # while held, the alarm really is in ALARM
        seen.append(
            cw.describe_alarms(AlarmNames=[f"{STACK}-lambda-errors"])["MetricAlarms"][0][
                "StateValue"
            ]
        )

    app, console = app_for(env, moto, sleep=sleep)
    result = CliRunner().invoke(cli, ["alarms", "test", "lambda-errors", "--hold", "3"], obj=app)
    assert result.exit_code == 0, result.output
    assert seen == ["ALARM"]
    assert (
        cw.describe_alarms(AlarmNames=[f"{STACK}-lambda-errors"])["MetricAlarms"][0]["StateValue"]
        == "OK"
    )
    text = console.getvalue()
    assert "set back to OK" in text
    assert "arn:aws:sns:us-east-1:123456789012:t" in text
    assert "not available in the local emulator" in text


def test_test_unknown_alarm_is_not_found(local_env, moto):
    result = CliRunner().invoke(cli, ["--env", "local", "alarms", "test", "nope"])
    assert result.exit_code == EXIT_NOT_FOUND
    assert "alarm nope not found" in result.output


@pytest.fixture
def stubbed_cw():
    client = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    with Stubber(client) as stub:
        yield client, stub


def test_test_reports_action_history(stubbed_cw):
    """moto 5.2.5 does not implement DescribeAlarmHistory (HTTP 500), so this uses Stubber with
    the documented response shape (AlarmHistoryItems: AlarmName, AlarmType, Timestamp,
    HistoryItemType, HistorySummary, HistoryData)."""
    cw, stub = stubbed_cw
    name = f"{STACK}-lambda-errors"
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    stub.add_response(
        "describe_alarms",
        {
            "MetricAlarms": [
                {
                    "AlarmName": name,
                    "StateValue": "INSUFFICIENT_DATA",
                    "AlarmActions": ["arn:aws:sns:us-east-1:1:t"],
                }
            ]
        },
        {"AlarmNames": [name]},
    )
    stub.add_response(
        "set_alarm_state", {}, {"AlarmName": name, "StateValue": "ALARM", "StateReason": ANY}
    )
    stub.add_response(
        "set_alarm_state",
        {},
        {"AlarmName": name, "StateValue": "INSUFFICIENT_DATA", "StateReason": ANY},
    )
    summary = "Successfully executed action arn:aws:sns:us-east-1:1:t"
    stub.add_response(
        "describe_alarm_history",
        {
            "AlarmHistoryItems": [
                {
                    "AlarmName": name,
                    "AlarmType": "MetricAlarm",
                    "Timestamp": now + timedelta(seconds=1),
                    "HistoryItemType": "Action",
                    "HistorySummary": summary,
                    "HistoryData": json.dumps({"actionState": "Succeeded"}),
                }
            ]
        },
        {
            "AlarmName": name,
            "HistoryItemType": "Action",
            "StartDate": now,
            "ScanBy": "TimestampAscending",
        },
    )
    result = fire_test(cw, STACK, name, hold=0, sleep=lambda s: None, clock=lambda: now)
    stub.assert_no_pending_responses()
    assert result.previous == "INSUFFICIENT_DATA"
    assert result.history == [summary]
