"""`opskit budget setup|status`: the project's monthly cost budget."""

from __future__ import annotations

from typing import Any

import click

from opskit.app import App
from opskit.commands.cost_cmd import account_of
from opskit.commands.params import EMAIL, TEXT, TOPIC_ARN


@click.group()
def budget() -> None:
    """The monthly cost budget for this environment (scoped to its Project/Environment tags)."""


@budget.command("setup")
@click.option("--amount", type=TEXT, required=True, help="Monthly limit in USD, e.g. 50.")
@click.option(
    "--email",
    "emails",
    type=EMAIL,
    multiple=True,
    metavar="ADDR",
    help="Email subscriber (repeat; at most 10).",
)
@click.option(
    "--sns-topic",
    type=TOPIC_ARN,
    default=None,
    metavar="ARN",
    help="SNS topic to notify (its policy must allow budgets.amazonaws.com).",
)
@click.option(
    "--threshold",
    "thresholds",
    type=TEXT,
    multiple=True,
    metavar="[actual|forecasted:]PCT",
    help="Replace the default notifications (actual:80, actual:100, forecasted:100).",
)
@click.option("--name", type=TEXT, default=None, help="Budget name (default PROJECT-ENV-monthly).")
@click.option(
    "--plan",
    "plan_only",
    is_flag=True,
    help="Show what would change (create, update in place, notifications, subscribers); change nothing.",
)
@click.pass_obj
def setup(
    app: App,
    amount: str,
    emails: tuple[str, ...],
    sns_topic: str | None,
    thresholds: tuple[str, ...],
    name: str | None,
    plan_only: bool,
) -> None:
    """Create or update the budget: idempotent, never duplicated, updated in place.

    The Project and Environment tags must be active cost-allocation tags, or a tag-scoped
    budget tracks $0 and never alerts: checked first, activation offered. An SNS topic whose
    policy does not let Budgets publish is offered a fix. The global --yes answers yes to both.

    \b
    opskit budget setup --amount 50 --email ops@example.com --plan
    opskit budget setup --amount 50 --email ops@example.com
    opskit budget setup --amount 50 --sns-topic arn:aws:sns:us-east-1:123456789012:alerts --threshold actual:50 --threshold forecasted:100
    """
    from opskit.budget import (
        Capabilities,
        make_spec,
        parse_amount,
        parse_threshold,
        setup_budget,
    )

    spec = make_spec(
        app.env,
        parse_amount(amount),
        emails,
        sns_topic,
        tuple(parse_threshold(t) for t in thresholds),
        name,
    )  # every input checked before any call
    account_id = account_of(app)
    confirm = app.confirm
    warnings = [] if app.env.local else _check_tags(app, spec.tags, confirm, plan_only)
    result = setup_budget(
        app.clients.budgets(),
        app.clients.sns(),
        account_id,
        spec,
        confirm,
        Capabilities.of(local=app.env.local),
        dry_run=plan_only,
    )
    terminal = app.terminal
    for warning in warnings + result.warnings:
        terminal.warn(warning)  # stderr, whatever --output
    if app.env.local and result.changed and not plan_only:
        terminal.info(
            "note: the local emulator has no UpdateBudget, so a changed budget is recreated "
            "there; on AWS it is updated in place"
        )
    if terminal.machine_readable:
        terminal.document(
            {
                "name": spec.name,
                "planned": plan_only,
                "changed": result.changed,
                "actions": list(result.actions),
                "warnings": warnings + list(result.warnings),
            },
            rows=[{"action": action} for action in result.actions],
            columns=["action"],
        )
        return
    for action in result.actions:
        terminal.out(action)
    if plan_only:
        terminal.out(
            f"Plan for budget {spec.name}: {'changes' if result.changed else 'nothing to change'} "
            "(nothing applied: rerun without --plan)."
        )
        return
    terminal.out(f"Budget {spec.name}: {'changed' if result.changed else 'already up to date'}.")


def _check_tags(app: App, tags: dict[str, str], confirm: Any, plan_only: bool) -> list[str]:
    """Are the scope tags active cost-allocation tags? Offer to activate them."""
    from opskit.budget import activate_tags, activation_command, inactive_tags
    from opskit.commands.cost_cmd import _explorer

    explorer, _ = _explorer(app)
    keys = sorted(tags)
    try:
        inactive = inactive_tags(explorer.cost_allocation_tags(keys), keys)
    finally:
        app.terminal.info(explorer.counter.summary())
    if not inactive:
        return []
    names = ", ".join(inactive)
    what = (
        "is not an active cost-allocation tag"
        if len(inactive) == 1
        else "are not active cost-allocation tags"
    )
    why = f"{names} {what}: the tag-scoped budget would track $0 and never alert"
    if not plan_only and confirm(f"{why}. Activate {names} now?"):
        activate_tags(app.clients.ce(), inactive)
        explorer.forget_cost_allocation_tags(keys)  # `opskit cost` must not see the old status
        return [f"activated cost-allocation tags {names}: spend is tagged from now on (allow 24 h)"]
    return [f"{why}. Activate: `{activation_command(inactive)}` (or rerun with --yes)"]


@budget.command("status")
@click.option("--name", type=TEXT, default=None, help="Budget name (default PROJECT-ENV-monthly).")
@click.pass_obj
def status(app: App, name: str | None) -> None:
    """Limit, actual and forecast spend, and each notification's state."""
    from opskit.budget import budget_status

    name = name or f"{app.env.project}-{app.env.name}-monthly"
    data = budget_status(app.clients.budgets(), account_of(app), name)
    if app.terminal.machine_readable:
        app.terminal.document(data, rows=data["notifications"])
        return
    forecast = (
        "n/a"
        if data["forecast_usd"] is None
        else f"${data['forecast_usd']:.2f} ({data['forecast_pct']}%)"
    )
    app.terminal.print(
        f"Budget {data['name']}: limit ${data['limit_usd']:.2f}, actual ${data['actual_usd']:.2f} ({data['actual_pct']}%), forecast {forecast}"
    )
    health = data["health"]
    if health["status"] == "UNHEALTHY":
        app.terminal.warn(
            f"budget is UNHEALTHY ({health['reason']}): it is not tracking spend, so no alert "
            f"can fire; {health['meaning']}"
        )
    else:
        app.terminal.print(f"Health: {health['status']}")
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
