"""`opskit alarms apply` against a moto server: idempotence, pruning, overrides, SNS."""

from __future__ import annotations

import json

from click.testing import CliRunner

from opskit.cli import cli
from opskit.errors import EXIT_ABORTED, EXIT_CONFIG, EXIT_NOT_FOUND, EXIT_USAGE
from tests.opskit.alarms.fake_stack import STACK, create_fake_stack


def run(*args: str):
    return CliRunner().invoke(cli, ["--env", "local", *args])


def our_alarms(clients) -> dict[str, dict]:
    pages = clients.client("cloudwatch").get_paginator("describe_alarms").paginate()
    return {a["AlarmName"]: a for page in pages for a in page["MetricAlarms"]}


def test_apply_creates_the_baseline_then_a_second_run_changes_nothing(local_env, clients):
    create_fake_stack(clients)
    first = run("alarms", "apply")
    assert first.exit_code == 0, first.output
    assert "Plan: 26 to create" in first.output
    # moto has no GetAccountSettings: the assumed limit is said, with how to set it.
    assert "assuming 1000; set account_concurrency_limit" in first.output.replace("\n", " ")
    alarms = our_alarms(clients)
    assert len(alarms) == 20  # no custom domain: no certificate alarm
    names = set(alarms)
    for key in (
        "lambda-errors",
        "lambda-error-rate",
        "lambda-throttles",
        "lambda-duration-p99",
        "lambda-concurrency",
        "api-5xx-rate",
        "api-4xx-rate",
        "api-latency-p99",
        "api-integration-latency-p99",
        "ddb-rate-limits-read-throttles",
        "ddb-sessions-write-throttles",
        "ddb-sessions-system-errors",
        "gateway-rate-limited-share",
        "gateway-upstream-error-share",
        "gateway-rate-limit-unavailable",
        "ddb-sessions-gsi-read-throttles",
        "ddb-sessions-gsi-write-throttles",
    ):
        assert f"{STACK}-{key}" in names
    assert f"{STACK}-acm-days-to-expiry" not in names
    duration = alarms[f"{STACK}-lambda-duration-p99"]
    queries = {q["Id"]: q for q in duration["Metrics"]}
    assert queries["duration"]["MetricStat"]["Stat"] == "p99"
    assert queries["result"]["Expression"] == "IF(invocations >= 20, duration, 0)"
    # moto's fake stack has no function: the fallback (opskit.toml's 30 s) is said.
    assert duration["Threshold"] == 24000.0  # 0.8 x Timeout 30 s
    assert "cannot read the deployed function's timeout" in first.output.replace("\n", " ")
    assert (
        queries["duration"]["MetricStat"]["Period"],
        duration["EvaluationPeriods"],
        duration["DatapointsToAlarm"],
    ) == (
        60,
        5,
        3,
    )
    assert duration["TreatMissingData"] == "notBreaching"
    api = alarms[f"{STACK}-api-5xx-rate"]
    stats = {q["Id"]: q for q in api["Metrics"]}
    assert stats["errors"]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "ApiId", "Value": "a1b2c3d4e5"},
        {"Name": "Stage", "Value": "$default"},
    ]
    assert stats["result"]["Expression"].startswith("IF(requests >= 20,")  # [defaults.alarms]
    tags = clients.client("cloudwatch").list_tags_for_resource(ResourceARN=api["AlarmArn"])["Tags"]
    assert {"Key": "opskit:stack", "Value": STACK} in tags
    assert {"Key": "Environment", "Value": "local"} in tags

    filters = clients.client("logs").describe_metric_filters(
        logGroupName=f"/aws/lambda/{STACK}-gateway"
    )
    by_name = {f["filterName"]: f for f in filters["metricFilters"]}
    assert set(by_name) == {
        f"{STACK}-opskit-{k}"
        for k in (
            "requests",
            "rate-limited",
            "rate-limit-unavailable",
            "upstream-requests",
            "upstream-errors",
            "cold-starts",
        )
    }
    assert "$.rate_limited IS TRUE" in by_name[f"{STACK}-opskit-rate-limited"]["filterPattern"]

    second = run("alarms", "apply")
    assert second.exit_code == 0, second.output
    assert "No changes: 26 resources already match" in second.output
    assert (
        our_alarms(clients)[f"{STACK}-lambda-errors"]["AlarmConfigurationUpdatedTimestamp"]
        == (alarms[f"{STACK}-lambda-errors"]["AlarmConfigurationUpdatedTimestamp"])
    )


def test_plan_only_changes_nothing(local_env, clients):
    create_fake_stack(clients)
    result = run("alarms", "apply", "--plan")
    assert result.exit_code == 0, result.output
    assert f"{STACK}-api-latency-p99" in result.output
    assert our_alarms(clients) == {}


def test_prunes_only_alarms_it_owns(local_env, clients, tmp_path):
    create_fake_stack(clients)
    cw = clients.client("cloudwatch")
    base = {
        "Namespace": "AWS/Lambda",
        "MetricName": "Errors",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    cw.put_metric_alarm(AlarmName="other-team-errors", **base)
    cw.put_metric_alarm(AlarmName=f"{STACK}-handmade", AlarmDescription="made by hand", **base)
    cw.put_metric_alarm(
        AlarmName=f"{STACK}-retired",
        AlarmDescription=f"an alarm the set no longer has [opskit:managed stack={STACK}]",
        **base,
    )
    cw.put_metric_alarm(
        AlarmName=f"{STACK}2-retired",
        AlarmDescription=f"another stack's [opskit:managed stack={STACK}2]",
        **base,
    )

    cw.put_metric_alarm(
        AlarmName=f"{STACK}-lambda-throttles", AlarmDescription="same name, by hand", **base
    )
    plan = run("--output", "json", "alarms", "apply", "--plan")
    rows = {(r["action"], r["name"]): r["detail"] for r in json.loads(plan.stdout)}
    assert rows[("update", f"{STACK}-lambda-throttles")] == "takes over an unmarked alarm"
    assert ("delete", f"{STACK}-retired") in rows
    assert not any(
        name in {"other-team-errors", f"{STACK}-handmade", f"{STACK}2-retired"} for _, name in rows
    )

    refused = run("alarms", "apply")  # not a terminal, no --yes: deleting needs confirmation
    assert refused.exit_code == EXIT_ABORTED
    assert f"{STACK}-retired" in our_alarms(clients)

    result = run("alarms", "apply", "--yes")
    assert result.exit_code == 0, result.output
    assert "1 deleted" in result.output
    names = set(our_alarms(clients))
    assert f"{STACK}-retired" not in names
    assert {"other-team-errors", f"{STACK}-handmade", f"{STACK}2-retired"} <= names


def test_environment_override_updates_only_what_changed(local_env, clients):
    create_fake_stack(clients)
    assert run("alarms", "apply").exit_code == 0
    config = local_env / "opskit.toml"
    config.write_text(
        config.read_text()
        + "\n[env.local.alarms]\nlambda-errors = 25\n"
        + "[env.local.alarms.api-latency-p99]\nthreshold = 900\nevaluation_periods = 10\n"
        + "[env.local.alarms.lambda-concurrency]\nenabled = false\n"
    )
    plan = run("--output", "json", "alarms", "apply", "--plan")
    assert plan.exit_code == 0, plan.output
    rows = json.loads(plan.stdout)
    pending = {(r["action"], r["name"]): r["detail"] for r in rows if r["action"] != "unchanged"}
    assert pending == {
        ("update", f"{STACK}-lambda-errors"): "Threshold",
        ("update", f"{STACK}-api-latency-p99"): "EvaluationPeriods, Threshold",
        ("delete", f"{STACK}-lambda-concurrency"): "",
    }
    assert run("alarms", "apply", "--yes").exit_code == 0
    alarms = our_alarms(clients)
    assert alarms[f"{STACK}-lambda-errors"]["Threshold"] == 25.0
    assert alarms[f"{STACK}-api-latency-p99"]["EvaluationPeriods"] == 10
    assert f"{STACK}-lambda-concurrency" not in alarms
    assert "No changes" in run("alarms", "apply").output


def test_email_creates_topic_policy_and_subscription_once(local_env, clients):
    create_fake_stack(clients)
    result = run("alarms", "apply", "--email", "oncall@example.com")
    assert result.exit_code == 0, result.output
    sns = clients.client("sns")
    arn = next(
        t["TopicArn"]
        for t in sns.list_topics()["Topics"]
        if t["TopicArn"].endswith(f":{STACK}-alarms")
    )
    policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    cw_statement = next(
        s for s in policy["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    )
    assert cw_statement["Action"] == "SNS:Publish"
    assert cw_statement["Resource"] == arn
    subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "oncall@example.com")]
    alarm = our_alarms(clients)[f"{STACK}-lambda-errors"]
    assert alarm["AlarmActions"] == [arn] and alarm["OKActions"] == [arn]

    again = run("alarms", "apply", "--email", "oncall@example.com")
    assert "No changes" in again.output, again.output
    assert len(sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]) == 1
    # Without --email the existing topic is reused, so the actions are kept.
    assert "No changes" in run("alarms", "apply").output


def test_explicit_sns_topic_becomes_the_alarm_action(local_env, clients):
    create_fake_stack(clients)
    arn = clients.client("sns").create_topic(Name="pager")["TopicArn"]
    assert run("alarms", "apply", "--sns-topic", arn).exit_code == 0
    assert our_alarms(clients)[f"{STACK}-api-4xx-rate"]["AlarmActions"] == [arn]
    bad = run("alarms", "apply", "--sns-topic", "pager")
    assert bad.exit_code == EXIT_USAGE
    assert "not an SNS topic ARN" in bad.output


def test_missing_stack_is_one_actionable_line(local_env, clients):
    result = run("alarms", "apply")
    assert result.exit_code == EXIT_NOT_FOUND
    assert f"stack {STACK} not found" in result.output
    assert "`opskit --env local deploy`" in result.output  # the hint names this environment


def test_custom_file_with_a_wrong_metric_name_is_rejected(local_env, clients, tmp_path):
    create_fake_stack(clients)
    bad = tmp_path / "alarms.toml"
    bad.write_text(
        '[[alarm]]\nkey = "api-5xx"\nnamespace = "AWS/ApiGateway"\nmetric = "5XXError"\n'
        'dimensions = { ApiId = "${ApiId}" }\nstat = "Sum"\nperiod = 60\nevaluation_periods = 1\n'
        'datapoints_to_alarm = 1\ncomparison = "GreaterThanThreshold"\nthreshold = 0\n'
        'treat_missing_data = "notBreaching"\n'
    )
    result = run("alarms", "apply", "--file", str(bad))
    assert result.exit_code == EXIT_CONFIG
    assert "AWS/ApiGateway 5XXError" in result.output


def test_metric_filters_are_updated_and_pruned(local_env, clients, tmp_path):
    from opskit.alarms.spec import default_alarm_file

    create_fake_stack(clients)
    assert run("alarms", "apply").exit_code == 0
    text = default_alarm_file().read_text()
    text = text.replace(
        "pattern = '{ $.message = \"request\" }'",
        "pattern = '{ $.message = \"request\" && $.status = * }'",
    )
    cold = text.index('[[metric_filter]]\nkey = "cold-starts"')
    text = text[:cold] + text[text.index("# ---- Lambda") :]
    custom = tmp_path / "alarms.toml"
    custom.write_text(text)
    plan = run("--output", "json", "alarms", "apply", "--file", str(custom), "--plan")
    pending = {
        (r["action"], r["name"]) for r in json.loads(plan.stdout) if r["action"] != "unchanged"
    }
    assert pending == {
        ("update", f"{STACK}-opskit-requests"),
        ("delete", f"{STACK}-opskit-cold-starts"),
    }
    assert run("alarms", "apply", "--file", str(custom), "--yes").exit_code == 0
    filters = clients.client("logs").describe_metric_filters(
        logGroupName=f"/aws/lambda/{STACK}-gateway"
    )["metricFilters"]
    by_name = {f["filterName"]: f["filterPattern"] for f in filters}
    assert f"{STACK}-opskit-cold-starts" not in by_name
    assert "$.status = *" in by_name[f"{STACK}-opskit-requests"]
