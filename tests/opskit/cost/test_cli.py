"""The `opskit cost` and `opskit budget` commands end to end (CliRunner, moto server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import requests
from click.testing import CliRunner
from rich.console import Console

from opskit.app import App
from opskit.aws import ClientFactory
from opskit.cli import cli
from opskit.config import Environment
from opskit.errors import EXIT_CONFIG, EXIT_NOT_FOUND, EXIT_USAGE
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
    assert data["total_usd"] == round(sum(i["cost_usd"] for i in data["line_items"]), 6)
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
    assert "bad --requests 'lots'" in result.output
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
    assert "Cost Explorer requests: 2 ($0.02)" in result.stderr
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
    assert data["cost_explorer"] == {"requests": 0, "cost_usd": 0.0, "cached": 2}
    assert data["rows"][0] == {
        "group": "AWS Lambda",
        "cost_usd": 496.0,
        "previous_usd": 0.0,
        "delta_usd": 496.0,
        "delta_pct": None,
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
    assert too_many.exit_code == EXIT_CONFIG and "at most 10" in too_many.output


class StubFactory:
    """Hands out pre-stubbed clients (botocore Stubber) where moto lacks the API."""

    endpoint_url = None

    def __init__(self, **clients):
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
    assert "2026-11 (Project=opskit, Environment=prod)" in text and "[ESTIMATED" in text
    assert "Forecast to month end: $10.00" in text
    assert "Cost Explorer requests: 4 ($0.04)" in result.stderr


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
