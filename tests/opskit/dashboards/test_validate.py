"""The dashboard validator against the documented body structure, and template filling (pure)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from opskit.dashboards.render import custom_metrics_for, fill_template, load_template
from opskit.dashboards.validate import validate_body
from opskit.insights.library import load_library

ROOT = Path(__file__).resolve().parents[3]
ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:gw-lambda-errors"
CONTEXT = {
    "Stack": "gw",
    "Region": "eu-west-1",
    "Stage": "$default",
    "ApiId": "abc123",
    "FunctionName": "gw-gateway",
    "RateLimitTableName": "gw-rate-limits",
    "SessionsTableName": "gw-sessions",
    "FunctionLogGroupName": "/aws/lambda/gw-gateway",
    "AccessLogGroupName": "/aws/apigateway/gw-api",
    "GatewayNamespace": "Opskit/Gateway/gw",
}
CUSTOM = custom_metrics_for("gw")  # what the baseline's metric filters publish

# The example from "Dashboard Body Structure and Syntax" (CloudWatch API reference), verbatim in shape.
DOCUMENTED_EXAMPLE = {
    "start": "-PT6H",
    "periodOverride": "inherit",
    "widgets": [
        {
            "type": "metric",
            "x": 0,
            "y": 0,
            "width": 12,
            "height": 6,
            "properties": {
                "metrics": [["AWS/EC2", "CPUUtilization", "InstanceId", "i-012345"]],
                "period": 300,
                "stat": "Average",
                "region": "us-east-1",
                "title": "EC2 Instance CPU",
                "liveData": False,
                "legend": {"position": "right"},
            },
        },
        {
            "type": "text",
            "x": 0,
            "y": 7,
            "width": 3,
            "height": 3,
            "properties": {"markdown": "Hello world"},
        },
    ],
}


def filled(queries_dir: Path = ROOT / "queries"):
    template = load_template(ROOT / "dashboards" / "gateway.json")
    return fill_template(template, CONTEXT, alarm_arns=[ARN], queries=load_library(queries_dir))


def test_documented_example_is_valid():
    assert validate_body(DOCUMENTED_EXAMPLE) == []


def test_gateway_template_fills_and_validates():
    rendered = filled()
    assert rendered.problems == []
    assert validate_body(rendered.body, CUSTOM) == []
    text = json.dumps(rendered.body)
    assert "${" not in text
    widgets = rendered.body["widgets"]
    kinds = [w["type"] for w in widgets]
    assert kinds.count("alarm") == 1 and kinds.count("log") >= 2
    alarm = next(w for w in widgets if w["type"] == "alarm")
    assert alarm["properties"]["alarms"] == [ARN]
    titles = {w["properties"].get("title") for w in widgets}
    assert {
        "Requests",
        "4xx / 5xx",
        "Latency (ms)",
        "Cold starts",
        "DynamoDB consumed capacity",
    } <= titles
    latency = next(w for w in widgets if w["properties"].get("title") == "Latency (ms)")
    stats = [m[-1]["stat"] for m in latency["properties"]["metrics"]]
    assert stats[:3] == ["p50", "p90", "p99"]
    assert latency["properties"]["metrics"][0][:6] == [
        "AWS/ApiGateway",
        "Latency",
        "ApiId",
        "abc123",
        "Stage",
        "$default",
    ]


def test_log_widgets_run_the_query_files():
    widgets = filled().body["widgets"]
    logs = {
        w["properties"]["title"]: w["properties"]["query"] for w in widgets if w["type"] == "log"
    }
    errors = next(q for t, q in logs.items() if "errors.insights" in t)
    body = (ROOT / "queries" / "errors.insights").read_text()
    first_line = next(line for line in body.splitlines() if not line.startswith("#"))
    assert errors.startswith("SOURCE '/aws/lambda/gw-gateway' | ")
    assert first_line in errors
    slow = next(q for t, q in logs.items() if "slow-requests" in t)
    assert "| limit 20" in slow  # ?limit=20 in the template overrides the file's default
    assert "latency_ms > 1000" in slow  # threshold_ms default from the file's metadata


def test_queries_dir_is_a_parameter(tmp_path):
    for name in ("errors", "slow-requests", "upstream-errors", "cold-starts"):
        (tmp_path / f"{name}.insights").write_text(
            f"# name: {name}\n# log-group: access\n# param: limit=5 (rows)\nfields @timestamp | limit {{limit}}\n"
        )
    widgets = filled(tmp_path).body["widgets"]
    queries = [w["properties"]["query"] for w in widgets if w["type"] == "log"]
    assert "SOURCE '/aws/apigateway/gw-api' | fields @timestamp | limit 20" in queries
    assert "SOURCE '/aws/apigateway/gw-api' | fields @timestamp | limit 5" in queries


def test_missing_query_and_alarms_are_reported(tmp_path):
    template = load_template(ROOT / "dashboards" / "gateway.json")
    rendered = fill_template(template, CONTEXT, alarm_arns=[], queries={})
    assert any("no managed alarms exist yet" in p for p in rendered.problems)
    assert any("no query named 'errors'" in p for p in rendered.problems)


def widget(**overrides):
    base = {
        "type": "metric",
        "x": 0,
        "y": 0,
        "width": 12,
        "height": 6,
        "properties": {
            "region": "us-east-1",
            "title": "t",
            "metrics": [["AWS/Lambda", "Errors", "FunctionName", "f"]],
        },
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("widgets", "expected"),
    [
        ([widget(), widget(x=6)], "overlaps"),
        ([widget(x=18, width=8)], "overflows the 24-column grid"),
        ([widget(width=25)], "width 25 must be an integer 1..24"),
        (
            [
                widget(
                    properties={
                        "region": "r",
                        "metrics": [["AWS/ApiGateway", "5XXError", "ApiId", "a"]],
                    }
                )
            ],
            "AWS/ApiGateway has no metric named 5XXError",
        ),
        (
            [
                widget(
                    properties={
                        "region": "r",
                        "metrics": [["AWS/Lambda", "Errors", "FunctionName", "${FunctionName}"]],
                    }
                )
            ],
            "unresolved ${FunctionName}",
        ),
        (
            [
                widget(
                    properties={
                        "region": "r",
                        "metrics": [["AWS/Lambda", "Errors", {"stat": "p999x"}]],
                    }
                )
            ],
            "not a CloudWatch statistic",
        ),
        ([widget(properties={"metrics": [["AWS/Lambda", "Errors"]]})], "'region' is required"),
        (
            [
                widget(
                    properties={
                        "region": "r",
                        "metrics": [["AWS/Lambda", "Errors", "FunctionName"]],
                    }
                )
            ],
            "expected [Namespace, MetricName",
        ),
        (
            [widget(type="log", properties={"region": "r", "query": "fields @message"})],
            "must start with SOURCE",
        ),
        ([widget(type="alarm", properties={"alarms": []})], "1 to 100 alarm ARNs"),
        ([widget(type="alarm", properties={"alarms": ["nope"]})], "'nope' is not an alarm ARN"),
        ([widget(type="text", properties={})], "needs 'markdown'"),
        ([widget(type="chart")], "type 'chart' is not one of"),
        ([{k: v for k, v in widget().items() if k != "x"}], "'x' is required"),
    ],
)
def test_validator_catches(widgets, expected):
    problems = validate_body({"widgets": widgets})
    assert any(expected in p for p in problems), problems


def test_validator_follows_dot_shorthand_and_expressions():
    body = copy.deepcopy(DOCUMENTED_EXAMPLE)
    body["widgets"][0]["properties"]["metrics"] = [
        ["AWS/Lambda", "Errors", "FunctionName", "f", {"id": "e"}],
        [".", "Invocations", ".", ".", {"id": "i"}],
        [".", "Erors", ".", "."],
        [{"expression": "100*e/i", "id": "rate", "label": "%"}],
    ]
    problems = validate_body(body)
    assert problems == [
        "widget 0 (EC2 Instance CPU) metric 2: AWS/Lambda has no metric named Erors"
    ]
    assert validate_body({"dashboard": []}) == [
        "unknown top-level key 'dashboard'",
        "the body must have a 'widgets' array",
    ]
