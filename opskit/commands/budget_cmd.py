"""`opskit budget setup|status`: the project's monthly cost budget."""

from __future__ import annotations

import json

import click

from opskit.app import App
from opskit.commands.options import format_option


@click.group()
def budget() -> None:
    """The monthly cost budget for this environment (scoped to its Project/Environment tags)."""


@budget.command("setup")
@click.option("--amount", required=True, help="Monthly limit in USD, e.g. 50.")
@click.option(
    "--email",
    "emails",
    multiple=True,
    metavar="ADDR",
    help="Email subscriber (repeat; at most 10).",
)
@click.option(
    "--sns-topic",
    default=None,
    metavar="ARN",
    help="SNS topic to notify (its policy must allow budgets.amazonaws.com).",
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="[actual|forecasted:]PCT",
    help="Replace the default notifications (actual:80, actual:100, forecasted:100).",
)
@click.option("--name", default=None, help="Budget name (default PROJECT-ENV-monthly).")
@click.option("--yes", "assume_yes", is_flag=True, help="Fix the SNS topic policy without asking.")
@click.pass_obj
def setup(
    app: App,
    amount: str,
    emails: tuple[str, ...],
    sns_topic: str | None,
    thresholds: tuple[str, ...],
    name: str | None,
    assume_yes: bool,
) -> None:
    """Create or update the budget: idempotent, never duplicated.

    \b
    opskit budget setup --amount 50 --email ops@example.com
    opskit budget setup --amount 50 --sns-topic arn:aws:sns:us-east-1:123456789012:alerts --threshold actual:50 --threshold forecasted:100
    """
    from opskit.budget import account_id_of, make_spec, parse_amount, parse_threshold, setup_budget

    spec = make_spec(
        app.env,
        parse_amount(amount),
        emails,
        sns_topic,
        tuple(parse_threshold(t) for t in thresholds),
        name,
    )
    account_id = account_id_of(app.clients.client("sts"))
    result = setup_budget(
        app.clients.client("budgets"),
        app.clients.client("sns"),
        account_id,
        spec,
        lambda question: app.terminal.confirm(question, assume_yes),
    )
    for action in result.actions:
        app.terminal.print(action)
    for warning in result.warnings:
        app.terminal.warn(warning)
    app.terminal.print(
        f"Budget {spec.name}: {'changed' if result.changed else 'already up to date'}."
    )


@budget.command("status")
@click.option("--name", default=None, help="Budget name (default PROJECT-ENV-monthly).")
@format_option()
@click.pass_obj
def status(app: App, name: str | None, fmt: str | None) -> None:
    """Limit, actual and forecast spend, and each notification's state."""
    from opskit.budget import account_id_of, budget_status

    name = name or f"{app.env.project}-{app.env.name}-monthly"
    data = budget_status(
        app.clients.client("budgets"), account_id_of(app.clients.client("sts")), name
    )
    output = fmt or app.terminal.output
    if output == "json":
        app.terminal.write(json.dumps(data, indent=2) + "\n")
        return
    if output == "csv":
        app.terminal.render_rows(data["notifications"], output="csv")
        return
    forecast = (
        "n/a"
        if data["forecast_usd"] is None
        else f"${data['forecast_usd']:.2f} ({data['forecast_pct']}%)"
    )
    app.terminal.print(
        f"Budget {data['name']}: limit ${data['limit_usd']:.2f}, actual ${data['actual_usd']:.2f} ({data['actual_pct']}%), forecast {forecast}"
    )
    if app.env.local:
        app.terminal.info(
            "note: the local account has no billing data: spend is whatever the emulator reports (0)"
        )
    app.terminal.render_rows(
        data["notifications"],
        ["notification", "threshold_usd", "state", "state_source"],
        title="Notifications",
        output="table",
    )
