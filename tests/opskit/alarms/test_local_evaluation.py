"""The local account end to end: gateway lines -> shipper (metric filters run by opskit) ->
raw values -> opskit's alarm evaluation -> set_alarm_state -> `alarms list` / `alarms history`.

moto stores metric filters and alarms and evaluates neither; before issue 13 the local
upstream-error alarm stayed "OK / Unchecked: Initial alarm creation" whatever the traffic.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from opskit.cli import cli
from opskit.local.metrics import Target
from tests.opskit.alarms.fake_stack import OUTPUTS, STACK, create_fake_stack
from tests.opskit.local_traffic import ship, traffic

GROUP = f"/aws/lambda/{STACK}-gateway"


def invoke(*args: str):
    return CliRunner().invoke(cli, ["--env", "local", *args])


def test_failure_burst_fires_the_upstream_alarm_locally(local_env, clients):
    create_fake_stack(clients)
    assert invoke("alarms", "apply").exit_code == 0
    cw = clients.client("cloudwatch")
    now = datetime.now(UTC)
    target = Target(OUTPUTS["ApiId"], "$default", OUTPUTS["FunctionName"])
    shipped = ship(clients, local_env / ".opskit", GROUP, target, traffic(now), now)
    assert shipped == 4 * 50 * 4  # START, line, END, REPORT

    # The filter metrics reached the emulator as CloudWatch Logs would publish them.
    namespace = f"Opskit/Gateway/{STACK}"
    answer = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": q,
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": name},
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
            for q, name in (
                ("e", "UpstreamErrors"),
                ("c", "UpstreamRequests"),
                ("r", "RateLimited"),
            )
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
    )
    sums = {r["Id"]: sorted(r["Values"]) for r in answer["MetricDataResults"]}
    # The first START line falls 12.5 ms before the first minute: that minute had events and no
    # match, so each filter published its default value (0) there, as CloudWatch Logs does.
    assert sums == {"e": [0.0] + [10.0] * 4, "c": [0.0] + [30.0] * 4, "r": [0.0] + [20.0] * 4}

    listed = invoke("--output", "json", "alarms", "list")
    assert listed.exit_code == 0, listed.output
    rows = {r["name"]: r for r in json.loads(listed.output)}
    share = rows[f"{STACK}-gateway-upstream-error-share"]  # reason: the latest evaluation
    assert share["state"] == "ALARM", share
    assert share["reason"].startswith(
        "[opskit] Threshold Crossed: 4 out of the last 5 datapoints [33.333333 ("
    )
    assert "were greater than the threshold (5.0)" in share["reason"]
    assert rows[f"{STACK}-lambda-errors"]["state"] == "OK"  # 502s are answers, not errors
    assert rows[f"{STACK}-lambda-throttles"]["reason"].startswith(
        "[opskit] Threshold Crossed: no datapoints"
    )

    table = invoke("alarms", "list")
    assert "opskit's evaluation" in table.output.replace("\n", " ")

    history = invoke("--output", "json", "alarms", "history", "gateway-upstream-error-share")
    assert history.exit_code == 0, history.output
    transitions = json.loads(history.output)
    assert [(t["from"], t["to"]) for t in transitions][0][1] == "ALARM"
    assert all(t["alarm"] == f"{STACK}-gateway-upstream-error-share" for t in transitions)
    again = invoke("--output", "json", "alarms", "history", "gateway-upstream-error-share")
    assert json.loads(again.output) == transitions  # evaluating again adds no duplicate


def test_history_on_aws_reads_state_updates():
    """DescribeAlarmHistory through botocore's Stubber (moto does not implement it); the
    HistoryData shape is the one in the CloudWatch API reference's example."""
    import boto3
    from botocore.stub import Stubber

    from opskit.alarms.service import state_history

    cw = boto3.client("cloudwatch", region_name="us-east-1")
    data = {
        "version": "1.0",
        "oldState": {"stateValue": "OK", "stateReason": "Threshold Crossed: ..."},
        "newState": {
            "stateValue": "ALARM",
            "stateReason": "Threshold Crossed: 3 out of the last 5 datapoints [...]",
        },
    }
    with Stubber(cw) as stub:
        stub.add_response(
            "describe_alarm_history",
            {
                "AlarmHistoryItems": [
                    {
                        "AlarmName": f"{STACK}-lambda-errors",
                        "Timestamp": datetime(2026, 12, 1, 10, 5, tzinfo=UTC),
                        "HistoryItemType": "StateUpdate",
                        "HistorySummary": "Alarm updated from OK to ALARM",
                        "HistoryData": json.dumps(data),
                    },
                    {
                        "AlarmName": "someone-else",
                        "Timestamp": datetime(2026, 12, 1, 10, 4, tzinfo=UTC),
                        "HistoryItemType": "StateUpdate",
                        "HistorySummary": "Alarm updated from OK to ALARM",
                        "HistoryData": json.dumps(data),
                    },
                ]
            },
            {"HistoryItemType": "StateUpdate", "ScanBy": "TimestampDescending"},
        )
        rows = state_history(cw, STACK, None, 10)
    assert rows == [
        {
            "alarm": f"{STACK}-lambda-errors",
            "time": "2026-12-01T10:05:00Z",
            "from": "OK",
            "to": "ALARM",
            "reason": "Threshold Crossed: 3 out of the last 5 datapoints [...]",
        }
    ]
