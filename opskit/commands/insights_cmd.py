"""`opskit insights`: the query library, run in CloudWatch Logs Insights or in the local engine."""

from __future__ import annotations

import contextlib
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from opskit.commands.options import DURATION
from opskit.commands.params import INSTANT, TEXT, FilePath
from opskit.errors import OpsError

SUPPORTED_HELP = """\b
Local engine (--file, --env local) runs: fields, display, filter, stats ... by,
sort, limit, parse (glob and regex), dedup, unnest; like, =~, in, and/or/not;
every function `opskit insights functions` lists."""


def _library():
    from opskit.insights.library import load_library

    return load_library()


class InsightsGroup(click.Group):
    """Built-in subcommands plus one shortcut per library query (`opskit insights slow-requests`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = list(super().list_commands(ctx))
        with contextlib.suppress(OpsError):
            names += sorted(n for n in _library() if n not in names)
        return names

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        try:
            library = _library()
        except OpsError:
            return None
        if cmd_name not in library:
            return None
        return _shortcut(library[cmd_name])


@click.group(cls=InsightsGroup, epilog=SUPPORTED_HELP)
def insights() -> None:
    """Run the Logs Insights query library (CloudWatch, or locally with --file / --env local)."""


@insights.command("list")
@click.pass_obj
def list_cmd(app: Any) -> None:
    """List the library's queries: name, description, log group, parameters."""
    rows = [
        {
            "name": q.name,
            "description": q.description,
            "log_group": q.log_group,
            "parameters": ", ".join(f"{p.name}={p.default}" for p in q.params),
        }
        for q in _library().values()
    ]
    app.terminal.render_rows(rows, ["name", "description", "log_group", "parameters"])


@insights.command("functions")
@click.pass_obj
def functions_cmd(app: Any) -> None:
    """List the functions the local engine runs (the registry), and how they differ from CloudWatch."""
    from opskit.insights.functions import REGISTRY

    rows = [
        {
            "function": f.signature,
            "category": f.category,
            "description": f.description,
            "differs_from_cloudwatch": f.differs,
        }
        for f in REGISTRY.values()
    ]
    app.terminal.render_rows(
        rows, ["function", "category", "description", "differs_from_cloudwatch"]
    )


@insights.command("show")
@click.argument("name", type=TEXT)
@click.pass_obj
def show_cmd(app: Any, name: str) -> None:
    """Print one query: its metadata and text."""
    from opskit.insights.library import get_query

    query = get_query(name)
    if app.terminal.machine_readable:
        app.terminal.document(
            {
                "name": query.name,
                "description": query.description,
                "log_group": query.log_group,
                "params": [
                    {"name": p.name, "type": p.type, "default": p.default, "help": p.help}
                    for p in query.params
                ],
                "source": query.source,
                "query": query.body,
            }
        )
        return
    lines = [
        f"# name: {query.name}",
        f"# description: {query.description}",
        f"# log-group: {query.log_group}",
    ]
    lines += [f"# param: {p.declaration}" for p in query.params]
    if query.source:
        lines.append(f"# source: {query.source}")
    app.terminal.write("\n".join(lines) + "\n" + query.body)


def _run_options(fn):
    options = [
        click.option(
            "--since",
            type=DURATION,
            default=None,
            help="Time range ending now, e.g. 15m, 1h, 2d (default 1h).",
        ),
        click.option(
            "--start", type=INSTANT, default=None, help="Range start, ISO 8601 (UTC if no offset)."
        ),
        click.option(
            "--end", type=INSTANT, default=None, help="Range end, ISO 8601 (default now)."
        ),
        click.option(
            "--limit",
            type=click.IntRange(1, 10_000),
            default=None,
            help="At most N rows (CloudWatch caps at 10,000).",
        ),
        click.option(
            "--file",
            "file",
            type=FilePath(dir_okay=False, path_type=Path),
            default=None,
            help="Run locally over exported events (JSON lines, or a JSON doc with an `events` array).",
        ),
        click.option(
            "--log-group",
            "log_groups",
            type=TEXT,
            multiple=True,
            help="Override: gateway|access|lambda or a log group name (repeatable).",
        ),
        click.option(
            "--engine",
            type=click.Choice(["auto", "duckdb", "python"]),
            default=None,
            help="Local engine (default: $OPSKIT_INSIGHTS_ENGINE, else auto; this option wins).",
        ),
        click.option(
            "--no-cache",
            "no_cache",
            is_flag=True,
            default=False,
            help="Do not use or build the columnar cache of --file under .opskit/cache/.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@insights.command("run")
@click.argument("name", required=False, type=TEXT)
@click.option(
    "--query",
    "query_text",
    type=TEXT,
    default=None,
    help="Run this query text instead of a library query.",
)
@click.option(
    "--param",
    "params",
    type=TEXT,
    multiple=True,
    metavar="K=V",
    help="Set a library query parameter (repeatable).",
)
@_run_options
@click.pass_obj
def run_cmd(
    app: Any, name: str | None, query_text: str | None, params: tuple[str, ...], **options: Any
) -> None:
    """Run a library query (NAME) or --query TEXT, in CloudWatch or locally."""
    if bool(name) == bool(query_text):
        raise click.UsageError("give a query NAME or --query TEXT (one of them)")
    if query_text:
        if params:
            raise click.UsageError(
                "--param only applies to library queries (--query text has no parameters: "
                "write the values into the query)"
            )
        _execute(app, query_text, "gateway", label="query", **options)
        return
    from opskit.insights.library import get_query

    query = get_query(name)  # type: ignore[arg-type]
    values = _param_values(query, params)
    _execute(app, query.render(values), query.log_group, label=query.name, **options)


def _shortcut(query: Any) -> click.Command:
    def callback(**kwargs: Any) -> None:
        app = click.get_current_context().obj
        values = {
            p.name: str(kwargs.pop(p.name)) for p in query.params if kwargs.get(p.name) is not None
        }
        for p in query.params:
            kwargs.pop(p.name, None)
        kwargs.setdefault("limit", None)
        _execute(app, query.render(values), query.log_group, label=query.name, **kwargs)

    command = click.Command(
        query.name, callback=callback, help=f"{query.description} (library query `{query.name}`)."
    )
    command.params = []
    for param in query.params:
        option_name = "--" + param.name.replace("_", "-")
        command.params.append(
            click.Option(
                [option_name, param.name],
                type=LibraryParam(param),
                default=None,
                show_default=param.default,
                help=f"{param.help or param.name}: {param.describe()}",
            )
        )
    probe = _run_options(lambda **kw: None)
    taken = {p.name for p in query.params}
    # A library parameter named like a run option (e.g. `limit`) wins: `--limit` sets it.
    command.params += [o for o in reversed(probe.__click_params__) if o.name not in taken]
    return command


class LibraryParam(click.ParamType):
    """A library query parameter's value, checked by its declared type (exit 2 if it does not fit)."""

    def __init__(self, param: Any) -> None:
        self.param = param
        self.name = param.type

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from opskit.insights.library import ParamValueError

        try:
            return str(self.param.check(value))
        except ParamValueError as exc:
            self.fail(str(exc), param, ctx)


def _param_values(query: Any, items: tuple[str, ...]) -> dict[str, str]:
    """`--param K=V` (repeatable): each K a parameter of the query, each V fits its type."""
    from opskit.insights.library import ParamValueError

    values = {}
    for item in items:
        key, sep, value = item.partition("=")
        param = query.param(key.strip()) if sep else None
        if param is None:
            known = ", ".join(p.name for p in query.params) or "none"
            why = "expected K=V" if not sep else f"query '{query.name}' has no parameter {key!r}"
            raise click.BadParameter(
                f"{item!r}: {why} (its parameters: {known})", param_hint="--param"
            )
        try:
            values[param.name] = param.check(value)
        except ParamValueError as exc:
            raise click.BadParameter(f"{param.name}: {exc}", param_hint="--param") from None
    return values


def _execute(
    app: Any,
    query: str,
    log_group_kind: str,
    *,
    label: str,
    since: timedelta | None,
    start: datetime | None,
    end: datetime | None,
    limit: int | None,
    file: Path | None,
    log_groups: tuple[str, ...],
    engine: str | None,
    no_cache: bool = False,
) -> None:
    from opskit.insights.parser import parse_query
    from opskit.insights.sources import time_range

    output = app.terminal.output
    if file is not None:
        from opskit.insights.engine import run_file

        parsed = parse_query(query)
        window = time_range(app.clock(), since, start, end) if (since or start or end) else None
        result = run_file(
            parsed,
            file,
            limit=limit,
            start_ms=window.start_ms if window else None,
            end_ms=window.end_ms if window else None,
            engine=engine,
            cache=not no_cache,
        )
        app.terminal.render_rows(result.rows, result.columns, output=output)
        app.terminal.info(f"{len(result.rows)} row(s) from {file} (local engine: {result.engine})")
        return
    window = time_range(app.clock(), since, start, end)
    groups = _log_groups(app, log_groups or (log_group_kind,))
    if app.env.local:
        _run_local_account(app, query, groups, window, limit, output, engine)
        return
    _run_cloudwatch(app, query, groups, window, limit, output, label)


def _log_groups(app: Any, kinds: tuple[str, ...]) -> list[str]:
    from opskit.insights.sources import resolve_log_group

    cfn = app.clients.cloudformation()
    return [resolve_log_group(app.env, cfn, kind, warn=app.terminal.warn) for kind in kinds]


def _run_local_account(
    app: Any,
    query: str,
    groups: list[str],
    window: Any,
    limit: int | None,
    output: str,
    engine: str | None,
) -> None:
    """--env local: read the local log group(s) from the emulator and run the local engine."""
    from opskit.insights.engine import run_file
    from opskit.insights.parser import parse_query
    from opskit.logs.cloudwatch import filter_events
    from opskit.logs.events import write_events

    parsed = parse_query(query)
    logs = app.clients.logs()
    with tempfile.TemporaryDirectory(prefix="opskit-insights-") as tmp:
        path = Path(tmp) / "events.jsonl"

        def events():
            for group in groups:
                for event in filter_events(logs, group, window.start_ms, window.end_ms):
                    yield {**event, "logGroupName": group}

        count = write_events(events(), path)
        result = run_file(
            parsed, path, limit=limit, engine=engine, account_id=_account_id(app), cache=False
        )
    app.terminal.render_rows(result.rows, result.columns, output=output)
    app.terminal.info(
        f"{len(result.rows)} row(s) from {count} event(s) in {', '.join(groups)} (local engine: {result.engine})"
    )


def _account_id(app: Any) -> str | None:
    """The (local) account's id, for @log as `account-id:log-group`; None if unknown."""
    try:
        return app.clients.sts().get_caller_identity()["Account"]
    except Exception:  # an unknown account only changes how @log reads
        return None


def _run_cloudwatch(
    app: Any, query: str, groups: list[str], window: Any, limit: int | None, output: str, label: str
) -> None:
    from opskit.insights.cloudwatch import run_query

    logs = app.clients.logs()
    with app.terminal.status(f"Logs Insights: starting {label}...") as status:

        def on_status(state: str, polls: int, stats: dict[str, float]) -> None:
            text = f"Logs Insights: {label} {state} (poll {polls}, {int(stats.get('recordsScanned', 0)):,} records scanned)"
            if status is not None:
                status.update(text)

        result = run_query(
            logs,
            groups,
            query,
            window.start,
            window.end,
            limit=limit,
            sleep=app.sleep,
            on_status=on_status,
        )
    app.terminal.render_rows(result.rows, result.columns, output=output)
    app.terminal.info(
        f"{len(result.rows)} row(s) · {int(result.records_matched):,} matched · {int(result.records_scanned):,} records scanned · "
        f"{result.bytes_scanned / 1e6:,.1f} MB scanned · ${result.cost_usd:.6f} at $0.005/GB · query {result.query_id}"
    )
    if result.truncated:
        app.terminal.warn(
            "CloudWatch returned its maximum of 10,000 rows; narrow the time range or add stats to see everything"
        )
