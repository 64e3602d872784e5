"""opskit's local alarm evaluation against CloudWatch's documented rules.

Oracles:
- the table in "Configuring how CloudWatch alarms treat missing data"
  (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html):
  3 evaluation periods, 3 datapoints to alarm, the evaluation range shown oldest first
  (0 = not breaching, X = breaching, - = missing), and the state under each setting;
- "Evaluating an alarm" (M out of N) and the TreatMissingData API reference (AWS/DynamoDB
  alarms always ignore missing data);
- the StateReason wording CloudWatch uses ("Threshold Crossed: 1 out of the last 1 datapoints
  [...] was greater than or equal to the threshold (...) (minimum 1 datapoint for OK -> ALARM
  transition).", "Insufficient Data: 1 datapoint was unknown.").
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opskit.local.alarm_eval import EvaluationState, decide, evaluate_alarms
from opskit.local.metric_query import MetricIndex

AT = 1_800_000_000 // 60 * 60  # an evaluation instant on a minute boundary


def alarm(**overrides):
    base = {
        "AlarmName": "gw-x",
        "Namespace": "Opskit/Test",
        "MetricName": "Errors",
        "Dimensions": [],
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 3,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "missing",
    }
    return {**base, **overrides}


def series_from(row: str) -> dict[int, float]:
    """'0 - X - X', oldest first, newest period ending at AT."""
    marks = row.split()
    out = {}
    for i, mark in enumerate(reversed(marks)):
        ts = AT - 60 * (i + 1)
        if mark != "-":
            out[ts] = 1.0 if mark == "X" else 0.0
    return out


# rows of the documented table: datapoints, then MISSING, IGNORE, BREACHING, NOT BREACHING
TABLE = [
    ("0 - X - X", "OK", "OK", "OK", "OK"),
    ("- - - - 0", "OK", "OK", "OK", "OK"),
    ("- - - - -", "INSUFFICIENT_DATA", "RETAIN", "ALARM", "OK"),
    ("0 X X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("- - X - -", "ALARM", "RETAIN", "ALARM", "OK"),
]


@pytest.mark.parametrize("row", TABLE, ids=[r[0] for r in TABLE])
@pytest.mark.parametrize("current", ["OK", "ALARM", "INSUFFICIENT_DATA"])
def test_documented_missing_data_table(row, current):
    points, *expected = row
    for setting, want in zip(
        ("missing", "ignore", "breaching", "notBreaching"), expected, strict=True
    ):
        got = decide(alarm(TreatMissingData=setting), series_from(points), AT, current).state
        assert got == (current if want == "RETAIN" else want), (points, setting, current)


def test_m_out_of_n_and_the_reason_wording():
    a = alarm(
        EvaluationPeriods=5, DatapointsToAlarm=3, Threshold=5.0, TreatMissingData="notBreaching"
    )
    series = {AT - 60: 12.0, AT - 120: 9.0, AT - 180: 1.0, AT - 240: 7.0, AT - 300: 0.0}
    got = decide(a, series, AT, "OK")
    assert got.state == "ALARM"
    assert got.reason == (
        "Threshold Crossed: 3 out of the last 5 datapoints [12.0 (15/01/27 07:59:00), "
        "9.0 (15/01/27 07:58:00), 7.0 (15/01/27 07:56:00)] were greater than the threshold (5.0) "
        "(minimum 3 datapoints for OK -> ALARM transition)."
    )
    assert got.data["evaluatedBy"] == "opskit"
    series[AT - 240] = 5.0  # not greater than 5: only 2 of 5
    calm = decide(a, series, AT, "ALARM")
    assert calm.state == "OK"
    assert calm.reason.startswith("Threshold Crossed: 3 datapoints [1.0 (15/01/27 07:57:00), ")
    assert "were not greater than the threshold (5.0)" in calm.reason


def test_single_datapoint_wording_and_insufficient_data():
    one = alarm(
        EvaluationPeriods=1,
        DatapointsToAlarm=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    fired = decide(one, {AT - 60: 1.0}, AT, "OK")
    assert fired.reason == (
        "Threshold Crossed: 1 out of the last 1 datapoint [1.0 (15/01/27 07:59:00)] was greater than "
        "or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition)."
    )
    assert decide(one, {}, AT, "OK").reason == "Insufficient Data: 1 datapoint was unknown."
    quiet = decide({**one, "TreatMissingData": "notBreaching"}, {}, AT, "ALARM")
    assert quiet.state == "OK"
    assert quiet.reason == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was "
        "treated as [NonBreaching]."
    )


def test_dynamodb_alarms_always_ignore_missing_data():
    ddb = alarm(
        Namespace="AWS/DynamoDB", MetricName="SystemErrors", TreatMissingData="notBreaching"
    )
    assert decide(ddb, {}, AT, "ALARM").state == "ALARM"  # kept, not OK
    assert decide({**ddb, "Namespace": "AWS/Lambda"}, {}, AT, "ALARM").state == "OK"


def test_only_complete_periods_count():
    a = alarm(EvaluationPeriods=1, DatapointsToAlarm=1)
    assert decide(a, {AT: 5.0}, AT + 30, "OK").state == "INSUFFICIENT_DATA"  # still running
    assert decide(a, {AT: 5.0}, AT + 60, "OK").state == "ALARM"


def buckets(namespace, name, per_minute, unit="Count", dims=()):
    return {(namespace, name, dims, unit, minute): values for minute, values in per_minute.items()}


def test_min_sample_guard_with_if_and_percentiles_from_raw_values():
    """The baseline's IF(requests >= N, p99, 0): one slow request in a quiet minute is not a p99."""
    quiet, busy = AT - 120, AT - 60
    data = buckets("AWS/ApiGateway", "Count", {quiet: [1.0] * 3, busy: [1.0] * 100})
    data |= buckets(
        "AWS/ApiGateway",
        "Latency",
        {quiet: [30.0, 40.0, 5000.0], busy: [20.0] * 98 + [3000.0, 4000.0]},
        "Milliseconds",
    )

    def metric(i, name, stat):
        return {
            "Id": i,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/ApiGateway", "MetricName": name, "Dimensions": []},
                "Period": 60,
                "Stat": stat,
            },
            "ReturnData": False,
        }

    guarded = alarm(
        Namespace=None, MetricName=None, Statistic=None, Period=None,
        EvaluationPeriods=1, DatapointsToAlarm=1, Threshold=1500.0, TreatMissingData="notBreaching",
        Metrics=[
            {"Id": "result", "Expression": "IF(requests >= 20, latency, 0)", "ReturnData": True},
            metric("latency", "Latency", "p99"),
            metric("requests", "Count", "Sum"),
        ],
    )  # fmt: skip
    index = MetricIndex(data)
    state = EvaluationState(path=None)  # type: ignore[arg-type]
    now = datetime.fromtimestamp(AT, tz=UTC)
    state.alarms["gw-x"] = {"state": "OK", "until": AT - 120, "config": ""}
    _, latest = evaluate_alarms([guarded], index, state, now)
    # at AT - 60 the quiet minute (3 requests, max 5000 ms) was judged 0; at AT the busy one:
    # p99 of 100 values by nearest rank = the 99th smallest = 3000 ms > 1500
    assert latest["gw-x"].state == "ALARM"
    assert "[3000.0 (" in latest["gw-x"].reason
    history = evaluate_alarms([guarded], index, EvaluationState(path=None), now)[0]  # type: ignore[arg-type]
    assert [(t.old, t.new) for t in history] == [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM")]
    assert history[-1].timestamp == AT
