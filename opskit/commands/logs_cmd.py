"""`opskit logs`: export a log group's events to a file, or tail the gateway's logs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from opskit.commands.options import DURATION
from opskit.commands.params import HTTP_STATUS, INSTANT, TEXT, FilePath, Number
from opskit.errors import UsageError

# The levels the gateway logs at (gateway/log.py; a test keeps them in step).
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@click.group()
def logs() -> None:
    """Export or follow the gateway's CloudWatch logs."""


@logs.command("export")
@click.option(
    "--since",
    type=DURATION,
    default=None,
    help="Time range ending now, e.g. 15m, 1h, 2d (default 1h).",
)
@click.option("--start", type=INSTANT, default=None, help="Range start, ISO 8601.")
@click.option("--end", type=INSTANT, default=None, help="Range end, ISO 8601 (default now).")
@click.option(
    "--out",
    "out",
    required=True,
    type=FilePath(dir_okay=False, path_type=Path),
    help="Where to write the events (JSON lines).",
)
@click.option(
    "--log-group",
    "log_group",
    type=TEXT,
    default="gateway",
    show_default=True,
    help="gateway|access|lambda or a log group name.",
)
@click.pass_obj
def export_cmd(
    app: Any,
    since: timedelta | None,
    start: datetime | None,
    end: datetime | None,
    out: Path,
    log_group: str,
) -> None:
    """Write a log group's events as JSON lines (the `insights run --file` format)."""
    from opskit.insights.sources import resolve_log_group, time_range
    from opskit.logs.cloudwatch import filter_events
    from opskit.logs.events import write_events

    window = time_range(app.clock(), since, start, end)
    group = resolve_log_group(
        app.env, app.clients.cloudformation(), log_group, warn=app.terminal.warn
    )
    logs_client = app.clients.logs()
    with app.terminal.status(f"Exporting {group}..."):
        count = write_events(filter_events(logs_client, group, window.start_ms, window.end_ms), out)
    if app.terminal.machine_readable:
        app.terminal.document(
            {
                "path": str(out),
                "log_group": group,
                "events": count,
                "start": window.start.isoformat(),
                "end": window.end.isoformat(),
            }
        )
        return
    app.terminal.info(f"Wrote {count} event(s) from {group} to {out}")


def tail_record(event: Mapping[str, Any], group: str) -> dict[str, Any]:
    """One JSON line of `logs tail --output json` (keys documented in docs/insights.md)."""
    import json
    from datetime import UTC, datetime

    message = str(event.get("message", "")).rstrip("\n")
    try:
        data = json.loads(message)
    except ValueError:
        data = None
    stamp = datetime.fromtimestamp(int(event.get("timestamp", 0)) / 1000, UTC)
    return {
        "timestamp": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "log_group": group,
        "log_stream": event.get("logStreamName", ""),
        "event_id": event.get("eventId", ""),
        "message": message,
        "data": data if isinstance(data, dict) else None,
    }


@logs.command("tail")
@click.option(
    "--since",
    type=DURATION,
    default="10m",
    show_default=True,
    help="Start this far back, e.g. 5m, 1h.",
)
@click.option(
    "--follow/--no-follow",
    "-f",
    default=True,
    show_default=True,
    help="Keep polling for new events.",
)
@click.option(
    "--level",
    type=click.Choice(LEVELS, case_sensitive=False),
    default=None,
    help="Only this level.",
)
@click.option(
    "--path",
    "path",
    type=TEXT,
    default=None,
    help="Only this request path (exact, a prefix ending in '/', or a glob).",
)
@click.option(
    "--status", type=HTTP_STATUS, default=None, help="Only this status (e.g. 503) or class (5xx)."
)
@click.option(
    "--log-group",
    "log_group",
    type=TEXT,
    default="gateway",
    show_default=True,
    help="gateway|access|lambda or a log group name.",
)
@click.option(
    "--poll",
    "poll_seconds",
    type=Number(0.5, 60),
    default=2.0,
    show_default=True,
    help="Seconds between polls.",
)
@click.option("--raw", is_flag=True, help="Print messages as they are (no pretty-printing).")
@click.pass_obj
def tail_cmd(
    app: Any,
    since: timedelta,
    follow: bool,
    level: str | None,
    path: str | None,
    status: str | None,
    log_group: str,
    poll_seconds: float,
    raw: bool,
) -> None:
    """Follow the gateway's log group, pretty-printed; Ctrl-C stops."""
    from rich.text import Text

    from opskit.durations import format_duration
    from opskit.insights.sources import resolve_log_group
    from opskit.insights.tail import TailFilter, pretty, tail

    if (
        status
        and not (status.isdigit() and len(status) == 3)
        and not (len(status) == 3 and status[0].isdigit() and status[1:].lower() == "xx")
    ):
        raise click.BadParameter("use a status code (503) or a class (5xx)", param_hint="--status")
    if app.terminal.machine_readable and app.terminal.output != "json":
        raise UsageError(
            f"logs tail streams events; --output {app.terminal.output} is one document",
            "",
            "use --output json (one JSON object per line), or `opskit logs export` for a file",
        )
    start_ms = int((app.clock() - since).timestamp() * 1000)
    group = resolve_log_group(
        app.env, app.clients.cloudformation(), log_group, warn=app.terminal.warn
    )
    app.terminal.info(
        f"Tailing {group} (since {format_duration(since)}{', following' if follow else ''}; Ctrl-C to stop)"
    )
    events = tail(
        app.clients.logs(),
        group,
        start_ms,
        follow=follow,
        sleep=app.sleep,
        poll_seconds=poll_seconds,
        tail_filter=TailFilter(level=level, path=path, status=status),
    )
    for event in events:  # Ctrl-C ends it: the CLI says "Interrupted." and exits 130
        if app.terminal.machine_readable:
            app.terminal.record(tail_record(event, group))
            continue
        if raw:
            app.terminal.write(str(event.get("message", "")).rstrip("\n") + "\n")
            continue
        style, text = pretty(event)
        app.terminal.print(Text(text, style=style or ""), soft_wrap=True)
