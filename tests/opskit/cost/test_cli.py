"""The `opskit cost` and `opskit budget` commands end to end (CliRunner, moto server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from opskit.app import App
from opskit.aws import ClientFactory
from opskit.cli import cli
from opskit.config import Environment
from opskit.errors import EXIT_NOT_FOUND, EXIT_USAGE
from opskit.terminal import Terminal
from tests.opskit.cost.events import invocation, sample_events

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def run(args, obj=None):
    result = (
        CliRunner().invoke(cli, args, obj=obj, catch_exceptions=False)
        if obj is None
        else CliRunner().invoke(cli, args, obj=obj)
    )
    return result


def test_estimate_from_assumptions_json(local_env):
    result = run(
        [
            "--env",
            "local",
            "cost",
            "estimate",
            "--requests",
            "100k",
            "--duration-ms",
            "500",
            "--memory",
            "512",
            "--arch",
            "x86_64",
            "--cold-start-rate",
            "0",
            "--format",
            "json",
        ]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    lam = sum(i["cost_usd"] for i in data["line_items"] if i["rate_key"].startswith("lambda_"))
    assert round(lam, 2) == 0.44
    assert data["total_usd"] == pytest.approx(
        sum(i["cost_usd"] for i in data["line_items"]), abs=1e-5
    )
    assert data["usage"]["requests"] == 100_000 and data["free_tier"] == "none"
    assert all(i["source"] and i["as_of"] for i in data["line_items"])


def test_estimate_table_and_csv_use_global_output(local_env):
    table = run(["--env", "local", "cost", "estimate", "--requests", "1M"])
    assert (
        table.exit_code == 0
        and "ESTIMATE" in table.output
        and "per million requests" in table.output
    )
    csv_out = run(["--env", "local", "--output", "csv", "cost", "estimate", "--requests", "1M"])
    lines = csv_out.output.strip().splitlines()
    assert lines[0].startswith("service,item,quantity") and len(lines) > 10


def test_estimate_bad_input_is_one_line_with_exit_code(local_env):
    result = run(["--env", "local", "cost", "estimate", "--requests", "lots"], obj=None)
    assert result.exit_code == EXIT_USAGE  # a bad option value
    assert "Invalid value for '--requests': 'lots' is not a number" in result.output
    result = run(["--env", "local", "cost", "estimate", "--file", "x.jsonl"])
    assert result.exit_code == EXIT_USAGE and "--from-logs" in result.output
    missing = run(["--env", "local", "cost", "estimate", "--from-logs", "--file", "missing.jsonl"])
    assert missing.exit_code == EXIT_NOT_FOUND


def test_estimate_from_file_with_routes(local_env):
    path = local_env / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in sample_events(40)))
    result = run(
        [
            "--env",
            "local",
            "cost",
            "estimate",
            "--from-logs",
            "--file",
            str(path),
            "--format",
            "json",
        ]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["from_logs"]["requests_seen"] == 40
    assert {r["route"] for r in data["routes"]} >= {"/api/users", "/health/live"}
    assert data["usage"]["requests"] == 40 * 730


def _put_local_traffic(moto: str, group: str, n: int) -> None:
    logs = ClientFactory("us-east-1", endpoint_url=moto).client("logs")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="local")
    start = int((datetime.now(UTC) - timedelta(hours=1)).timestamp() * 1000)
    events = []
    for i in range(n):
        events += invocation(f"l{i}", "/api/products", start + i * 60_000, 25)
    logs.put_log_events(logGroupName=group, logStreamName="local", logEvents=events)


def test_cost_on_the_local_account_is_the_model_labelled_as_estimate(local_env, moto):
    _put_local_traffic(moto, "/aws/lambda/opskit-local-gateway", 20)
    result = CliRunner().invoke(cli, ["--env", "local", "cost", "--days", "1", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["estimate"] is True and "no billing data" in data["source"]
    assert data["from_logs"]["requests_seen"] == 20
    assert "ESTIMATE" in result.stderr
    default = CliRunner().invoke(cli, ["--env", "local", "cost"])
    assert (
        default.exit_code == 0
        and "ESTIMATE" in default.output
        and "/api/products" in default.output
    )
    # titled as an estimate of the local traffic, not as a month's bill; basis first
    flat = " ".join(default.output.split())
    assert "Local traffic" in flat and "what it would cost on AWS, projected to a month" in flat
    assert flat.index("Basis: at the observed rate") < flat.index("Month total at")
    assert "ESTIMATE of the local traffic" in " ".join(default.stderr.split())


def test_cost_report_against_moto_cost_explorer(moto, tmp_path):
    october = [
        {
            "TimePeriod": {
                "Start": f"2026-10-{d:02d}",
                "End": f"2026-10-{d + 1:02d}" if d < 31 else "2026-11-01",
            },
            "Groups": [
                {
                    "Keys": ["AWS Lambda"],
                    "Metrics": {"UnblendedCost": {"Amount": str(d), "Unit": "USD"}},
                }
            ],
            "Estimated": False,
        }
        for d in range(1, 32)
    ]
    requests.post(
        f"{moto}/moto-api/static/ce/cost-and-usage-results",
        json={"results": [{"ResultsByTime": october}, {"ResultsByTime": []}]},
        timeout=10,
    ).raise_for_status()
    env = Environment(name="dev", stack_name="opskit-dev", region="us-east-1", root=tmp_path)
    console = Console(width=120, record=True, force_terminal=False)
    app = App(
        env=env,
        terminal=Terminal(console=console, err_console=Console(stderr=True)),
        clock=lambda: NOW,
        _clients=ClientFactory("us-east-1", endpoint_url=moto),
    )
    result = CliRunner().invoke(cli, ["cost", "--month", "2026-10", "--all-account"], obj=app)
    assert result.exit_code == 0, result.output
    text = console.export_text()
    assert "AWS Lambda" in text and "496.00" in text and "+496.00" in text  # 1 + 2 + ... + 31
    assert "2026-10-31 " + "█" * 40 in text  # the biggest day gets the full bar
    assert "Cost Explorer paid requests: 2 ($0.02)" in result.stderr
    again = CliRunner().invoke(
        cli,
        ["cost", "--month", "2026-10", "--all-account", "--format", "json"],
        obj=App(
            env=env,
            terminal=Terminal(),
            clock=lambda: NOW,
            _clients=ClientFactory("us-east-1", endpoint_url=moto),
        ),
    )
    data = json.loads(again.stdout)
    assert data["cost_explorer"] == {
        "requests": 0,
        "cost_usd": 0.0,
        "cached": 2,
        "failed": 0,
        "by_operation": {},
    }  # a warm cached report makes 0 paid requests
    assert data["rows"][0] == {
        "group": "AWS Lambda",
        "cost_usd": 496.0,
        "previous_usd": 0.0,
        "delta_usd": 496.0,
        "delta_pct": None,
        "kind": "usage",
    }
    conflict = CliRunner().invoke(cli, ["cost", "--month", "2026-10", "--days", "3"], obj=app)
    assert conflict.exit_code == EXIT_USAGE and "use one of" in conflict.output


def test_prices_lists_every_rate_with_source(local_env):
    result = run(["--env", "local", "--output", "json", "cost", "prices"])
    rows = json.loads(result.output)
    assert {r["rate"] for r in rows} >= {
        "lambda_gbs_arm64",
        "dynamodb_write_units",
        "xray_traces_recorded",
    }
    assert all(r["source"] and r["as_of"] for r in rows)


def test_budget_cli_on_the_local_account(local_env):
    result = run(
        ["--env", "local", "budget", "setup", "--amount", "25", "--email", "ops@example.com"]
    )
    assert result.exit_code == 0, result.output
    assert "created budget opskit-local-monthly" in result.output
    status = run(["--env", "local", "budget", "status", "--format", "json"])
    data = json.loads(status.output)
    assert data["limit_usd"] == 25.0 and len(data["notifications"]) == 3
    too_many = run(
        [
            "--env",
            "local",
            "budget",
            "setup",
            "--amount",
            "25",
            *sum((["--email", f"u{i}@example.com"] for i in range(11)), []),
        ]
    )
    assert too_many.exit_code == EXIT_USAGE and "at most 10" in too_many.output


class FakeSession:
    """What ClientFactory.session offers the account cache: the credentials' access key id."""

    def __init__(self, access_key: str):
        self.access_key = access_key

    def get_credentials(self):
        return self


def stubbed_sts(account: str):
    import boto3
    from botocore.stub import Stubber

    sts = boto3.client("sts", region_name="us-east-1")
    stub = Stubber(sts)
    stub.add_response(
        "get_caller_identity",
        {"UserId": "AIDAEXAMPLE", "Account": account, "Arn": f"arn:aws:iam::{account}:user/ops"},
    )
    stub.activate()
    return sts


class StubFactory(ClientFactory):
    """Hands out pre-stubbed clients (botocore Stubber) where moto lacks the API; the typed
    accessors (`.ce()`, `.sts()`) are ClientFactory's own."""

    endpoint_url = None

    def __init__(
        self, access_key: str = "AKIAEXAMPLE0000001", account: str = "111111111111", **clients
    ):
        self.region = "us-east-1"
        self.session = FakeSession(access_key)
        clients.setdefault("sts", stubbed_sts(account))
        self.clients = clients

    def client(self, service, region=None):
        return self.clients[service]


def test_open_month_report_shows_estimated_and_forecast(tmp_path):
    import boto3
    from botocore.stub import ANY, Stubber

    ce = boto3.client("ce", region_name="us-east-1")
    stub = Stubber(ce)
    stub.add_response(
        "list_cost_allocation_tags",
        {
            "CostAllocationTags": [
                {"TagKey": k, "Type": "UserDefined", "Status": "Active"}
                for k in ("Environment", "Project")
            ]
        },
    )
    day = {
        "TimePeriod": {"Start": "2026-11-23", "End": "2026-11-24"},
        "Groups": [
            {"Keys": ["AWS Lambda"], "Metrics": {"UnblendedCost": {"Amount": "3", "Unit": "USD"}}}
        ],
        "Estimated": True,
    }
    stub.add_response(
        "get_cost_and_usage",
        {"ResultsByTime": [day]},
        {
            "TimePeriod": {"Start": "2026-11-01", "End": "2026-11-25"},
            "Granularity": "DAILY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": ANY,
            "Filter": ANY,
        },
    )
    stub.add_response("get_cost_and_usage", {"ResultsByTime": []})
    stub.add_response(
        "get_cost_forecast", {"Total": {"Amount": "7", "Unit": "USD"}, "ForecastResultsByTime": []}
    )
    env = Environment(name="prod", stack_name="opskit-prod", region="us-east-1", root=tmp_path)
    console = Console(width=120, record=True, force_terminal=False)
    app = App(
        env=env,
        terminal=Terminal(console=console, err_console=Console(stderr=True)),
        clock=lambda: NOW,
        _clients=StubFactory(ce=ce),
    )
    with stub:
        result = CliRunner().invoke(cli, ["cost"], obj=app)
    assert result.exit_code == 0, result.output
    text = console.export_text()
    flat = " ".join(text.split())
    assert "2026-11 to date (2026-11-01..2026-11-24) (Project=opskit, Environment=prod)" in flat
    assert "[ESTIMATED" in flat and "the same 24 days" in flat
    assert "(untaggable, estimated)" in flat
    assert "cannot carry the Project/Environment" in " ".join(result.stderr.split())
    assert "Forecast to month end: $10.00" in text
    assert "Cost Explorer paid requests: 4 ($0.04)" in result.stderr


def test_prices_refresh_cli_saves_the_table(tmp_path):
    import boto3
    from botocore.stub import Stubber

    from opskit.cost.refresh import SPECS
    from tests.opskit.cost.test_refresh import product

    pricing = boto3.client("pricing", region_name="us-east-1")
    stub = Stubber(pricing)
    for spec in SPECS:
        items = (
            [product("L1", "EUW1-Request", [("0", "Inf", "0.0000002000")], "AWS-Lambda-Requests")]
            if spec.key == "lambda_requests"
            else []
        )
        stub.add_response("get_products", {"PriceList": items, "FormatVersion": "aws_v1"})
    env = Environment(name="dev", stack_name="opskit-dev", region="eu-west-1", root=tmp_path)
    app = App(
        env=env, terminal=Terminal(), clock=lambda: NOW, _clients=StubFactory(pricing=pricing)
    )
    with stub:
        result = CliRunner().invoke(
            cli, ["cost", "prices", "--refresh", "--format", "json"], obj=app
        )
    assert result.exit_code == 0, result.output
    rows = {r["rate"]: r for r in json.loads(result.stdout)}
    assert rows["lambda_requests"]["change"] == "unchanged"
    saved = json.loads((tmp_path / ".opskit" / "pricing" / "eu-west-1.json").read_text())
    assert saved["region"] == "eu-west-1" and list(saved["rates"]) == ["lambda_requests"]
    listing = CliRunner().invoke(
        cli,
        ["cost", "prices"],
        obj=App(
            env=env,
            terminal=Terminal(console=Console(width=200)),
            clock=lambda: NOW,
            _clients=StubFactory(),
        ),
    )
    assert "APPROXIMATE for eu-west-1" in listing.output  # only one rate is regional so far


def test_estimate_leads_with_per_million_and_fixed_cost_and_the_basis_first(local_env, tmp_path):
    table = run(["--env", "local", "cost", "estimate", "--requests", "1M"])
    out = table.output
    assert out.index("Cost per million requests: $") < out.index("Fixed monthly cost: $")
    assert out.index("Fixed monthly cost: $") < out.index("[ESTIMATE]")
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in sample_events(100, 100_000)))
    logs = run(["--env", "local", "cost", "estimate", "--from-logs", "--file", str(path)])
    assert logs.exit_code == 0, logs.output
    first = logs.output.splitlines()[0]
    # the projection's basis and window come first, before any total
    assert first.startswith("Basis: at the observed rate of 1 requests/s sustained for a 730-hour")
    assert "measured over 100 s" in first
    legacy = run(["--env", "local", "cost", "estimate", "--free-tier", "legacy"])
    assert legacy.exit_code == EXIT_USAGE and "obsolete" in legacy.output
    users = run(
        ["--env", "local", "cost", "estimate", "--from-logs", "--file", str(path), "--by", "user"]
    )
    assert "Per user" in users.output and "u1" in users.output


def test_budget_setup_checks_tag_activation_and_offers_it(tmp_path):
    """Stubber: ListCostAllocationTags says Environment is Inactive; with --yes opskit activates
    it (UpdateCostAllocationTagsStatus, API reference shape) before creating the budget."""
    import boto3
    from botocore.stub import ANY, Stubber

    ce = boto3.client("ce", region_name="us-east-1")
    ce_stub = Stubber(ce)
    ce_stub.add_response(
        "list_cost_allocation_tags",
        {
            "CostAllocationTags": [
                {"TagKey": "Environment", "Type": "UserDefined", "Status": "Inactive"},
                {"TagKey": "Project", "Type": "UserDefined", "Status": "Active"},
            ]
        },
    )
    ce_stub.add_response(
        "update_cost_allocation_tags_status",
        {"Errors": []},
        {"CostAllocationTagsStatus": [{"TagKey": "Environment", "Status": "Active"}]},
    )
    budgets = boto3.client("budgets", region_name="us-east-1")
    b_stub = Stubber(budgets)
    b_stub.add_client_error("describe_budget", service_error_code="NotFoundException")
    b_stub.add_response(
        "create_budget",
        {},
        {"AccountId": "111111111111", "Budget": ANY, "NotificationsWithSubscribers": ANY},
    )
    env = Environment(name="prod", stack_name="opskit-prod", region="us-east-1", root=tmp_path)
    console = Console(width=200, record=True)
    app = App(
        env=env,
        terminal=Terminal(console=console, err_console=Console(stderr=True, width=200)),
        clock=lambda: NOW,
        _clients=StubFactory(ce=ce, budgets=budgets, sns=None),
    )
    with ce_stub, b_stub:
        result = CliRunner().invoke(
            cli,
            ["budget", "setup", "--amount", "50", "--email", "ops@example.com", "--yes"],
            obj=app,
        )
    assert result.exit_code == 0, result.output
    ce_stub.assert_no_pending_responses()
    b_stub.assert_no_pending_responses()
    assert "activated cost-allocation tags Environment" in " ".join(result.stderr.split())
    from opskit.cost.explorer import CostExplorer, DiskCache

    after = CostExplorer(
        None,
        DiskCache(env.state_dir / "cache" / "ce", lambda: NOW),
        NOW.date(),
        account_id="111111111111",
    )
    assert (
        after.cache.get({"op": "ListCostAllocationTags", "keys": ["Environment", "Project"]})
        is None
    )
    declined_ce = boto3.client("ce", region_name="us-east-1")
    stub2 = Stubber(declined_ce)
    stub2.add_response(
        "list_cost_allocation_tags",
        {"CostAllocationTags": [{"TagKey": "Project", "Type": "UserDefined", "Status": "Active"}]},
    )
    b2 = boto3.client("budgets", region_name="us-east-1")
    b2_stub = Stubber(b2)
    b2_stub.add_client_error("describe_budget", service_error_code="NotFoundException")
    app2 = App(
        env=env,
        terminal=Terminal(console=Console(width=200), err_console=Console(stderr=True, width=200)),
        clock=lambda: NOW,
        _clients=StubFactory(ce=declined_ce, budgets=b2, sns=None, account="222222222222"),
    )
    with stub2, b2_stub:  # --plan: nothing is activated or created; the command is shown
        planned = CliRunner().invoke(
            cli,
            ["budget", "setup", "--amount", "50", "--email", "ops@example.com", "--plan"],
            obj=app2,
        )
    assert planned.exit_code == 0, planned.output
    text = " ".join(planned.stderr.split())
    assert "Environment is not an active cost-allocation tag: the tag-scoped budget" in text
    assert "aws ce update-cost-allocation-tags-status" in text and "TagKey=Environment" in text
    assert "would create budget opskit-prod-monthly" in planned.stdout


def test_from_logs_reads_the_api_gateway_access_log_group_on_moto(moto, tmp_path):
    """CloudWatch on the moto server: the function's group and API Gateway's own group
    (/aws/apigateway/<stack>-api); requests API Gateway rejected before Lambda are billed."""
    from tests.opskit.cost.test_logs import apigw_line

    clients = ClientFactory("us-east-1", endpoint_url=moto)
    logs = clients.client("logs")
    env = Environment(name="dev", stack_name="opskit-dev", region="us-east-1", root=tmp_path)
    now = datetime.now(UTC).replace(microsecond=0)
    base = int((now - timedelta(minutes=20)).timestamp() * 1000)
    function_events = []
    for i in range(40):
        function_events += invocation(f"r{i}", "/api/users", base + i * 1000, 40, sampled=i < 4)
    access = [(base + i * 1000, apigw_line(f"a{i}", 200)) for i in range(40)]
    access += [(base + 40_000 + i, apigw_line(f"t{i}", 429, "-")) for i in range(10)]
    for group, events in (
        (env.function_log_group, [(e["timestamp"], e["message"]) for e in function_events]),
        (env.access_log_group, access),
    ):
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        logs.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[{"timestamp": t, "message": m} for t, m in sorted(events)],
        )
    app = App(env=env, terminal=Terminal(), clock=lambda: now, _clients=clients)
    result = CliRunner().invoke(
        cli, ["cost", "estimate", "--from-logs", "--since", "1h", "--format", "json"], obj=app
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    seen = data["from_logs"]["api_gateway_access_logs"]
    assert seen["lines"] == 50 and seen["answered_without_lambda"] == 10
    factor = data["from_logs"]["projection"]["month_factor"]
    assert data["usage"]["apigw_rejected"] == pytest.approx(10 * factor, rel=1e-3)
    apigw = next(i for i in data["line_items"] if i["rate_key"] == "apigw_http_requests")
    assert apigw["quantity"] == pytest.approx(50 * factor / 1e6, rel=1e-3)  # 40 + 10 rejected
    assert data["from_logs"]["xray"] == {"report_lines_with_xray": 40, "sampled": 4}


def test_since_is_a_date_or_a_duration_on_cost_and_cost_estimate(local_env, moto):
    """One --since convention (issue 16): `cost` and `cost estimate` both take YYYY-MM-DD or 7d."""
    _put_local_traffic(moto, "/aws/lambda/opskit-local-gateway", 20)  # the last hour
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    seen = {}
    for since in (yesterday, "2d"):
        result = CliRunner().invoke(
            cli,
            ["--env", "local", "cost", "estimate", "--from-logs", "--since", since, "-o", "json"],
        )
        assert result.exit_code == 0, result.output
        seen[since] = json.loads(result.stdout)["from_logs"]["requests_seen"]
        report = CliRunner().invoke(cli, ["--env", "local", "cost", "--since", since, "-o", "json"])
        assert report.exit_code == 0, report.output
    assert seen == {yesterday: 20, "2d": 20}
    bad = CliRunner().invoke(
        cli, ["--env", "local", "cost", "estimate", "--from-logs", "--since", "soon"]
    )
    assert (
        bad.exit_code != 0 and "--since" in bad.output and len(bad.output.strip().splitlines()) == 1
    )


def test_since_duration_is_whole_days_back_from_today():
    from datetime import date

    from opskit.cost.periods import Period, since_start, since_until

    today = date(2026, 11, 24)
    assert since_until("7d", None, today) == Period(date(2026, 11, 17), date(2026, 11, 25))
    assert since_until("2026-11-01", "2026-11-10", today) == Period(
        date(2026, 11, 1), date(2026, 11, 10)
    )
    now = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert since_start("12h", now) == datetime(2026, 11, 23, 21, 30, tzinfo=UTC)
    assert since_start("2026-11-20", now) == datetime(2026, 11, 20, tzinfo=UTC)


@given(st.one_of(st.text(max_size=20), st.from_regex(r"\A[0-9]{1,15}(\.[0-9]{1,3})?[smhdw]\Z")))
@settings(max_examples=300, deadline=None)
def test_any_since_value_is_a_period_or_one_usage_error(since):
    """Every --since input ends in a documented outcome: a period, or a UsageError (exit 2);
    never an OverflowError from a huge duration (found: 99999999999d crashed with exit 1)."""
    from datetime import date

    from opskit.cost.periods import since_until
    from opskit.errors import UsageError

    try:
        period = since_until(since, None, date(2026, 11, 24))
    except UsageError:
        return
    assert period.start <= date(2026, 11, 24)


def test_stack_parameters_the_model_reads_are_checked_where_they_are_written(local_env):
    """Found in review: MemorySize = "abc" fell back to 512 without a word, and "99999"
    was blamed on --memory. Retention takes CloudWatch Logs' own list."""
    from opskit.errors import EXIT_CONFIG

    assert run(["--env", "local", "cost", "estimate", "--log-retention-days", "2"]).exit_code == (
        EXIT_USAGE
    )
    assert run(["--env", "local", "cost", "estimate", "--log-retention-days", "14"]).exit_code == 0
    config = local_env / "opskit.toml"
    original = config.read_text()
    for value, why in (("abc", "must be a number"), ("99999", "is outside what the template")):
        config.write_text(
            original.replace(
                "[env.local.parameters]", f'[env.local.parameters]\nMemorySize = "{value}"'
            )
        )
        result = run(["--env", "local", "cost", "estimate"])
        assert result.exit_code == EXIT_CONFIG, result.output
        assert f"[env.local.parameters] MemorySize = '{value}': {why}" in result.stderr
