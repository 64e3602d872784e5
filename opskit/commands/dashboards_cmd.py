"""`opskit dashboards render|push` and `opskit top` (terminal charts)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Group
from rich.table import Table
from rich.text import Text

from opskit.app import App
from opskit.commands.params import INTERVAL, TEXT, Count, FilePath, Number
from opskit.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from opskit.dashboards.render import Rendered

TOP_MAX_HOURS = 455 * 24  # CloudWatch keeps hourly data points for 455 days
TEMPLATE_HELP = "Dashboard template (default: dashboards/gateway.json in the project)."
QUERIES_HELP = (
    "Query library for the log widgets (default: queries/ in the project, or $OPSKIT_QUERIES_DIR)."
)


def _template(app: App, template: Path | None) -> Path:
    from opskit.dashboards.render import default_template

    return template or default_template(app.env.root)


def _queries_dir(app: App, queries_dir: Path | None) -> Path:
    from opskit.insights.library import default_dir

    return queries_dir or default_dir(app.env.root)


def _render(app: App, template: Path, queries_dir: Path | None) -> Rendered:
    from opskit.dashboards.render import render_dashboard

    clients = app.clients
    return render_dashboard(
        clients.cloudformation(),
        clients.cloudwatch(),
        app.env,
        template,
        _queries_dir(app, queries_dir),
    )


@click.group()
def dashboards() -> None:
    """The CloudWatch dashboard: dashboards/gateway.json filled from the stack's outputs."""


@dashboards.command()
@click.option("--template", type=FilePath(path_type=Path, dir_okay=False), help=TEMPLATE_HELP)
@click.option("--queries-dir", type=FilePath(path_type=Path, file_okay=False), help=QUERIES_HELP)
@click.pass_obj
def render(app: App, template: Path | None, queries_dir: Path | None) -> None:
    """Print the filled dashboard body (JSON) after validating it.

    Checks: the documented body structure, widgets inside the 24-column grid and
    not overlapping, every placeholder resolved, metric names that exist.
    """
    from opskit.dashboards.render import require_valid

    path = _template(app, template)
    rendered = _render(app, path, queries_dir)
    for problem in rendered.problems:
        app.terminal.err(f"invalid: {problem}", style="red")
    require_valid(rendered, path)
    if app.terminal.output in ("yaml", "csv"):  # json: the body exactly as it is pushed
        app.terminal.document(rendered.body)
        return
    app.terminal.write(rendered.text())


@dashboards.command()
@click.option("--template", type=FilePath(path_type=Path, dir_okay=False), help=TEMPLATE_HELP)
@click.option("--queries-dir", type=FilePath(path_type=Path, file_okay=False), help=QUERIES_HELP)
@click.option("--name", type=TEXT, help="Dashboard name (default: <stack>-gateway).")
@click.pass_obj
def push(app: App, template: Path | None, queries_dir: Path | None, name: str | None) -> None:
    """Validate and put the dashboard (skipped when CloudWatch already has it); print its URL."""
    from opskit.dashboards.render import (
        console_url,
        dashboard_name,
        push_dashboard,
        require_valid,
    )

    path = _template(app, template)
    rendered = _render(app, path, queries_dir)
    require_valid(rendered, path)
    name = name or dashboard_name(app.env)
    changed, messages = push_dashboard(app.clients.cloudwatch(), name, rendered.body)
    for message in messages:
        app.terminal.warn(message)
    if app.terminal.machine_readable:
        app.terminal.document(
            {"name": name, "changed": changed, "url": console_url(app.env.region, name),
             "warnings": list(messages)}
        )  # fmt: skip
        return
    app.terminal.print(
        f"Dashboard {name} {'updated' if changed else 'unchanged (already up to date)'}."
    )
    app.terminal.print(console_url(app.env.region, name))
    if app.env.local:
        app.terminal.info(
            "(local emulator: that is where it would be in AWS; see it with `opskit --env local dashboards preview --open`)"
        )


@dashboards.command()
@click.option("--template", type=FilePath(path_type=Path, dir_okay=False), help=TEMPLATE_HELP)
@click.option("--queries-dir", type=FilePath(path_type=Path, file_okay=False), help=QUERIES_HELP)
@click.option(
    "--hours",
    type=Number(0, 360, min_open=True),
    default=None,
    help="Window to chart (default: the dashboard's start).",
)
@click.option(
    "--out",
    "out",
    type=FilePath(path_type=Path, dir_okay=False),
    help="HTML file to write (default: .opskit/<stack>-gateway.html).",
)
@click.option("--open", "open_", is_flag=True, help="Open the file in the default browser.")
@click.pass_obj
def preview(
    app: App,
    template: Path | None,
    queries_dir: Path | None,
    hours: float | None,
    out: Path | None,
    open_: bool,
) -> None:
    """Render the filled dashboard to one self-contained HTML file you can open offline.

    Same grid as CloudWatch; metric widgets charted from GetMetricData over the window, log
    widgets with their query's results (Logs Insights, or the local engine on --env local),
    text and alarm widgets. On the local account the metrics are the ones the local shipper
    published (percentiles and metric math computed by opskit) and the alarm states are
    opskit's evaluation.
    """
    import webbrowser

    from opskit.dashboards.render import dashboard_name
    from opskit.dashboards.service_preview import write_preview

    path = _template(app, template)
    rendered = _render(app, path, queries_dir)
    for problem in rendered.problems:
        app.terminal.warn(f"dashboard: {problem}")
    name = dashboard_name(app.env)
    target = out or app.env.state_dir / f"{name}.html"
    with app.terminal.status("Reading metrics, logs and alarms..."):
        summary = write_preview(
            app.clients.cloudwatch(), app.clients.logs(), app.env, rendered.body, target, now=app.clock(), hours=hours,
            sleep=app.sleep, title=name,
        )  # fmt: skip
    for error in summary.errors:
        app.terminal.warn(error)
    if app.terminal.machine_readable:
        app.terminal.document(
            {
                "path": str(target),
                "widgets": summary.widgets,
                "charts": summary.charts,
                "points": summary.points,
                "start": summary.start.isoformat(),
                "end": summary.end.isoformat(),
                "errors": summary.errors,
            }
        )
    else:
        app.terminal.out(
            f"Wrote {target} ({summary.widgets} widgets, {summary.charts} charts, "
            f"{summary.points:,} datapoints; {summary.start:%H:%M}-{summary.end:%H:%M} UTC)."
        )
    if open_:
        webbrowser.open(target.resolve().as_uri())


@click.command()
@click.option(
    "--hours",
    type=Number(0, TOP_MAX_HOURS, min_open=True),
    default=3.0,
    show_default=True,
    help="How far back to look (CloudWatch keeps 15 months).",
)
@click.option(
    "--period",
    type=Count(60, 86400, multiple_of=60),
    default=300,
    show_default=True,
    help="Seconds per data point (60 or a multiple).",
)
@click.option("--watch", "watch_", is_flag=True, help="Refresh until Ctrl-C.")
@click.option(
    "--interval", type=INTERVAL, default=60.0, show_default=True, help="Seconds between refreshes."
)
@click.option(
    "--width", type=Count(10, 500), default=60, show_default=True, help="Chart width in characters."
)
@click.pass_obj
def top(app: App, hours: float, period: int, watch_: bool, interval: float, width: int) -> None:
    """Terminal charts of the gateway: request rate, error rate, p99 latency, cost so far.

    From CloudWatch metrics (get_metric_data). Cost is an estimate: HTTP API and
    Lambda list prices applied to the requests and Lambda duration, no free tier.
    On the local account latency is the maximum (the emulator computes no percentiles).
    """
    from opskit.alarms.context import stack_context
    from opskit.dashboards.charts import chart_panel
    from opskit.dashboards.top import aligned_window, build_series, fetch, metric_queries

    if hours * 3600 / period > 1440:
        raise UsageError(
            f"--hours {hours} with --period {period}",
            "must give 1..1440 points",
            "raise --period or lower --hours",
        )
    context = stack_context(app.clients.cloudformation(), app.env)
    if "ApiId" not in context:
        raise ConfigError(
            f"stack {app.env.stack_name} has no ApiId output",
            "top reads the HTTP API's metrics",
            "deploy the current template",
        )
    prices = _prices(app)
    # moto computes no percentiles (a p99 query over data fails with HTTP 500): max instead
    latency_stat, latency_title, latency_note = (
        ("Maximum", "Latency max", "the local emulator computes no percentiles: max, not p99")
        if app.env.local
        else ("p99", "Latency p99", "")
    )
    queries = metric_queries(
        context["ApiId"], context["Stage"], context["FunctionName"], period, latency_stat
    )
    cw = app.clients.cloudwatch()
    width = max(10, min(width, (app.terminal.console.width - 10) // 2))

    def snapshot() -> tuple[datetime, Any]:
        now = app.clock()
        start, end = aligned_window(now, hours, period)
        series = build_series(
            fetch(cw, queries, start, end), start=start, end=end, period=period, prices=prices
        )
        return now, series

    terminal = app.terminal
    if terminal.machine_readable:
        stat = latency_stat.lower()

        def document() -> dict[str, Any]:
            now, series = snapshot()
            return top_document(app.env.stack_name, now, series, stat)

        if watch_:
            from opskit.dashboards.live import stream

            stream(terminal, document, interval=interval, sleep=app.sleep)
            return
        doc = document()
        terminal.document(doc, rows=doc["points"], columns=TOP_COLUMNS)
        return

    def build() -> Group:
        now, series = snapshot()
        t = series.totals
        header = Text(
            f"{app.env.stack_name} · last {hours:g}h · {period}s points · {now:%H:%M:%S} UTC · "
            f"{t['requests']:,.0f} requests, {t['errors5xx']:,.0f} 5xx",
            style="bold",
        )
        grid = Table.grid(padding=(0, 1))
        grid.add_row(
            chart_panel("Request rate", series.request_rate, " req/s", width=width),
            chart_panel("Error rate (5xx)", series.error_rate, "%", width=width, style="red"),
        )
        grid.add_row(
            chart_panel(
                latency_title,
                series.p99_latency,
                " ms",
                width=width,
                style="yellow",
                note=latency_note,
            ),
            chart_panel(
                "Cost so far (estimate, this window)",
                series.cost_so_far,
                " USD",
                width=width,
                style="green",
                note=f"requests x (HTTP API ${prices.http_api_per_million:g}/M + Lambda "
                f"${prices.lambda_requests_per_million:g}/M) + {prices.memory_gb:g} GB x duration x "
                f"${prices.lambda_gb_second:.10f}".rstrip("0")
                + f"/GB-s; list prices as of {prices.as_of}, no free tier",
            ),
        )
        return Group(header, grid)

    if watch_:
        from opskit.dashboards.live import watch

        watch(app.terminal, build, interval=interval, sleep=app.sleep)
    else:
        app.terminal.print(build())


TOP_COLUMNS = ["time", "request_rate", "error_rate_pct", "latency_ms", "cost_usd"]


def top_document(stack: str, now: datetime, series: Any, latency_stat: str) -> dict[str, Any]:
    """`top --output json`: the four series, one point per period (keys in docs/alarms.md)."""
    points = [
        {"time": t.isoformat(), "request_rate": rate, "error_rate_pct": errors,
         "latency_ms": latency, "cost_usd": cost}
        for t, rate, errors, latency, cost in zip(
            series.timestamps, series.request_rate, series.error_rate, series.p99_latency,
            series.cost_so_far, strict=False,
        )
    ]  # fmt: skip
    return {
        "stack": stack,
        "at": now.isoformat(),
        "period": series.period,
        "latency_stat": latency_stat,
        "totals": series.totals,
        "points": points,
    }


def _prices(app: App):  # -> UnitPrices
    from opskit.dashboards.top import UnitPrices

    table = app.prices
    arch = app.env.parameters.get("Architecture", "arm64")
    gbs_key = "lambda_gbs_arm64" if arch == "arm64" else "lambda_gbs_x86_64"
    try:
        memory_gb = float(app.env.parameters.get("MemorySize", "512")) / 1024.0
    except ValueError:
        raise ConfigError("MemorySize parameter", "not a number of MB", "fix opskit.toml") from None
    return UnitPrices(
        http_api_per_million=table.rate("apigw_http_requests").first_price,
        lambda_requests_per_million=table.rate("lambda_requests").first_price,
        lambda_gb_second=table.rate(gbs_key).first_price,
        memory_gb=memory_gb,
        as_of=getattr(table, "as_of", "") or "",
    )
