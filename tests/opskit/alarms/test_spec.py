"""The alarm set file and per-environment overrides (pure: no AWS)."""

from __future__ import annotations

import pytest

from opskit.alarms.plan import alarm_differences, is_owned, with_actions
from opskit.alarms.spec import alarm_overrides, load_alarm_set, read_alarm_file
from opskit.config import load_environment
from opskit.errors import ConfigError

CONTEXT = {
    "Stack": "gw-prod",
    "Region": "eu-west-1",
    "Stage": "$default",
    "FunctionName": "gw-prod-gateway",
    "ApiId": "abc123",
    "RateLimitTableName": "gw-prod-rate-limits",
    "SessionsTableName": "gw-prod-sessions",
    "FunctionLogGroupName": "/aws/lambda/gw-prod-gateway",
    "GatewayNamespace": "Opskit/Gateway/gw-prod",
}
VARIABLES = {"function_timeout_ms": 10000.0, "account_concurrency_limit": 1000.0}


def load(overrides=None, context=CONTEXT, document=None):
    document = document or read_alarm_file(None)[0]
    return load_alarm_set(
        document, stack="gw-prod", context=context, overrides=overrides or {}, variables=VARIABLES
    )


def by_key(alarm_set):
    return {a.key: a.params for a in alarm_set.alarms}


def test_baseline_alarms_all_explicit_and_prefixed():
    alarms = load().alarms
    assert len(alarms) == 20  # no CertificateArn: no certificate alarm
    assert all("Runbook: " in a.params["AlarmDescription"] for a in alarms)
    for alarm in alarms:
        p = alarm.params
        assert alarm.name.startswith("gw-prod-")
        assert p["DatapointsToAlarm"] <= p["EvaluationPeriods"]
        assert p["TreatMissingData"] in {"notBreaching", "ignore", "breaching", "missing"}
        assert "[opskit:managed stack=gw-prod]" in p["AlarmDescription"]
        assert "${" not in str(p)
    params = by_key(load())
    assert params["lambda-duration-p99"]["Threshold"] == 8000.0  # 0.8 x 10 s
    assert params["lambda-concurrency"]["Threshold"] == 900.0
    assert params["lambda-concurrency"]["Dimensions"] == []  # account-wide
    assert params["ddb-sessions-read-throttles"]["Dimensions"] == [
        {"Name": "TableName", "Value": "gw-prod-sessions"}
    ]


def test_env_overrides_from_opskit_toml(tmp_path):
    config = tmp_path / "opskit.toml"
    config.write_text(
        "[defaults.alarms]\nlambda-errors = 10\n"
        "[defaults.alarms.api-latency-p99]\nthreshold = 2000\n"
        '[env.dev]\nstack_name = "gw-dev"\n'
        '[env.prod]\nstack_name = "gw-prod"\n'
        "[env.prod.alarms]\nlambda-errors = 3\n"
        "[env.prod.alarms.api-latency-p99]\ndatapoints_to_alarm = 2\n"
        "[env.prod.alarms.lambda-concurrency]\nenabled = false\n"
    )
    dev = by_key(load(alarm_overrides(load_environment("dev", config).settings)))
    prod = by_key(load(alarm_overrides(load_environment("prod", config).settings)))
    assert dev["lambda-errors"]["Threshold"] == 10.0
    assert prod["lambda-errors"]["Threshold"] == 3.0
    assert dev["api-latency-p99"]["Threshold"] == prod["api-latency-p99"]["Threshold"] == 2000.0
    assert (
        dev["api-latency-p99"]["DatapointsToAlarm"],
        prod["api-latency-p99"]["DatapointsToAlarm"],
    ) == (3, 2)
    assert "lambda-concurrency" in dev and "lambda-concurrency" not in prod


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"lambda-eror": 3}, "unknown alarm(s): lambda-eror"),
        ({"lambda-errors": {"thresold": 3}}, "not an overridable field"),
        ({"lambda-errors": {"threshold": "high"}}, "wrong type"),
        ({"lambda-errors": {"datapoints_to_alarm": 9}}, "must be 1..evaluation_periods"),
        ({"lambda-errors": {"period": 45}}, "multiple of 60"),
    ],
)
def test_bad_overrides_name_the_problem(overrides, message):
    with pytest.raises(ConfigError) as info:
        load(overrides)
    assert message in str(info.value)


def test_alarm_without_its_output_is_skipped_not_broken():
    context = {k: v for k, v in CONTEXT.items() if k != "ApiId"}
    result = load(context=context)
    skipped = {a.key for a in result.skipped}
    assert skipped == {
        "api-5xx-rate",
        "api-4xx-rate",
        "api-latency-p99",
        "api-integration-latency-p99",
    }
    assert all(a.missing == ("ApiId",) for a in result.skipped)


def test_diff_names_changed_fields_and_ignores_describe_noise():
    alarm = next(a for a in load().alarms if a.key == "api-5xx-rate")
    desired = with_actions(alarm, "arn:aws:sns:eu-west-1:1:t")
    described = dict(desired, StateValue="ALARM", AlarmArn="arn:x", Dimensions=[], Threshold=1)
    described["Metrics"] = list(reversed(desired["Metrics"]))
    assert alarm_differences(desired, described) == []
    assert alarm_differences(desired, dict(described, Threshold=2.0, OKActions=[])) == [
        "OKActions",
        "Threshold",
    ]


def test_ownership_needs_prefix_and_marker_of_this_stack():
    mark = "[opskit:managed stack=gw-prod]"
    assert is_owned({"AlarmName": "gw-prod-x", "AlarmDescription": f"d {mark}"}, "gw-prod")
    assert not is_owned({"AlarmName": "gw-prod-x", "AlarmDescription": "by hand"}, "gw-prod")
    assert not is_owned({"AlarmName": "other-x", "AlarmDescription": mark}, "gw-prod")
    assert not is_owned(
        {"AlarmName": "gw-prod-x", "AlarmDescription": "[opskit:managed stack=gw-prod2]"}, "gw-prod"
    )


ACCESS_LINE_FIELDS = {
    "level", "location", "message", "timestamp", "service", "cold_start", "function_name",
    "function_memory_size", "function_arn", "function_request_id", "xray_trace_id",
    "correlation_id", "method", "path", "route", "status", "latency_ms", "upstream",
    "upstream_latency_ms", "upstream_status", "user_id", "client_ip", "rate_limited",
    "request_bytes", "response_bytes", "error_code",
}  # fmt: skip


def test_metric_filters_only_match_contract_fields():
    """Every `$.field` the filters match is a field of the gateway's log lines, and each filter
    publishes one metric. What the filters match is tested on real gateway lines in
    test_filters_on_real_lines.py (moto stores filter patterns and never evaluates them)."""
    import re

    result = load()
    assert {f.key for f in result.filters} == {
        "requests",
        "rate-limited",
        "rate-limit-unavailable",
        "upstream-requests",
        "upstream-errors",
        "cold-starts",
    }
    for flt in result.filters:
        fields = set(re.findall(r"\$\.([A-Za-z_]+)", flt.params["filterPattern"]))
        assert fields <= ACCESS_LINE_FIELDS, (flt.key, fields - ACCESS_LINE_FIELDS)
        assert flt.log_group == "/aws/lambda/gw-prod-gateway"
        (transform,) = flt.params["metricTransformations"]
        assert transform["metricNamespace"] == "Opskit/Gateway/gw-prod"
    share = by_key(result)["gateway-rate-limited-share"]["Metrics"]
    assert {q["MetricStat"]["Metric"]["MetricName"] for q in share if "MetricStat" in q} == {
        "RateLimited",
        "Requests",
    }


def test_baseline_fixes_of_issue_13():
    """Min-sample guards, ClaimedAccountConcurrency, SystemErrors 15/15, GSI throttles, the
    limiter-unavailable alarm on its own filter; each fails on the baseline before the fix."""
    params = by_key(load())
    for key in (
        "api-5xx-rate",
        "api-latency-p99",
        "lambda-duration-p99",
        "gateway-upstream-error-share",
    ):
        result = next(q for q in params[key]["Metrics"] if q["Id"] == "result")
        assert ">= 20," in result["Expression"], key  # the default guard
    guarded = by_key(load({"min_requests": 50}))
    latency = {q["Id"]: q for q in guarded["api-latency-p99"]["Metrics"]}
    assert latency["result"]["Expression"] == "IF(requests >= 50, latency, 0)"
    assert latency["latency"]["MetricStat"]["Stat"] == "p99"
    assert params["lambda-concurrency"]["MetricName"] == "ClaimedAccountConcurrency"
    system = params["ddb-sessions-system-errors"]
    assert (system["EvaluationPeriods"], system["DatapointsToAlarm"]) == (15, 15)
    gsi = params["ddb-sessions-gsi-write-throttles"]["Dimensions"]
    assert {"Name": "GlobalSecondaryIndexName", "Value": "user_id-index"} in gsi
    assert params["gateway-rate-limit-unavailable"]["MetricName"] == "RateLimitUnavailable"
    filters = {f.key: f.params["filterPattern"] for f in load().filters}
    assert "rate_limit_unavailable" in filters["rate-limit-unavailable"]
    assert "$.status = 429" in filters["rate-limited"]


def test_certificate_alarm_only_with_a_custom_domain():
    assert "acm-days-to-expiry" not in by_key(load())
    arn = "arn:aws:acm:eu-west-1:000000000000:certificate/abc"
    cert = by_key(load(context={**CONTEXT, "CertificateArn": arn}))["acm-days-to-expiry"]
    assert cert["Dimensions"] == [{"Name": "CertificateArn", "Value": arn}]
    assert (cert["ComparisonOperator"], cert["Threshold"]) == ("LessThanThreshold", 30.0)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "20"])
def test_min_requests_must_be_a_positive_whole_number(bad):
    with pytest.raises(ConfigError, match="min_requests"):
        load({"min_requests": bad})


def test_duration_threshold_comes_from_the_deployed_function(env, clients):
    """Timeout 30 in opskit.toml, 12 s deployed: the alarm watches what runs (0.8 x 12 s)."""
    import io
    import zipfile

    from opskit.alarms.service import desired_alarms
    from tests.opskit.alarms.fake_stack import STACK, create_fake_stack

    create_fake_stack(clients)
    role = clients.client("iam").create_role(
        RoleName="fn", AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}'
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    clients.client("lambda").create_function(
        FunctionName=f"{STACK}-gateway",
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
        Timeout=12,
    )
    result = desired_alarms(clients.cloudformation(), clients.lambda_(), env)
    duration = next(a for a in result.alarms if a.key == "lambda-duration-p99")
    assert duration.params["Threshold"] == 9600.0
    assert not any("deployed function's timeout" in note for note in result.notes)
