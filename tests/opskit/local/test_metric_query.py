"""The local GetMetricData: statistics from raw values and metric math.

Oracles: the CloudWatch User Guide's metric math reference ("Using metric math": IF returns
no datapoint where the condition is false and there is no else; FILL fills the gaps of the
queried range with a value, REPEAT or LINEAR; arithmetic between two series keeps the
timestamps both have), and the percentile definition (nearest rank) checked against
statistics.quantiles on the same values.
"""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opskit.local.filter_patterns import MetricFilter
from opskit.local.metric_query import MetricIndex, MetricQueryError, get_metric_data, statistic
from opskit.local.metrics import RawStore, filter_buckets


def stat_query(qid, name, stat, period=60, visible=False):
    return {
        "Id": qid,
        "MetricStat": {
            "Metric": {"Namespace": "N", "MetricName": name, "Dimensions": []},
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": visible,
    }


def values(results, qid):
    (result,) = [r for r in results if r["Id"] == qid]
    return dict(
        zip((int(t.timestamp()) for t in result["Timestamps"]), result["Values"], strict=True)
    )


INDEX = MetricIndex(
    {
        ("N", "Count", (), "Count", 0): [1.0] * 5,
        ("N", "Count", (), "Count", 120): [1.0] * 40,
        ("N", "Count", (), "Count", 180): [1.0] * 10,
        ("N", "Err", (), "Count", 120): [1.0] * 4,
    }
)


def test_if_guard_division_and_alignment():
    queries = [
        stat_query("requests", "Count", "Sum"),
        stat_query("errors", "Err", "Sum"),
        {"Id": "rate", "Expression": "100 * errors / requests"},
        {"Id": "guarded", "Expression": "IF(requests >= 20, 100 * errors / requests, 0)"},
        {"Id": "noelse", "Expression": "IF(requests >= 20, requests)"},
    ]
    got = get_metric_data(INDEX, queries, 0, 300)
    assert values(got, "rate") == {120: 10.0}  # only where both series have a datapoint
    assert values(got, "guarded") == {120: 10.0, 0: 0.0, 180: 0.0}
    assert values(got, "noelse") == {120: 40.0}
    assert [r["Id"] for r in got] == ["rate", "guarded", "noelse"]  # ReturnData only


def test_fill_value_repeat_linear():
    queries = [
        stat_query("r", "Count", "Sum"),
        {"Id": "zero", "Expression": "FILL(r, 0)"},
        {"Id": "repeat", "Expression": "FILL(r, REPEAT)"},
        {"Id": "linear", "Expression": "FILL(r, LINEAR)"},
    ]
    got = get_metric_data(INDEX, queries, 0, 300)
    assert values(got, "zero") == {0: 5.0, 60: 0.0, 120: 40.0, 180: 10.0, 240: 0.0}
    assert values(got, "repeat") == {0: 5.0, 60: 5.0, 120: 40.0, 180: 10.0, 240: 10.0}
    assert values(got, "linear") == {0: 5.0, 60: 22.5, 120: 40.0, 180: 10.0}


def test_periods_longer_than_a_minute_aggregate_the_raw_values():
    got = get_metric_data(INDEX, [stat_query("r", "Count", "SampleCount", 300, True)], 0, 600)
    assert values(got, "r") == {0: 55.0}


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=200))
def test_percentile_is_the_nearest_rank(sample):
    ordered = sorted(sample)
    for p in (50, 90, 99):
        got = statistic(f"p{p}", sample)
        rank = math.ceil(p / 100 * len(ordered))
        assert got == ordered[max(rank, 1) - 1]
        below = sum(1 for v in ordered if v <= got)
        assert below / len(ordered) >= p / 100
    if len(sample) >= 2:
        assert statistic("p50", sample) <= max(
            statistics.quantiles(sample, n=2, method="inclusive")[0], ordered[-1]
        )


@pytest.mark.parametrize("bad", ["IF(a", "a +", "NOPE(a)", "1 +* 2"])
def test_bad_expressions_are_validation_errors(bad):
    with pytest.raises(MetricQueryError):
        get_metric_data(
            INDEX, [stat_query("a", "Count", "Sum"), {"Id": "x", "Expression": bad}], 0, 300
        )


def test_raw_store_survives_a_line_cut_short(tmp_path):
    store = RawStore(tmp_path / "raw.jsonl")
    store.append({("N", "M", (("A", "b"),), "Count", 60): [1.0, 2.0]})
    with (tmp_path / "raw.jsonl").open("a") as handle:
        handle.write('{"ns": "N", "name": "M", "dims": [], "un')  # the shipper was killed
    store.append({("N", "M", (("A", "b"),), "Count", 60): [3.0]})
    assert store.read() == {("N", "M", (("A", "b"),), "Count", 60): [1.0, 2.0, 3.0]}


def test_filter_default_value_only_for_minutes_with_events_and_no_dimensions():
    counting = MetricFilter.from_api(
        {
            "filterName": "errors",
            "filterPattern": '{ $.level = "ERROR" }',
            "metricTransformations": [
                {
                    "metricName": "Errors",
                    "metricNamespace": "N",
                    "metricValue": "1",
                    "defaultValue": 0,
                }
            ],
        }
    )
    by_code = MetricFilter.from_api(
        {
            "filterName": "by-code",
            "filterPattern": '{ $.level = "ERROR" }',
            "metricTransformations": [
                {
                    "metricName": "ByCode",
                    "metricNamespace": "N",
                    "metricValue": "1",
                    "dimensions": {"Code": "$.error_code"},
                    "unit": "Count",
                }
            ],
        }
    )
    events = [
        (60_000, '{"level": "ERROR", "error_code": "x"}'),
        (61_000, '{"level": "INFO"}'),
        (120_500, '{"level": "INFO"}'),
    ]
    got = filter_buckets(events, [counting, by_code])
    assert got == {
        ("N", "Errors", (), "None", 60): [1.0],
        ("N", "Errors", (), "None", 120): [0.0],  # events, no match: the default value
        ("N", "ByCode", (("Code", "x"),), "Count", 60): [1.0],  # no default with dimensions
    }
