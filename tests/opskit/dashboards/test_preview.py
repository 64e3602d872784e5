"""The preview's pure parts: widget metrics -> GetMetricData queries, SOURCE, escaping, pages.

Oracles: the CloudWatch dashboard body structure reference (metric arrays: namespace, name,
dimension pairs, an options object last; "." repeats the entry above; expressions as
{"expression": ...}), and the GetMetricData response shape (pages split a query's values)
through botocore's Stubber.
"""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from botocore.stub import ANY, Stubber

from opskit.dashboards.preview import (
    api_queries,
    build_views,
    cloudwatch_fetcher,
    metric_queries,
    render_html,
    split_source,
    window_hours,
)

START, END = datetime(2026, 12, 1, 9, tzinfo=UTC), datetime(2026, 12, 1, 10, tzinfo=UTC)


def test_metric_arrays_become_queries():
    props = {
        "stat": "Average",
        "period": 60,
        "metrics": [
            ["AWS/ApiGateway", "4xx", "ApiId", "a1", "Stage", "$default", {"stat": "Sum", "id": "c4"}],
            [".", "5xx", ".", ".", ".", ".", {"stat": "Sum", "id": "c5", "yAxis": "right"}],
            ["AWS/ApiGateway", "Count", "ApiId", "a1", "Stage", "$default", {"id": "total", "visible": False}],
            [{"expression": "IF(total > 0, 100 * c5 / total, 0)", "id": "rate", "label": "5xx %"}],
        ],
    }  # fmt: skip
    queries = metric_queries(props)
    assert [q["Id"] for q in queries] == ["c4", "c5", "total", "rate"]
    assert queries[1]["MetricStat"]["Metric"] == {
        "Namespace": "AWS/ApiGateway",
        "MetricName": "5xx",
        "Dimensions": [{"Name": "ApiId", "Value": "a1"}, {"Name": "Stage", "Value": "$default"}],
    }
    assert queries[2]["MetricStat"]["Stat"] == "Average" and queries[2]["ReturnData"] is False
    assert queries[1]["_yAxis"] == "right"
    api = api_queries(queries)
    assert all(not k.startswith("_") for q in api for k in q)
    assert api[3] == {
        "Id": "rate",
        "ReturnData": True,
        "Label": "5xx %",
        "Expression": "IF(total > 0, 100 * c5 / total, 0)",
    }


def test_source_and_window():
    assert split_source("SOURCE '/aws/lambda/x' | fields @message") == (
        ["/aws/lambda/x"],
        "fields @message",
    )
    assert split_source("SOURCE 'a', 'b' | stats count(*)") == (["a", "b"], "stats count(*)")
    assert window_hours({"start": "-PT3H"}) == 3.0
    assert window_hours({"start": "-P1D"}) == 24.0
    assert window_hours({"start": "2026-01-01T00:00:00Z"}) == 3.0


def test_page_escapes_everything_it_did_not_write():
    hostile = "</script><script>alert(1)</script>"
    body = {
        "widgets": [
            {"type": "text", "x": 0, "y": 0, "width": 24, "height": 2,
             "properties": {"markdown": f"# hi\n<img src=x onerror=alert(1)> {hostile}"}},
            {"type": "log", "x": 0, "y": 2, "width": 24, "height": 6,
             "properties": {"title": hostile, "query": "SOURCE 'g' | fields @message"}},
        ]
    }  # fmt: skip
    views = build_views(
        body, start=START, end=END,
        fetch_metrics=lambda q, s, e: [],
        run_query=lambda g, t, s, e: (["@message"], [{"@message": hostile}]),
        read_alarms=lambda names: [],
    )  # fmt: skip
    page = render_html(views, title=hostile, start=START, end=END, source="test")
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    assert page.count("<script") == 4  # the error hook, the data, uPlot, the page's own script


def test_a_broken_widget_is_reported_not_fatal():
    body = {"widgets": [{"type": "metric", "x": 0, "y": 0, "width": 6, "height": 6,
                         "properties": {"metrics": [["OnlyNamespace"]]}}]}  # fmt: skip
    (view,) = build_views(
        body, start=START, end=END, fetch_metrics=lambda q, s, e: [],
        run_query=lambda g, t, s, e: ([], []), read_alarms=lambda n: [],
    )  # fmt: skip
    assert "error" in view.body and "dimension pairs" in view.body["error"]


def test_cloudwatch_pages_are_merged_per_query():
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    t1, t2 = datetime(2026, 12, 1, 9, 1, tzinfo=UTC), datetime(2026, 12, 1, 9, 2, tzinfo=UTC)
    query = [{"Id": "m", "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M"}, "Period": 60, "Stat": "Sum"}}]  # fmt: skip
    with Stubber(cw) as stub:
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "m", "Label": "M", "Timestamps": [t1], "Values": [1.0], "StatusCode": "PartialData"}], "NextToken": "n"},
            {"MetricDataQueries": query, "StartTime": START, "EndTime": END, "ScanBy": "TimestampAscending"},
        )  # fmt: skip
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "m", "Label": "M", "Timestamps": [t2], "Values": [2.0], "StatusCode": "Complete"}]},
            {"MetricDataQueries": query, "StartTime": START, "EndTime": END, "ScanBy": "TimestampAscending", "NextToken": ANY},
        )  # fmt: skip
        (result,) = cloudwatch_fetcher(cw)(query, START, END)
    assert (result["Timestamps"], result["Values"]) == ([t1, t2], [1.0, 2.0])
