"""Deploys you can trust (issue 12), against the moto server over HTTP (CliRunner).

Parameters kept on a plain redeploy, --save, cfn-lint before the change set, the
re-adoption of retained tables after destroy, and destroy --all. Paths moto cannot
run (IMPORT on AWS, rollback triggers, termination protection) are in
test_deploy_aws_shapes.py against botocore's Stubber.
"""

from __future__ import annotations

import tomllib

import pytest

from opskit.deploy.lint import LINT_DIR, lint_template
from opskit.errors import EXIT_CHECK_FAILED, EXIT_CONFIG
from tests.opskit import test_deploy_flow as flow
from tests.opskit.test_deploy_flow import STACK, aws, run

package_zip, project = flow.package_zip, flow.project  # the deploy-flow fixtures

FUNCTION = f"{STACK}-gateway"


def function_config(moto) -> dict:
    return aws(moto, "lambda").get_function_configuration(FunctionName=FUNCTION)


def test_plain_redeploy_keeps_the_parameters_given_before(project, moto):
    first = run(
        "deploy", "--yes", "--no-smoke-test",
        "-p", "MemorySize=1024", "-p", "UpstreamUsersUrl=https://users.example.test",
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    # A later deploy changes one thing; the others keep their deployed values
    # (UsePreviousValue), not the template defaults (512 MB, no upstream: 404s).
    second = run("deploy", "--yes", "--no-smoke-test", "-p", "LogLevel=DEBUG")
    assert second.exit_code == 0, second.output
    config = function_config(moto)
    assert config["MemorySize"] == 1024
    variables = config["Environment"]["Variables"]
    assert variables["GATEWAY_UPSTREAM_USERS"] == "https://users.example.test"
    assert variables["GATEWAY_LOG_LEVEL"] == "DEBUG"
    # The plan says what changes, parameter by parameter, and nothing else.
    assert "Parameters:\n  LogLevel  INFO → DEBUG\n" in second.stdout
    assert "MemorySize" not in second.stdout
    stack = aws(moto, "cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    deployed = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert deployed["MemorySize"] == "1024"


def test_parameter_diff_masks_secret_arns(project, moto):
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:opskit/jwt-AbCdEf"
    assert run("deploy", "--yes", "--no-smoke-test").exit_code == 0
    plan = run("deploy", "--plan", "-p", f"JwtSecretArn={arn}", "-p", "MemorySize=2048")
    assert plan.exit_code == 0, plan.output
    assert "  MemorySize  512 → 2048\n" in plan.stdout
    assert '  JwtSecretArn  "" → ****  (secret: value masked, changed)\n' in plan.stdout
    assert "opskit/jwt" not in plan.stdout + plan.stderr


def test_save_writes_the_given_parameters_into_opskit_toml(project, moto):
    config = project / "opskit.toml"
    before = config.read_text()
    result = run("deploy", "--yes", "--no-smoke-test", "--save", "-p", "MemorySize=1536")
    assert result.exit_code == 0, result.output
    assert f"Saved MemorySize to {config} [env.local.parameters]" in result.stderr
    text = config.read_text()
    document = tomllib.loads(text)
    assert document["env"]["local"]["parameters"] == {"CorsOrigins": "*", "MemorySize": "1536"}
    # Only that line was added: every comment and other table is as it was.
    assert [line for line in text.splitlines() if line not in before.splitlines()] == [
        'MemorySize = "1536"'
    ]
    # The file is now the source of truth: a plain deploy changes nothing.
    noop = run("deploy", "--yes", "--no-smoke-test")
    assert noop.stdout.startswith("No changes:"), noop.output


BROKEN = {
    "Runtime: python3.12": "Runtime: python2.7",
    "      Timeout: !Ref Timeout\n": "      Timeout: !Ref Timeout\n      Bogus: 1\n",
    "        - { AttributeName: limiter_key, KeyType: HASH }": (
        "        - { AttributeName: limiter_id, KeyType: HASH }"
    ),
}


def test_cfn_lint_stops_a_broken_template_before_any_change_set(project, moto):
    template = project / "cloudformation" / "gateway.yaml"
    text = template.read_text()
    for old, new in BROKEN.items():
        assert old in text
        text = text.replace(old, new)
    template.write_text(text)
    lines = text.splitlines()
    result = run("deploy", "--yes")
    assert result.exit_code == EXIT_CHECK_FAILED, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("cfn-lint error:")]
    by_rule = {line.split()[2]: line for line in errors}
    assert set(by_rule) >= {"E2533", "E3002", "E3039"}, errors
    for rule, resource, needle in (
        ("E2533", "Function", "Runtime: python2.7"),
        ("E3002", "Function", "Bogus: 1"),
        ("E3039", "RateLimitTable", None),
    ):
        line = by_rule[rule]
        assert f"{rule} {resource} (line " in line
        number = int(line.split("(line ")[1].split(")")[0])
        if needle:  # the line cfn-lint names is the offending one
            assert lines[number - 1].strip() == needle
    assert result.stderr.splitlines()[-1].startswith(
        "Error: the template failed cfn-lint with 3 error(s): E"
    )
    # Nothing was created: no stack, no change set, no bucket.
    assert aws(moto, "cloudformation").list_stacks()["StackSummaries"] == []
    assert aws(moto, "s3").list_buckets()["Buckets"] == []


def test_lint_is_cached_by_template_hash_and_can_be_skipped(project, moto, monkeypatch):
    text = (project / "cloudformation" / "gateway.yaml").read_text()
    state = project / ".opskit"
    first = lint_template(text, "us-east-1", state)
    assert not first.cached and not first.errors
    assert len(list((state / LINT_DIR).iterdir())) == 1
    import opskit.deploy.lint as lint

    def no_lint(*args):
        raise AssertionError("a cached template must not be linted again")

    monkeypatch.setattr(lint, "run_cfn_lint", no_lint)
    assert lint_template(text, "us-east-1", state).cached
    with pytest.raises(AssertionError):  # any other byte is a new template
        lint_template(text + "\n", "us-east-1", state)
    broken = text.replace("Runtime: python3.12", "Runtime: python2.7")
    (project / "cloudformation" / "gateway.yaml").write_text(broken)
    skipped = run("deploy", "--plan", "--no-lint")
    assert skipped.exit_code == 0, skipped.output  # moto accepts it; cfn-lint was skipped


def test_prod_refuses_a_cors_wildcard(project, moto):
    config = project / "opskit.toml"
    config.write_text(
        "".join(
            f'[env.{name}]\nstack_name = "{STACK}"\nlocal = true\n'
            f'[env.{name}.parameters]\nCorsOrigins = "https://a.example.com,*"\n'
            for name in ("staging", "prod")
        )
    )
    from click.testing import CliRunner

    from opskit.cli import cli

    ok = CliRunner().invoke(cli, ["--env", "staging", "deploy", "--plan"])
    assert ok.exit_code == 0, ok.output  # only prod is held to it
    refused = CliRunner().invoke(cli, ["--env", "prod", "deploy", "--plan"])
    assert refused.exit_code == EXIT_CONFIG
    assert "Error: CorsOrigins is '*' for prod" in refused.stderr
    summaries = aws(moto, "cloudformation").list_stacks()["StackSummaries"]
    assert [s["StackStatus"] for s in summaries] == ["DELETE_COMPLETE"]  # staging's plan only


def test_destroy_then_deploy_keeps_the_sessions_table_and_its_items(project, moto):
    ddb = aws(moto, "dynamodb")
    assert run("deploy", "--yes", "--no-smoke-test").exit_code == 0
    tables = sorted(ddb.list_tables()["TableNames"])
    assert tables == [f"{STACK}-rate-limits", f"{STACK}-sessions"]
    item = {
        "session_id": {"S": "s-keep"},
        "user_id": {"S": "u-1"},
        "expires_at": {"N": "4102444800"},
    }
    ddb.put_item(TableName=f"{STACK}-sessions", Item=item)

    destroyed = run("destroy", "--yes")
    assert destroyed.exit_code == 0, destroyed.output
    assert sorted(ddb.list_tables()["TableNames"]) == tables

    again = run("deploy", "--yes", "--no-smoke-test")
    assert again.exit_code == 0, again.output
    assert "re-adopting them with an IMPORT change set (their data is kept)" in again.stderr
    assert "(IMPORT)" in again.stdout  # the import change set is shown
    assert sorted(ddb.list_tables()["TableNames"]) == tables  # no new, empty tables
    assert (
        ddb.get_item(TableName=f"{STACK}-sessions", Key={"session_id": {"S": "s-keep"}})["Item"]
        == item
    )
    resources = aws(moto, "cloudformation").list_stack_resources(StackName=STACK)
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources["StackResourceSummaries"]
    }
    assert physical["SessionsTable"] == f"{STACK}-sessions"
    assert physical["Function"] == FUNCTION  # and the rest of the stack was created
    noop = run("deploy", "--yes", "--no-smoke-test")
    assert noop.stdout.startswith("No changes:"), noop.output


def test_destroy_lists_extras_and_all_removes_them_but_never_tables(project, moto):
    cw, sns, budgets, ddb = (aws(moto, s) for s in ("cloudwatch", "sns", "budgets", "dynamodb"))
    assert run("deploy", "--yes", "--no-smoke-test").exit_code == 0
    for args in (
        ("alarms", "apply", "--email", "ops@example.com"),
        ("dashboards", "push"),
        ("budget", "setup", "--amount", "20", "--email", "ops@example.com", "--yes"),
    ):
        made = run(*args)
        assert made.exit_code == 0, (args, made.output)
    alarms = cw.describe_alarms()["MetricAlarms"]
    assert len(alarms) >= 10 and sns.list_topics()["Topics"]
    assert cw.list_dashboards()["DashboardEntries"]

    kept = run("destroy", "--yes")
    assert kept.exit_code == 0, kept.output
    assert "Kept (delete them with --all): SNS topic arn:aws:sns:" in kept.stderr
    assert f"Kept (delete them with --all): dashboard {STACK}-gateway" in kept.stderr
    assert "Kept (delete them with --all): budget opskit-local-monthly" in kept.stderr
    assert "`opskit destroy --all` deletes them" in kept.stdout
    assert len(cw.describe_alarms()["MetricAlarms"]) == len(alarms)

    assert run("deploy", "--yes", "--no-smoke-test").exit_code == 0  # re-adopts the tables
    removed = run("destroy", "--yes", "--all")
    assert removed.exit_code == 0, removed.output
    assert cw.describe_alarms()["MetricAlarms"] == []
    assert cw.list_dashboards()["DashboardEntries"] == []
    assert sns.list_topics()["Topics"] == []
    assert budgets.describe_budgets(AccountId="123456789012").get("Budgets", []) == []
    logs = aws(moto, "logs")
    groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    for group in groups:
        assert logs.describe_metric_filters(logGroupName=group)["metricFilters"] == []
    assert sorted(ddb.list_tables()["TableNames"]) == [f"{STACK}-rate-limits", f"{STACK}-sessions"]


def test_a_deploy_whose_gateway_config_is_invalid_fails_the_smoke_test(project, moto, monkeypatch):
    """The deployed function's own environment runs the real gateway under uvicorn.

    `RateLimit=0/0` passes the template's AllowedPattern, and /health/live answers 200
    with it; /health/ready does not, so the deploy exits 10 instead of showing green.
    """
    import opskit.commands.deploy_cmd as deploy_cmd
    from tests.gateway.processes import UvicornGateway
    from tests.gateway.support import SECRET

    started: list[UvicornGateway] = []

    def deployed_gateway(app, state, restart):  # the local account's job, from the stack
        variables = function_config(moto)["Environment"]["Variables"]
        gateway = UvicornGateway(
            {
                **variables,
                "GATEWAY_JWT_PUBLIC_KEY": "",
                "GATEWAY_JWT_SECRET": SECRET,
                "GATEWAY_TRACING": "off",
                "AWS_ENDPOINT_URL": moto,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": "us-east-1",
            }
        )
        started.append(gateway)
        gateway.wait_ready()
        return gateway.url

    monkeypatch.setattr(deploy_cmd, "_ensure_local_gateway", deployed_gateway)
    monkeypatch.setattr(deploy_cmd, "_local_state", lambda app: None)
    try:
        good = run("deploy", "--yes", "-p", "JwtPublicKey=unused")
        assert good.exit_code == 0, good.output
        assert (
            "Smoke test: GET http://127.0.0.1:" in good.stdout
            and "/health/ready -> 200" in good.stdout
        )
        bad = run("deploy", "--yes", "-p", "RateLimit=0/0")
        assert bad.exit_code == EXIT_CHECK_FAILED, bad.output
        assert (
            "/health/ready failed: the deployed gateway is not ready: HTTP 503 config_invalid"
            in bad.stderr
        )
        assert "after 1 attempts" in bad.stderr  # an invalid configuration is not retried
    finally:
        for gateway in started:
            gateway.stop()
