"""`opskit alarms`: apply the declarative alarm set, list alarm states, fire a test notification."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Group
from rich.table import Table
from rich.text import Text

from opskit.app import App
from opskit.commands.params import EMAIL, INTERVAL, TEXT, TOPIC_ARN, Count, FilePath, Number
from opskit.errors import Aborted

ACTION_STYLES = {"create": "green", "update": "yellow", "delete": "red", "unchanged": "dim"}
STATE_STYLES = {"OK": "green", "ALARM": "bold red", "INSUFFICIENT_DATA": "yellow"}


@click.group()
def alarms() -> None:
    """CloudWatch alarms for the gateway, from a version-controlled alarm set.

    The set is opskit/alarms/baseline.toml (or --file); thresholds are overridden
    per environment in opskit.toml under [defaults.alarms] / [env.NAME.alarms].
    """


@alarms.command()
@click.option("--plan", "plan_only", is_flag=True, help="Show what would change; change nothing.")
@click.option(
    "--email",
    type=EMAIL,
    metavar="ADDR",
    help="Create the <stack>-alarms SNS topic and subscribe ADDR.",
)
@click.option(
    "--sns-topic", type=TOPIC_ARN, metavar="ARN", help="Notify this existing SNS topic instead."
)
@click.option(
    "--file",
    "alarm_file",
    type=FilePath(path_type=Path, dir_okay=False),
    help="Alarm set file (default: the bundled baseline.toml).",
)
@click.option(
    "--yes", "-y", is_flag=True, help="Delete alarms this set no longer has without asking."
)
@click.pass_obj
def apply(
    app: App,
    plan_only: bool,
    email: str | None,
    sns_topic: str | None,
    alarm_file: Path | None,
    yes: bool,
) -> None:
    """Create, update and delete alarms so CloudWatch matches the alarm set.

    Only alarms that differ are written; a second run changes nothing. Only alarms
    this tool owns (stack-prefixed name + managed marker) are ever deleted.
    """
    from opskit.alarms.service import apply_plan, desired_alarms, plan_alarms

    term = app.terminal
    with term.status("Reading the stack and the alarm set..."):
        clients = app.clients
        desired = desired_alarms(clients.cloudformation(), clients.lambda_(), app.env, alarm_file)
    for note in desired.notes:
        term.warn(note)
    for alarm in desired.skipped:
        term.warn(
            f"skipped {alarm.name}: no value for ${{{', '.join(alarm.missing)}}} in the stack outputs"
        )
    with term.status("Comparing with CloudWatch..."):
        plan, topic = plan_alarms(app.clients, app.env, desired, email=email, sns_topic=sns_topic)

    counts = plan.counts()
    pending = plan.pending
    if term.output == "table":
        if pending:
            _render_changes(app, pending)
        summary = ", ".join(
            f"{counts[a]} to {a}" for a in ("create", "update", "delete") if counts[a]
        )
        if not pending:
            term.print(
                f"No changes: {counts['unchanged']} resources already match the alarm set ({desired.source})."
            )
        else:
            term.print(f"Plan: {summary}; {counts['unchanged']} unchanged.")
        if topic.arn_for_alarms is None:
            term.warn("alarms have no notification target: pass --email ADDR or --sns-topic ARN")
    else:
        term.render_rows(
            [_change_row(c) for c in plan.changes], columns=["action", "kind", "name", "detail"]
        )
    if not pending or plan_only:
        if plan_only and pending:
            term.info("--plan: nothing was changed.")
        return
    deletes = [c for c in pending if c.action == "delete"]
    if deletes and not term.confirm(
        f"Delete {len(deletes)} alarm(s)/filter(s) no longer in the set?", yes
    ):
        raise Aborted(
            f"not deleting {len(deletes)} alarm(s)/filter(s)",
            "deletion needs confirmation",
            "rerun with --yes (or check with --plan)",
        )
    with term.status("Applying..."):
        topic_arn = apply_plan(app.clients, app.env, plan, topic)
    term.info(
        f"Applied: {counts['create']} created, {counts['update']} updated, {counts['delete']} deleted"
        + (f"; alarms notify {topic_arn}" if topic_arn else "")
        + "."
    )
    if topic.subscribe:
        term.info(f"Confirm the subscription from the email AWS sent to {topic.email}.")


def _change_row(change: Any) -> dict[str, str]:
    return {
        "action": change.action,
        "kind": change.kind,
        "name": change.name,
        "detail": change.detail,
    }


def _render_changes(app: App, changes: list[Any]) -> None:
    table = Table(header_style="bold")
    for column in ("action", "kind", "name", "detail"):
        table.add_column(column, no_wrap=column != "detail", overflow="fold")
    for change in changes:
        style = ACTION_STYLES.get(change.action, "")
        table.add_row(Text(change.action, style=style), change.kind, change.name, change.detail)
    app.terminal.print(table)


@alarms.command("list")
@click.option("--watch", "watch_", is_flag=True, help="Refresh until Ctrl-C.")
@click.option(
    "--interval", type=INTERVAL, default=15.0, show_default=True, help="Seconds between refreshes."
)
@click.pass_obj
def list_(app: App, watch_: bool, interval: float) -> None:
    """Alarm states (OK / ALARM / INSUFFICIENT_DATA), why, and since when.

    On the local account the emulator never evaluates alarms: opskit does, first, from the
    metrics the local shipper published (CloudWatch's rules; the reasons start with [opskit]).
    """
    from opskit.alarms.service import alarm_rows

    cw = app.clients.cloudwatch()
    columns = ["name", "state", "for", "since", "reason"]

    def rows() -> list[dict[str, Any]]:
        if app.env.local:
            from opskit.alarms.local import evaluate_local

            evaluate_local(cw, app.env.state_dir, app.env.stack_name, app.clock())
        return alarm_rows(cw, app.env.stack_name, app.clock())

    if app.terminal.machine_readable:
        if watch_:  # the same rows, one JSON line per refresh
            from opskit.dashboards.live import stream

            stream(app.terminal, rows, interval=interval, sleep=app.sleep)
            return
        app.terminal.render_rows(rows(), columns=[*columns, "managed"])
        return

    def build() -> Group:
        found = rows()
        table = Table(
            title=f"Alarms of {app.env.stack_name} ({app.clock():%H:%M:%S} UTC)",
            header_style="bold",
        )
        for column in columns:
            table.add_column(column, no_wrap=column != "reason", overflow="fold")
        for row in found:
            state = Text(row["state"], style=STATE_STYLES.get(row["state"], ""))
            table.add_row(row["name"], state, row["for"], row["since"], Text(row["reason"]))
        # Below the table, not a caption: a caption wraps to the width of an empty table.
        if not found:
            return Group(table, Text(f"No alarms: run `{app.command('alarms', 'apply')}`."))
        if app.env.local:
            from opskit.alarms.local import EVALUATION_NOTE

            return Group(table, Text(EVALUATION_NOTE, style="dim"))
        return Group(table)

    if watch_:
        from opskit.dashboards.live import watch

        watch(app.terminal, build, interval=interval, sleep=app.sleep)
    else:
        app.terminal.print(build())


@alarms.command("history")
@click.argument("name", required=False, type=TEXT)
@click.option(
    "--limit",
    type=Count(1, 10_000),
    default=50,
    show_default=True,
    help="At most this many transitions.",
)
@click.pass_obj
def history(app: App, name: str | None, limit: int) -> None:
    """State transitions of the stack's alarms (or of alarm NAME), newest first.

    From CloudWatch's alarm history; on the local account from opskit's own evaluation
    (the emulator keeps none), evaluated up to now first.
    """
    from opskit.alarms.service import state_history

    cw = app.clients.cloudwatch()
    stack = app.env.stack_name
    if app.env.local:
        from opskit.alarms.local import evaluate_local, local_history

        evaluate_local(cw, app.env.state_dir, stack, app.clock())
        rows = local_history(app.env.state_dir, stack, name)[:limit]
    else:
        rows = state_history(cw, stack, name, limit)
    columns = ["time", "alarm", "from", "to", "reason"]
    term = app.terminal
    if term.output != "table":
        term.render_rows(rows, columns=[*columns, "replayed"] if app.env.local else columns)
        return
    title = f"Alarm history of {stack}" + (" (opskit's local evaluation)" if app.env.local else "")
    table = Table(title=title, header_style="bold")
    for column in columns:
        table.add_column(column, no_wrap=column != "reason", overflow="fold")
    for row in rows:
        when = row["time"] + (" (replayed)" if row.get("replayed") else "")
        table.add_row(
            when,
            row["alarm"],
            Text(row["from"], style=STATE_STYLES.get(row["from"], "")),
            Text(row["to"], style=STATE_STYLES.get(row["to"], "")),
            Text(row["reason"]),
        )
    if not rows:
        table.caption = "no state changes recorded"
    elif app.env.local:
        table.caption = (
            "(replayed): evaluated for a time before the alarm was created or last changed"
        )
    term.print(table)


@alarms.command("test")
@click.argument("name", type=TEXT)
@click.option(
    "--hold",
    type=Number(0, 3600),
    default=10.0,
    show_default=True,
    help="Seconds to stay in ALARM before going back.",
)
@click.pass_obj
def test_(app: App, name: str, hold: float) -> None:
    """Set alarm NAME to ALARM (its notifications fire), then back.

    NAME is the full alarm name or its key, e.g. `lambda-errors`.
    """
    from opskit.alarms.service import fire_test

    result = fire_test(
        app.clients.cloudwatch(),
        app.env.stack_name,
        name,
        hold=hold,
        sleep=app.sleep,
        clock=app.clock,
        read_history=not app.env.local,  # the local emulator has no alarm history
    )
    term = app.terminal
    if term.machine_readable:
        document = {
            "name": result.name,
            "held_s": hold,
            "previous": result.previous,
            "actions": result.actions,
            "history": result.history,
        }
        term.document(document, rows=[{"action": a} for a in result.actions], columns=["action"])
        return
    targets = (
        ", ".join(result.actions)
        or f"no actions (nothing is notified: see `{app.command('alarms', 'apply')} --email`)"
    )
    term.print(f"{result.name}: set to ALARM, held {hold:g}s, set back to {result.previous}.")
    term.print(f"Alarm actions: {targets}")
    if result.history is None:
        term.print("Action history: not available in the local emulator.")
    elif result.history:
        for line in result.history:
            term.print(f"  {line}")
    else:
        term.print("Action history: no action recorded yet (CloudWatch may take a minute).")
