"""`opskit deploy`, `opskit status`, `opskit destroy` (thin: parse -> service -> render)."""

from __future__ import annotations

from typing import Any

import click

from opskit import values
from opskit.app import App
from opskit.commands.params import TOPIC_ARN, CheckedValue, FilePath
from opskit.deploy.ui import TerminalUI
from opskit.errors import UsageError

PARAMETER = CheckedValue("KEY=VALUE", values.parameter_pair, "-p MemorySize=1024")
TAG = CheckedValue("KEY=VALUE", values.tag_pair, "--tags team=payments")
ROLE_ARN = CheckedValue(
    "ARN", values.role_arn, "--role-arn arn:aws:iam::123456789012:role/opskit-cloudformation"
)


def make_package(app: App, architecture: str) -> Any:
    """Build the Lambda zip, reusing .opskit/build when no input changed (tests replace this)."""
    return app.package(architecture)


def _local_state(app: App) -> Any:
    return app.local_state() if app.env.local else None


@click.command()
@click.option("--plan", is_flag=True, help="Show the change set and stop (nothing is executed).")
@click.option("--yes", "-y", is_flag=True, help="Execute without asking.")
@click.option(
    "--parameter",
    "-p",
    "parameters",
    type=PARAMETER,
    multiple=True,
    help="Override a template parameter (repeatable).",
)
@click.option(
    "--template",
    type=FilePath(dir_okay=False),
    default=None,
    metavar="PATH",
    help="Template file (default cloudformation/gateway.yaml).",
)
@click.option(
    "--save",
    is_flag=True,
    help="Write the --parameter values into opskit.toml ([env.NAME.parameters]) once deployed.",
)
@click.option(
    "--no-smoke-test", is_flag=True, help="Skip GET <ApiUrl>/health/ready after deploying."
)
@click.option("--no-lint", is_flag=True, help="Skip the cfn-lint check of the template.")
@click.option(
    "--role-arn",
    type=ROLE_ARN,
    default=None,
    help="IAM role CloudFormation assumes to apply the change set (default: your credentials).",
)
@click.option(
    "--tags",
    "tag_pairs",
    type=TAG,
    multiple=True,
    help="Extra stack tags (repeatable; CloudFormation copies them to resources).",
)
@click.option(
    "--notification-arns",
    "notification_arns",
    type=TOPIC_ARN,
    multiple=True,
    help="SNS topic that receives the stack's events (repeatable, at most 5).",
)
@click.option(
    "--rollback-alarms",
    is_flag=True,
    help="Roll back automatically if the baseline's critical alarms fire during the deploy.",
)
@click.option(
    "--monitoring-minutes",
    type=click.IntRange(0, 180),
    default=10,
    show_default=True,
    help="With --rollback-alarms: how long after the deploy the alarms are watched.",
)
@click.pass_obj
def deploy(
    app: App,
    plan: bool,
    yes: bool,
    parameters: tuple[tuple[str, str], ...],
    template: str | None,
    save: bool,
    no_smoke_test: bool,
    no_lint: bool,
    role_arn: str | None,
    tag_pairs: tuple[tuple[str, str], ...],
    notification_arns: tuple[str, ...],
    rollback_alarms: bool,
    monitoring_minutes: int,
) -> None:
    """Lint, package, upload and deploy the stack through a change set.

    Checks the template with cfn-lint first (cached by template hash). Shows the
    change set (action, resource, type, replacement), the parameter diff and the
    property-level diff, and asks before executing it unless --yes. With --plan
    it stops after showing it. Parameters not given keep their deployed values.
    No changes: says so and exits 0 without uploading anything. After deploying,
    GET <ApiUrl>/health/ready must answer 200, else exit 10. Ctrl-C deletes the
    change set it created and exits 130.
    """
    from opskit.config import RESERVED_TAGS
    from opskit.deploy import service
    from opskit.deploy.template import template_path

    env = app.env
    overrides = dict(parameters)
    tags = _within_limit(
        "--tags", values.tags, {**env.settings.get("tags", {}), **dict(tag_pairs)}, RESERVED_TAGS
    )
    topics = _within_limit(
        "--notification-arns",
        values.notification_arns,
        notification_arns or env.settings.get("notification_arns", ()),
    )
    state = _local_state(app)
    triggers: list[str] = []
    if rollback_alarms:
        from opskit.deploy.rollback import rollback_alarm_arns

        triggers = rollback_alarm_arns(app.clients.cloudwatch(), env.stack_name)
    request = service.DeployRequest(
        env=env,
        template_file=template_path(env.root, env.settings, template),
        overrides=overrides,
        plan_only=plan,
        assume_yes=yes,
        package=lambda architecture: make_package(app, architecture),
        gateway_url=state.gateway_url if state else None,
        lint=not no_lint,
        role_arn=role_arn or env.settings.get("role_arn"),
        tags=tags,
        notification_arns=topics,
        rollback_triggers=tuple(triggers),
        monitoring_minutes=monitoring_minutes if triggers else 0,
        termination_protection=env.settings.get("termination_protection"),
    )
    terminal = app.terminal
    with TerminalUI(terminal) as ui:
        result = service.deploy(request, app.clients, ui, clock=app.clock, sleep=app.sleep)
    for note in result.local_notes:
        terminal.info(f"local emulator: {note}")
    if save and overrides and result.outcome != "planned":
        _save(app, overrides)
    summary: dict[str, Any] = {
        "stack": env.stack_name,
        "outcome": result.outcome,
        "status": result.status,
        "change_set": result.change_set.name,
        "changes": result.change_set.rows(),
    }
    if result.outcome == "no-changes":
        _ensure_local_gateway(app, state, restart=False)
        _finish(
            app, summary, f"No changes: stack {env.stack_name} is up to date ({result.status})."
        )
        return
    summary["parameter_changes"] = [c.__dict__ for c in result.parameter_changes]
    summary["property_changes"] = [c.__dict__ for c in result.property_changes]
    if result.imported:
        summary["imported"] = result.imported
    if result.outcome == "planned":
        count = len(result.change_set.rows())
        _finish(app, summary, f"Plan only: change set not executed ({count} changes).")
        return
    if result.artifact:
        summary["artifact"] = f"s3://{result.artifact.bucket}/{result.artifact.key}"
    summary["outputs"] = result.outputs
    if state is not None:
        state.extra["transform_notes"] = result.local_notes
        state.save(env)
    if not terminal.machine_readable:
        terminal.out(f"Stack {env.stack_name}: {result.status}.")
        _render_outputs(app, result.outputs)
    api_url = result.outputs.get("ApiUrl")
    if env.local:
        api_url = _ensure_local_gateway(app, state, restart=True)
    if not no_smoke_test and not api_url:
        terminal.info(
            "warning: smoke test skipped: no ApiUrl (for --env local run `opskit local up` first)",
        )
    elif not no_smoke_test and api_url:
        from opskit.deploy.smoke import smoke_test

        smoke = smoke_test(api_url, sleep=app.sleep, attempts=3 if env.local else 10)
        summary["smoke_test"] = {"url": smoke.url, "status": smoke.status}
        if not terminal.machine_readable:
            terminal.out(f"Smoke test: GET {smoke.url} -> {smoke.status}")
    if terminal.machine_readable:
        terminal.document(summary)


def _within_limit(option: str, check: Any, *args: Any) -> Any:
    """Each value was checked by its option type; this is CloudFormation's limit on how many."""
    try:
        return check(*args)
    except values.BadValue as exc:
        raise UsageError(f"too many {option}", exc.why, f"give fewer {option}") from None


def _save(app: App, overrides: dict[str, str]) -> None:
    from opskit.config import CONFIG_NAME, find_config
    from opskit.deploy.saved import save_parameters

    path = find_config() or app.env.root / CONFIG_NAME
    save_parameters(path, app.env.name, overrides)
    app.terminal.info(
        f"Saved {', '.join(sorted(overrides))} to {path} [env.{app.env.name}.parameters]",
    )


def _finish(app: App, summary: dict[str, Any], line: str) -> None:
    if app.terminal.machine_readable:
        app.terminal.document(summary)
    else:
        app.terminal.out(line)


def _ensure_local_gateway(app: App, state: Any, restart: bool) -> str | None:
    """After a local deploy: (re)start uvicorn against the new stack; None if no local account."""
    if state is None:
        return None
    from opskit.local import procs
    from opskit.local.account import MARKERS, start_gateway

    running = procs.alive(state.pids.get("gateway"), MARKERS["gateway"])
    if restart or not running:
        clients = app.clients
        seconds = start_gateway(app.env, state, clients.cloudformation(), clients.lambda_())
        app.terminal.info(
            f"Local gateway {'restarted' if running else 'started'} on {state.gateway_url} ({seconds:.1f} s)",
        )
    return state.gateway_url


STATUS_COLUMNS = ["section", "name", "type", "status", "time", "detail"]


def _status_rows(report: Any) -> list[dict[str, Any]]:
    """`status --output csv`: the whole report as one table, a `section` column per part."""
    rows: list[dict[str, Any]] = [
        {"section": "stack", "name": report.name, "status": report.status,
         "time": report.updated, "detail": report.reason},
    ]  # fmt: skip
    rows += [
        {"section": "output", "name": k, "detail": v} for k, v in sorted(report.outputs.items())
    ]
    rows += [
        {"section": "resource", "name": r.get("logical_id"), "type": r.get("type"),
         "status": r.get("status"), "detail": r.get("physical_id")}
        for r in report.resources
    ]  # fmt: skip
    rows += [
        {"section": "event", "name": e.get("resource"), "type": e.get("type"),
         "status": e.get("status"), "time": e.get("time"), "detail": e.get("reason")}
        for e in report.events
    ]  # fmt: skip
    rows += [
        {"section": "drift", "name": d.get("logical_id"), "type": d.get("type"),
         "status": d.get("drift"), "detail": d.get("properties")}
        for d in report.drift or []
    ]  # fmt: skip
    return rows


def _render_outputs(app: App, outputs: dict[str, str]) -> None:
    rows = [{"output": k, "value": v} for k, v in sorted(outputs.items())]
    app.terminal.render_rows(rows, columns=["output", "value"], title="Outputs")


@click.command()
@click.option("--drift", is_flag=True, help="Also run drift detection (takes a while on AWS).")
@click.option(
    "--events",
    "event_count",
    type=click.IntRange(0, 1000),
    default=10,
    show_default=True,
    help="How many recent events to show.",
)
@click.pass_obj
def status(app: App, drift: bool, event_count: int) -> None:
    """Show the stack's state, outputs, resources and last events (and drift with --drift)."""
    from opskit.deploy.status import detect_drift, stack_report
    from opskit.errors import LocalAccountError

    cfn = app.clients.cloudformation()
    report = stack_report(cfn, app.env.stack_name, events=event_count)
    if drift:
        if app.env.local:
            raise LocalAccountError(
                "drift detection is not available on the local account",
                "the emulator (moto) does not implement DetectStackDrift",
                "run `opskit --env NAME status --drift` with a real environment (dev, staging, prod)",
            )
        report.drift_status, report.drift = detect_drift(cfn, app.env.stack_name, sleep=app.sleep)
    terminal = app.terminal
    if terminal.machine_readable:
        terminal.document(report.__dict__, rows=_status_rows(report), columns=STATUS_COLUMNS)
        return
    reason = f" ({report.reason})" if report.reason else ""
    terminal.out(f"Stack {report.name}: {report.status}{reason}, last changed {report.updated}")
    _render_outputs(app, report.outputs)
    terminal.render_rows(
        report.resources, columns=["logical_id", "type", "status", "physical_id"], title="Resources"
    )
    terminal.render_rows(
        report.events, columns=["time", "resource", "status", "reason"], title="Last events"
    )
    if report.drift is not None:
        terminal.out(f"Drift: {report.drift_status} ({len(report.drift)} resources drifted)")
        if report.drift:
            terminal.render_rows(
                report.drift,
                columns=["logical_id", "type", "drift", "properties"],
                title="Drifted resources",
            )


@click.command()
@click.option("--yes", "-y", is_flag=True, help="Delete without asking.")
@click.option(
    "--all",
    "remove_all",
    is_flag=True,
    help="Also delete the alarms, metric filters, SNS topic, dashboard and budget opskit made.",
)
@click.pass_obj
def destroy(app: App, yes: bool, remove_all: bool) -> None:
    """Delete the stack; tables and logs are kept and re-adopted by the next deploy.

    Lists everything opskit created for the environment first: what is deleted,
    what is kept (tables and log groups, retained; the shared artifact bucket) and
    the extras other commands made (alarms, metric filters, SNS topic, dashboard,
    budget), which --all deletes too. Data tables are never deleted by opskit.
    """
    from opskit.deploy.destroy import destroy as run_destroy

    terminal = app.terminal
    with TerminalUI(terminal) as ui:
        result = run_destroy(
            app.env,
            app.clients,
            ui,
            assume_yes=yes,
            clock=app.clock,
            sleep=app.sleep,
            remove_all=remove_all,
        )
    if app.env.local:
        _stop_local_gateway(app)
    if terminal.machine_readable:
        terminal.document(
            {
                "stack": result.stack_name,
                "deleted": True,
                "retained": result.retained,
                "removed": [{"kind": e.kind, "name": e.name} for e in result.removed],
                "left_in_place": [{"kind": e.kind, "name": e.name} for e in result.extras],
            },
            rows=result.retained,
            columns=["logical_id", "type", "physical_id"],
        )
        return
    terminal.out(f"Deleted stack {result.stack_name}.")
    for kept in result.retained:
        terminal.out(
            f"Retained (DeletionPolicy, data kept): {kept['physical_id']} ({kept['type']})",
        )
    for extra in result.removed:
        terminal.out(f"Deleted {extra.kind}: {extra.name}")
    if result.extras:
        terminal.out(
            f"Left in place: {len(result.extras)} opskit-managed extras "
            f"({', '.join(sorted({e.kind for e in result.extras}))}); "
            "`opskit destroy --all` deletes them",
        )
    if result.retained:
        terminal.out(
            "The next `opskit deploy` re-adopts the retained resources; opskit never deletes tables.",
        )


def _stop_local_gateway(app: App) -> None:
    """After a local destroy the gateway has no stack behind it: stop it (the emulator stays)."""
    from opskit.local.account import stop_gateway

    state = app.local_state()
    if state is not None and state.pids.get("gateway"):
        stop_gateway(app.env, state)
        app.terminal.info("Local gateway stopped (its stack is gone).")
