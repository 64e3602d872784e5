"""`opskit cost`: real spend (Cost Explorer), the estimate model, prices, anomalies."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from opskit.app import App
from opskit.commands.options import format_option
from opskit.errors import ConfigError, UsageError


def _format(app: App, fmt: str | None) -> str:
    return fmt or app.terminal.output


def _explorer(app: App):
    from opskit.cost.explorer import CostExplorer, DiskCache

    cache = DiskCache(app.env.state_dir / "cache" / "ce", app.clock)
    namespace = f"{app.env.name}|{app.env.profile or ''}|{app.clients.endpoint_url or 'aws'}"
    return CostExplorer(app.clients.client("ce"), cache, app.clock().date(), namespace=namespace)


def _period(app: App, month: str | None, days: int | None, since: str | None, until: str | None):
    from opskit.cost import periods

    today = app.clock().date()
    chosen = [
        name for name, value in (("--month", month), ("--days", days), ("--since", since)) if value
    ]
    if len(chosen) > 1:
        raise UsageError(
            f"{' and '.join(chosen)} together",
            "they pick the period in different ways",
            "use one of --month, --days, --since/--until",
        )
    if until and not since:
        raise UsageError(
            "--until without --since", "the period needs a start", "add --since YYYY-MM-DD"
        )
    if month:
        return periods.month_period(month)
    if days:
        return periods.last_days(days, today)
    if since:
        return periods.since_until(since, until, today)
    return periods.current_month(today)


@click.group(invoke_without_command=True)
@click.option(
    "--month", default=None, metavar="YYYY-MM", help="Calendar month (default: the current month)."
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="The last N whole days, [today-N, today).",
)
@click.option("--since", default=None, metavar="YYYY-MM-DD", help="Start date (inclusive).")
@click.option(
    "--until", default=None, metavar="YYYY-MM-DD", help="End date (exclusive; default tomorrow)."
)
@click.option(
    "--metric",
    type=click.Choice(["unblended", "amortized", "net-unblended"]),
    default="unblended",
    show_default=True,
)
@click.option(
    "--group-by",
    "group_by",
    multiple=True,
    metavar="KEY",
    help="service, usage-type, region or tag:KEY (at most two).",
)
@click.option(
    "--all-account", is_flag=True, help="Do not filter to the project's Project/Environment tags."
)
@format_option()
@click.pass_context
def cost(
    ctx: click.Context,
    month: str | None,
    days: int | None,
    since: str | None,
    until: str | None,
    metric: str,
    group_by: tuple[str, ...],
    all_account: bool,
    fmt: str | None,
) -> None:
    """What the stack costs: Cost Explorer spend by service, with deltas and a daily chart.

    Cost Explorer charges $0.01 per request: answers are cached under .opskit/cache
    (closed months forever, open ranges for 6 hours) and every run prints how many
    requests it made. On --env local (no billing data) this shows the cost model
    applied to local usage, labelled as an estimate.
    """
    if ctx.invoked_subcommand is not None:
        return
    app: App = ctx.obj
    period = _period(app, month, days, since, until)
    output = _format(app, fmt)
    if app.env.local:
        _local_report(app, period, output)
        return
    from opskit.cost.report import ReportRequest, build_report

    explorer = _explorer(app)
    try:
        with app.terminal.status("Asking Cost Explorer..."):
            report = build_report(
                explorer,
                app.env,
                ReportRequest(period, metric, tuple(group_by), all_account),
                app.clock().date(),
            )
    finally:
        app.terminal.info(explorer.counter.summary())
    if output == "json":
        data = report.to_dict()
        data["cost_explorer"] = {
            "requests": explorer.counter.requests,
            "cost_usd": explorer.counter.cost_usd,
            "cached": explorer.counter.cached,
        }
        app.terminal.write(json.dumps(data, indent=2) + "\n")
        return
    if output == "csv":
        app.terminal.render_rows(
            report.rows,
            ["group", "cost_usd", "previous_usd", "delta_usd", "delta_pct"],
            output="csv",
        )
        return
    scope = (
        "all account"
        if report.scope is None
        else ", ".join(f"{k}={v}" for k, v in report.scope.items())
    )
    title = f"{report.metric} cost {period.label()} ({scope}) vs {report.previous.label()}"
    if report.estimated:
        title += "  [ESTIMATED: the period is not closed]"
    rows = [
        {
            "group": r["group"],
            "cost_usd": f"{r['cost_usd']:,.2f}",
            "previous_usd": f"{r['previous_usd']:,.2f}",
            "delta_usd": f"{r['delta_usd']:+,.2f}",
            "delta_pct": ("new" if r["cost_usd"] else "")
            if r["delta_pct"] is None
            else f"{r['delta_pct']:+.1f}%",
        }
        for r in report.rows
    ]
    delta = report.total - report.previous_total
    rows.append(
        {
            "group": "TOTAL",
            "cost_usd": f"{report.total:,.2f}",
            "previous_usd": f"{report.previous_total:,.2f}",
            "delta_usd": f"{delta:+,.2f}",
            "delta_pct": "",
        }
    )
    app.terminal.render_rows(
        rows,
        ["group", "cost_usd", "previous_usd", "delta_usd", "delta_pct"],
        title=title,
        output="table",
    )
    if period.contains(app.clock().date()):
        app.terminal.info("note: month to date compared with the whole previous month")
    _chart(app, report.daily)
    if report.forecast:
        f = report.forecast
        band = ""
        if f.get("month_end_low_usd") is not None and f.get("month_end_high_usd") is not None:
            band = f" (80% interval {f['month_end_low_usd']:.2f}-{f['month_end_high_usd']:.2f})"
        app.terminal.print(
            f"Forecast to month end: ${f['month_end_usd']:.2f}{band}; month to date ${f['month_to_date_usd']:.2f} [estimated]"
        )
    for note in report.notes:
        app.terminal.warn(note)


def _chart(app: App, daily: list[tuple[Any, float]], width: int = 40) -> None:
    if not daily:
        return
    top = max(v for _, v in daily) or 1.0
    text = Text()
    for day, value in daily:
        bar = "█" * max(0, round(value / top * width))
        text.append(f"{day.isoformat()} ")
        text.append(bar or "·", style="cyan")
        text.append(f" {value:.2f}\n")
    app.terminal.print(text, end="")


# --- estimate ---------------------------------------------------------------------------------


def _quantity(name: str):
    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
        if value is None:
            return None
        from opskit.cost.model import parse_quantity

        try:
            return parse_quantity(value, f"--{name}")
        except ConfigError as exc:  # a bad option value is a usage error (exit 2)
            raise click.BadParameter(exc.format_line(), ctx=ctx, param=param) from None

    return convert


ESTIMATE_OPTIONS = [
    click.option(
        "--requests", callback=_quantity("requests"), help="Requests a month, e.g. 1M, 250k, 1.5B."
    ),
    click.option(
        "--duration-ms",
        callback=_quantity("duration-ms"),
        help="Average billed duration per invocation (ms).",
    ),
    click.option(
        "--memory",
        callback=_quantity("memory"),
        help="Lambda memory, MB (default: MemorySize parameter).",
    ),
    click.option(
        "--arch",
        type=click.Choice(["arm64", "x86_64"]),
        default=None,
        help="Lambda architecture (default: Architecture parameter).",
    ),
    click.option(
        "--cold-start-rate",
        type=float,
        default=None,
        help="Share of invocations with an INIT phase (0-1).",
    ),
    click.option(
        "--init-ms",
        callback=_quantity("init-ms"),
        help="Billed INIT duration of a cold start (ms).",
    ),
    click.option(
        "--log-bytes", callback=_quantity("log-bytes"), help="Function log bytes per request."
    ),
    click.option(
        "--access-log-bytes",
        callback=_quantity("access-log-bytes"),
        help="API Gateway access-log bytes per request.",
    ),
    click.option(
        "--request-bytes", callback=_quantity("request-bytes"), help="Average request size (bytes)."
    ),
    click.option(
        "--response-bytes",
        callback=_quantity("response-bytes"),
        help="Average response size (bytes).",
    ),
    click.option(
        "--ddb-writes", type=float, default=None, help="DynamoDB WRU per request (rate limiter: 1)."
    ),
    click.option(
        "--ddb-reads",
        type=float,
        default=None,
        help="DynamoDB RRU per request: share of opaque-session requests (1 consistent read each).",
    ),
    click.option("--ddb-storage-gb", type=float, default=None, help="DynamoDB storage (GB)."),
    click.option(
        "--xray-sampling", type=float, default=None, help="Share of requests traced by X-Ray (0-1)."
    ),
    click.option(
        "--insights-queries",
        type=float,
        default=None,
        help="Logs Insights queries a month (each scans a day).",
    ),
    click.option(
        "--log-retention-days",
        type=float,
        default=None,
        help="Log retention (default: LogRetentionDays parameter).",
    ),
    click.option(
        "--alarms",
        type=float,
        default=None,
        help="CloudWatch alarm metrics (a metric-math alarm counts each metric it uses; "
        "default: counted from the alarm baseline).",
    ),
    click.option(
        "--custom-metrics",
        type=float,
        default=None,
        help="CloudWatch custom metrics (default: the alarm baseline's log metric filters).",
    ),
    click.option("--dashboards", type=float, default=None, help="CloudWatch dashboards."),
    click.option("--s3-gb", type=float, default=None, help="S3 artifact storage (GB)."),
    click.option("--ecr-gb", type=float, default=None, help="ECR image storage (GB)."),
]
OVERRIDE_FIELDS = {
    "requests": "requests",
    "duration_ms": "duration_ms",
    "memory": "memory_mb",
    "arch": "arch",
    "cold_start_rate": "cold_start_rate",
    "init_ms": "init_ms",
    "log_bytes": "log_bytes",
    "access_log_bytes": "access_log_bytes",
    "request_bytes": "request_bytes",
    "response_bytes": "response_bytes",
    "ddb_writes": "ddb_writes",
    "ddb_reads": "ddb_reads",
    "ddb_storage_gb": "ddb_storage_gb",
    "xray_sampling": "xray_sampling",
    "insights_queries": "insights_queries",
    "log_retention_days": "log_retention_days",
    "alarms": "alarms",
    "custom_metrics": "custom_metrics",
    "dashboards": "dashboards",
    "s3_gb": "s3_gb",
    "ecr_gb": "ecr_gb",
}


def estimate_options(func):
    for option in reversed(ESTIMATE_OPTIONS):
        func = option(func)
    return func


@cost.command("estimate")
@estimate_options
@click.option(
    "--from-logs",
    is_flag=True,
    help="Measure traffic from the function's logs (CloudWatch, --file, or the local account).",
)
@click.option(
    "--since",
    "since",
    default=None,
    help="With --from-logs: how far back to read, e.g. 7d, 24h (default 7d).",
)
@click.option(
    "--basis",
    type=click.Choice(["auto", "observed", "window"]),
    default="auto",
    show_default=True,
    help="With --from-logs: project from the traffic's observed span (first to last request), "
    "the whole --since window, or auto = the observed span when shorter than the window.",
)
@click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path),
    default=None,
    help="Exported events: JSON lines, or a document with an `events` array.",
)
@click.option(
    "--free-tier",
    type=click.Choice(["none", "new", "legacy"]),
    default="none",
    show_default=True,
    help="Apply free-tier allowances: new = always-free only; legacy = also the 12-month offers.",
)
@format_option()
@click.pass_obj
def estimate_cmd(
    app: App,
    from_logs: bool,
    since: str | None,
    basis: str,
    file: Path | None,
    free_tier: str,
    fmt: str | None,
    **flags: Any,
) -> None:
    """Predict the monthly bill, line by line, from assumptions or from the gateway's logs.

    \b
    opskit cost estimate --requests 1M --duration-ms 40 --memory 512 --arch arm64
    opskit cost estimate --from-logs --since 7d
    opskit cost estimate --from-logs --file events.jsonl --requests 10M

    From logs, the month is projected from the traffic's observed span (first to
    last request, at least 10 s) when it is shorter than the window read, else
    from the whole window; the output says which (`--basis` to choose).
    """
    from opskit.cost.estimate import base_usage, estimate_from_events
    from opskit.cost.fixed import fixed_items_or_options
    from opskit.cost.model import estimate, with_overrides

    overrides = {
        OVERRIDE_FIELDS[k]: v for k, v in flags.items() if k in OVERRIDE_FIELDS and v is not None
    }
    output = _format(app, fmt)
    if (since or file or basis != "auto") and not from_logs:
        raise UsageError(
            "--since/--file/--basis without --from-logs",
            "they pick the logs to read",
            "add --from-logs",
        )
    prices = app.prices
    fixed, fixed_note = fixed_items_or_options(
        app.env, overrides.get("alarms"), overrides.get("custom_metrics")
    )
    base = base_usage(app.env, fixed)
    if not from_logs:
        result = estimate(with_overrides(base, **overrides), prices, free_tier)
        data = result.to_dict()
        data["notes"].append(fixed_note)
        _render_estimate(app, data, output, title="Estimated monthly cost (from assumptions)")
        return
    events, window = _log_events(app, since, file)
    log_estimate = estimate_from_events(events, base, prices, free_tier, window, overrides, basis)
    title = "Estimated monthly cost (projected from logs" + (
        ", local account)" if app.env.local and file is None else ")"
    )
    data = log_estimate.to_dict()
    data["notes"].append(fixed_note)
    _render_estimate(app, data, output, title=title)


def _log_events(app: App, since: str | None, file: Path | None):
    from opskit.cost.logs import iter_cloudwatch_events, iter_file_events
    from opskit.cost.periods import parse_duration

    window = parse_duration(since).total_seconds() if since else None
    if file is not None:
        return iter_file_events(file), window
    span = parse_duration(since or "7d")
    end = app.clock()
    logs = app.clients.client("logs")
    return iter_cloudwatch_events(
        logs, app.env.function_log_group, end - span, end
    ), span.total_seconds()


def _qty(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _render_estimate(app: App, data: dict[str, Any], output: str, title: str) -> None:
    if output == "json":
        app.terminal.write(json.dumps(data, indent=2) + "\n")
        return
    items = [
        {
            "service": i["service"],
            "item": i["item"],
            "quantity": _qty(i["quantity"]),
            "unit": i["unit"],
            "cost_usd": f"{i['cost_usd']:.4f}",
        }
        for i in data["line_items"]
    ]
    if output == "csv":
        app.terminal.render_rows(
            data["line_items"],
            ["service", "item", "quantity", "unit", "billable", "cost_usd", "rate_key", "as_of"],
            output="csv",
        )
        return
    items.append(
        {
            "service": "TOTAL",
            "item": "",
            "quantity": "",
            "unit": "",
            "cost_usd": f"{data['total_usd']:.4f}",
        }
    )
    app.terminal.render_rows(
        items,
        ["service", "item", "quantity", "unit", "cost_usd"],
        title=f"{title} [ESTIMATE]",
        output="table",
    )
    usage = data["usage"]
    app.terminal.print(
        f"Total ${data['total_usd']:.2f}/month for {usage['requests']:,.0f} requests: ${data['per_million_requests_usd']:.2f} per million requests. "
        f"Free tier: {data['free_tier']}. Prices: {data['prices']}."
    )
    projection = (data.get("from_logs") or {}).get("projection")
    if projection:
        app.terminal.print(f"Projection ({projection['basis']}): {projection['label']}.")
    if data.get("routes"):
        app.terminal.render_rows(
            data["routes"],
            ["route", "requests_month", "share", "cost_usd", "per_million_usd"],
            title="Per route (projected month)",
            output="table",
        )
    for note in data.get("notes", []):
        if not projection or note != projection["label"]:  # already printed above
            app.terminal.info(f"note: {note}")


def _local_report(app: App, period: Any, output: str) -> None:
    """--env local: no billing data, so the model applied to the local account's logs."""
    from opskit.cost.estimate import base_usage, estimate_from_events
    from opskit.cost.fixed import fixed_items_or_options
    from opskit.cost.logs import iter_cloudwatch_events

    now = app.clock()
    start = datetime.combine(period.start, datetime.min.time(), tzinfo=now.tzinfo)
    end = datetime.combine(period.end, datetime.min.time(), tzinfo=now.tzinfo)
    if (
        period.end == now.date()
    ):  # --days N: the last N days up to now, so today's local traffic counts
        end += timedelta(days=1)
    end = min(now, end)
    if end <= start:
        raise ConfigError(
            f"period {period.label()} has not started",
            f"it is {now.isoformat(timespec='seconds')}",
            "pick a past period",
        )
    events = iter_cloudwatch_events(
        app.clients.client("logs"), app.env.function_log_group, start, end
    )
    prices = app.prices
    app.terminal.info(
        "ESTIMATE: the local account has no billing data; this is the cost model applied to local usage (no Cost Explorer requests made)"
    )
    fixed, fixed_note = fixed_items_or_options(app.env, None, None)
    # The rate over the period, or over the traffic's own span when that is shorter (labelled).
    result = estimate_from_events(
        events, base_usage(app.env, fixed), prices, "none", (end - start).total_seconds(), {}
    )
    data = result.to_dict()
    data["notes"].append(fixed_note)
    data["period"] = period.as_ce()
    data["source"] = (
        "estimate: cost model applied to local usage (the local account has no billing data)"
    )
    _render_estimate(
        app, data, output, title=f"Local account {period.label()}: ESTIMATE from local usage"
    )


# --- prices, anomalies ----------------------------------------------------------------------


@cost.command("prices")
@click.option(
    "--refresh",
    is_flag=True,
    help="Fetch current rates from the AWS Price List API and show what changed.",
)
@format_option()
@click.pass_obj
def prices_cmd(app: App, refresh: bool, fmt: str | None) -> None:
    """The price table in use (every rate with its source and date), or --refresh it."""

    output = _format(app, fmt)
    table = app.prices
    if refresh:
        from opskit.cost.refresh import refresh_prices, save_refreshed

        with app.terminal.status("Asking the Price List API..."):
            document, rows = refresh_prices(
                app.clients.client("pricing"), table, app.env.region, app.clock().date()
            )
        path = save_refreshed(app.env.state_dir, app.env.region, document)
        app.terminal.render_rows(
            rows,
            ["rate", "unit", "old", "new", "change"],
            title=f"Price changes for {app.env.region} (saved to {path})",
            output=output,
        )
        return
    rows = [
        {
            "rate": key,
            "service": r.service,
            "unit": r.unit,
            "price": r.first_price,
            "tiers": len(r.tiers),
            "as_of": r.as_of,
            "source": r.source,
        }
        for key, r in table.rates.items()
    ]
    title = f"Prices for {table.region} from {table.origin}"
    if table.approximate:
        title += f" (APPROXIMATE for {app.env.region}: run `opskit --region {app.env.region} cost prices --refresh`)"
    app.terminal.render_rows(
        rows,
        ["rate", "service", "unit", "price", "tiers", "as_of", "source"],
        title=title,
        output=output,
    )


@cost.command("anomalies")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="How far back to look.",
)
@format_option()
@click.pass_obj
def anomalies_cmd(app: App, days: int, fmt: str | None) -> None:
    """Recent anomalies from Cost Anomaly Detection, with impact and root causes."""
    from opskit.cost.anomalies import recent_anomalies

    if app.env.local:
        raise ConfigError(
            "no cost anomalies on the local account",
            "the emulator has no billing data or Cost Anomaly Detection",
            "run it against a real environment, e.g. --env dev",
        )
    explorer = _explorer(app)
    try:
        rows = recent_anomalies(explorer, app.clock().date(), days)
    finally:
        app.terminal.info(explorer.counter.summary())
    if not rows and _format(app, fmt) == "table":
        app.terminal.print(
            f"No anomalies in the last {days} days (is a cost anomaly monitor set up? see Billing > Cost Anomaly Detection)."
        )
        return
    app.terminal.render_rows(
        rows,
        ["start", "end", "dimension", "impact_usd", "impact_pct", "score", "root_causes", "id"],
        title=f"Cost anomalies, last {days} days",
        output=_format(app, fmt),
    )
