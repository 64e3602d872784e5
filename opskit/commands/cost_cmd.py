"""`opskit cost`: real spend (Cost Explorer), the estimate model, prices, anomalies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from opskit.app import App
from opskit.commands.params import TEXT, Count, FilePath, Number, Quantity
from opskit.durations import MAX_DAYS
from opskit.errors import ConfigError, UsageError
from opskit.values import RETENTION_DAYS


def _cache(app: App) -> Any:
    from opskit.cost.explorer import DiskCache

    return DiskCache(app.env.state_dir / "cache" / "ce", app.clock)


def account_of(app: App) -> str:
    """The AWS account of the credentials in use (STS, cached per credentials)."""
    from opskit.cost.account import account_id, credentials_key

    key = credentials_key(app.clients.session, app.clients.endpoint_url)
    return account_id(app.clients.sts(), _cache(app), key)


def _explorer(app: App) -> tuple[Any, str]:
    """The Cost Explorer service, its cache keyed by the account the credentials belong to."""
    from opskit.cost.explorer import CostExplorer

    account = account_of(app)
    explorer = CostExplorer(app.clients.ce(), _cache(app), app.clock().date(), account_id=account)
    return explorer, account


def _untaggable(app: App, period: Any) -> dict[str, Any] | None:
    """The model's estimate of what the tag-scoped report cannot see (no AWS call)."""
    from opskit.cost.estimate import base_usage
    from opskit.cost.fixed import fixed_items_or_options
    from opskit.cost.model import estimate
    from opskit.cost.untaggable import untaggable_estimate

    try:
        fixed, _ = fixed_items_or_options(app.env, None, None)
    except ConfigError:
        fixed = None
    result = estimate(base_usage(app.env, fixed), app.prices)
    return untaggable_estimate(result, period.days)


def _group_by(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> Any:
    """Checked when parsed, on every environment (the local report ignores the grouping)."""
    from opskit.cost.report import parse_group_by

    try:
        parse_group_by(value)
    except UsageError as exc:
        raise click.BadParameter(exc.format_line(), ctx=ctx, param=param) from None
    return value


@click.group(invoke_without_command=True)
@click.option(
    "--month",
    type=TEXT,
    default=None,
    metavar="YYYY-MM",
    help="Calendar month (default: the current month).",
)
@click.option(
    "--days",
    type=Count(1, MAX_DAYS),
    default=None,
    help="The last N whole days, [today-N, today).",
)
@click.option(
    "--since",
    type=TEXT,
    default=None,
    metavar="DATE|DURATION",
    help="Start (inclusive): a date (YYYY-MM-DD) or a duration back from today (30d, 2w).",
)
@click.option(
    "--until",
    type=TEXT,
    default=None,
    metavar="YYYY-MM-DD",
    help="End date (exclusive; default tomorrow).",
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
    type=TEXT,
    multiple=True,
    callback=_group_by,
    metavar="KEY",
    help="service, usage-type, region or tag:KEY (at most two).",
)
@click.option(
    "--all-account", is_flag=True, help="Do not filter to the project's Project/Environment tags."
)
@click.option(
    "--exclude-credits",
    is_flag=True,
    help="Leave credits and refunds out of the totals (they are always shown apart).",
)
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
    exclude_credits: bool,
) -> None:
    """What the stack costs: Cost Explorer spend by service, with deltas and a daily chart.

    A month to date is compared with the same days of the previous month. Usage is shown
    apart from credits, refunds and tax. Cost Explorer charges $0.01 per request: answers
    are cached per AWS account under .opskit/cache (months final 35 days after they close,
    recent ones re-checked daily, open ranges for 6 hours) and every run prints the paid
    requests it made (0 when warm). On --env local (no billing data) this shows the cost
    model applied to the local traffic, labelled as an estimate.
    """
    if ctx.invoked_subcommand is not None:
        return
    from opskit.cost.periods import choose_period

    app: App = ctx.obj
    today = app.clock().date()
    period = choose_period(today, month, days, since, until)
    if app.env.local:
        _local_report(app, period)
        return
    from opskit.commands.cost_render import render_report
    from opskit.cost.report import ReportRequest, build_report, validate_request

    request = ReportRequest(period, metric, tuple(group_by), all_account, exclude_credits)
    validate_request(request, today)  # before any request: a bad period costs nothing
    explorer, account = _explorer(app)
    untaggable = None if all_account else _untaggable(app, period)
    try:
        with app.terminal.status("Asking Cost Explorer..."):
            report = build_report(explorer, app.env, request, today, untaggable)
    finally:
        app.terminal.info(explorer.counter.summary())
    render_report(app.terminal, report, explorer.counter, account)


# --- estimate ---------------------------------------------------------------------------------


# The largest HTTP API payload (10 MB), for --request-bytes/--response-bytes.
PAYLOAD_MAX = 10 * 1024 * 1024

ESTIMATE_OPTIONS = [
    click.option(
        "--requests", type=Quantity(0, 1e12), help="Requests a month, e.g. 1M, 250k, 1.5B."
    ),
    click.option(
        "--duration-ms",
        type=Quantity(0, 900_000),
        help="Average billed duration per invocation (ms).",
    ),
    click.option(
        "--memory",
        type=Quantity(128, 10_240),
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
        type=Number(0, 1),
        default=None,
        help="Share of invocations with an INIT phase (0-1).",
    ),
    click.option(
        "--init-ms",
        type=Quantity(0, 900_000),
        help="Billed INIT duration of a cold start (ms).",
    ),
    click.option("--log-bytes", type=Quantity(0, 1e9), help="Function log bytes per request."),
    click.option(
        "--access-log-bytes",
        type=Quantity(0, 1e9),
        help="API Gateway access-log bytes per request.",
    ),
    click.option(
        "--request-bytes", type=Quantity(0, PAYLOAD_MAX), help="Average request size (bytes)."
    ),
    click.option(
        "--response-bytes",
        type=Quantity(0, PAYLOAD_MAX),
        help="Average response size (bytes).",
    ),
    click.option(
        "--ddb-writes",
        type=Number(0, 1000),
        default=None,
        help="DynamoDB WRU per request (rate limiter: 1).",
    ),
    click.option(
        "--ddb-reads",
        type=Number(0, 1000),
        default=None,
        help="DynamoDB RRU per request: share of opaque-session requests (1 consistent read each).",
    ),
    click.option(
        "--ddb-storage-gb", type=Number(0, 1e6), default=None, help="DynamoDB storage (GB)."
    ),
    click.option(
        "--xray-sampling",
        type=Number(0, 1),
        default=None,
        help="A flat share of requests traced (0-1) instead of the default rule "
        "(1 request/s + 5 % of the rest).",
    ),
    click.option(
        "--log-class",
        type=click.Choice(["standard", "infrequent-access"]),
        default=None,
        help="CloudWatch Logs class of the stack's log groups (Infrequent Access: half the "
        "ingestion price, no metric filters).",
    ),
    click.option(
        "--composite-alarms",
        type=Count(0, 1_000_000),
        default=None,
        help="CloudWatch composite alarms.",
    ),
    click.option(
        "--anomaly-alarms",
        type=Count(0, 1_000_000),
        default=None,
        help="CloudWatch anomaly-detection alarms (3 metrics each).",
    ),
    click.option(
        "--metric-data",
        type=Quantity(0, 1e12),
        help="Metrics fetched a month with GetMetricData, e.g. by `opskit top --watch` "
        "(12 metrics every minute: 518k).",
    ),
    click.option(
        "--secrets",
        type=Count(0, 500_000),
        default=None,
        help="Secrets Manager secrets the gateway reads (default: 1 when JwtSecretArn is set).",
    ),
    click.option(
        "--insights-queries",
        type=Count(0, 10_000_000),
        default=None,
        help="Logs Insights queries a month (each scans a day).",
    ),
    click.option(
        "--log-retention-days",
        type=click.Choice([str(d) for d in RETENTION_DAYS]),
        callback=lambda ctx, param, value: None if value is None else int(value),
        default=None,
        metavar="DAYS",
        help="Log retention, one of CloudWatch Logs' values: "
        + ", ".join(str(d) for d in RETENTION_DAYS)
        + " (default: LogRetentionDays parameter).",
    ),
    click.option(
        "--alarms",
        type=Count(0, 1_000_000),
        default=None,
        help="CloudWatch alarm metrics (a metric-math alarm counts each metric it uses; "
        "default: counted from the alarm baseline).",
    ),
    click.option(
        "--custom-metrics",
        type=Count(0, 10_000_000),
        default=None,
        help="CloudWatch custom metrics (default: the alarm baseline's log metric filters).",
    ),
    click.option(
        "--dashboards", type=Count(0, 10_000), default=None, help="CloudWatch dashboards."
    ),
    click.option("--s3-gb", type=Number(0, 1e7), default=None, help="S3 artifact storage (GB)."),
    click.option("--ecr-gb", type=Number(0, 1e7), default=None, help="ECR image storage (GB)."),
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
    "log_class": "log_class",
    "composite_alarms": "composite_alarms",
    "anomaly_alarms": "anomaly_alarms",
    "metric_data": "metric_data_requested",
    "secrets": "secrets",
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
    type=TEXT,
    default=None,
    help="With --from-logs: how far back to read: a duration (7d, 24h) or a date "
    "(YYYY-MM-DD), as on `cost` (default 7d).",
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
    type=FilePath(path_type=Path),
    default=None,
    help="Exported events: JSON lines, or a document with an `events` array.",
)
@click.option(
    "--free-tier",
    type=click.Choice(["none", "always", "credits", "legacy"]),
    default="none",
    show_default=True,
    help="none; always = the always-free offers; credits = also the Free plan credits of "
    "accounts created since 2025-07-15 (--credits). legacy is obsolete.",
)
@click.option(
    "--credits",
    type=Number(0, 200),
    default=None,
    help="With --free-tier credits: Free plan credits left, USD ($100 at sign-up + up to $100 earned).",
)
@click.option(
    "--by",
    type=click.Choice(["route", "user"]),
    default="route",
    show_default=True,
    help="With --from-logs: split the variable cost per route, or per user (user_id).",
)
@click.option(
    "--top",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Users shown with --by user.",
)
@click.option(
    "--duration-scale",
    type=Number(0, 100, min_open=True),
    default=None,
    help="With --from-logs and --memory/--arch: the factor on duration for the what-if "
    "(default: measured from the upstream share of latency for memory; 1 for architecture, said so).",
)
@click.pass_obj
def estimate_cmd(
    app: App,
    from_logs: bool,
    since: str | None,
    basis: str,
    file: Path | None,
    free_tier: str,
    credits: float | None,
    by: str,
    top: int,
    duration_scale: float | None,
    **flags: Any,
) -> None:
    """Predict the monthly bill, line by line, from assumptions or from the gateway's logs.

    \b
    opskit cost estimate --requests 1M --duration-ms 40 --memory 512 --arch arm64
    opskit cost estimate --from-logs --since 7d
    opskit cost estimate --from-logs --file events.jsonl --requests 10M
    opskit cost estimate --from-logs --by user --top 5
    opskit cost estimate --from-logs --memory 1024          # what-if, assumption stated

    It leads with the cost per million requests and the fixed monthly cost apart. From
    logs, the month is projected from the traffic's observed span (first to last request,
    at least 10 s) when it is shorter than the window read, else from the whole window;
    the basis and the window come first (`--basis` to choose).
    """
    from opskit.commands.cost_render import render_estimate
    from opskit.cost.estimate import base_usage, estimate_from_events
    from opskit.cost.fixed import fixed_items_or_options
    from opskit.cost.model import check_free_tier, estimate, with_overrides
    from opskit.cost.whatif import WhatIf

    check_free_tier(free_tier)
    overrides = {
        OVERRIDE_FIELDS[k]: v for k, v in flags.items() if k in OVERRIDE_FIELDS and v is not None
    }
    if (since or file or basis != "auto" or by != "route" or duration_scale) and not from_logs:
        raise UsageError(
            "--since/--file/--basis/--by/--duration-scale without --from-logs",
            "they pick and read the logs",
            "add --from-logs",
        )
    prices = app.prices
    fixed, fixed_note = fixed_items_or_options(
        app.env, overrides.get("alarms"), overrides.get("custom_metrics")
    )
    base = base_usage(app.env, fixed)
    if not from_logs:
        result = estimate(with_overrides(base, **overrides), prices, free_tier, credits or 0.0)
        data = result.to_dict()
        data["notes"].append(fixed_note)
        render_estimate(app.terminal, data, title="Estimated monthly cost (from assumptions)")
        return
    # From logs, --memory/--arch are a what-if on the measured profile, never a silent swap.
    what_if = WhatIf(overrides.pop("memory_mb", None), overrides.pop("arch", None), duration_scale)
    events, access_events, window = _log_events(app, since, file)
    log_estimate = estimate_from_events(
        events,
        base,
        prices,
        free_tier,
        window,
        overrides,
        basis,
        access_events=access_events,
        credits=credits or 0.0,
        what_if=what_if,
        top=top if by == "user" else None,
    )
    title = "Estimated monthly cost (projected from logs" + (
        ", local account)" if app.env.local and file is None else ")"
    )
    data = log_estimate.to_dict()
    data["notes"].append(fixed_note)
    render_estimate(app.terminal, data, title=title, by=by)


def _log_events(app: App, since: str | None, file: Path | None):
    """The function's events, API Gateway's access lines (their own group), the window read."""
    from opskit.cost.logs import iter_cloudwatch_events, iter_file_events, optional_events
    from opskit.cost.periods import since_start

    end = app.clock()
    start = since_start(since or "7d", end)
    if start >= end:
        raise UsageError(
            f"--since {since} is not in the past", f"it is {end:%Y-%m-%d %H:%M}", "e.g. --since 7d"
        )
    window = (end - start).total_seconds() if since else None
    if file is not None:
        return iter_file_events(file), None, window
    logs = app.clients.logs()
    events = iter_cloudwatch_events(logs, app.env.function_log_group, start, end)
    access = optional_events(logs, app.env.access_log_group, start, end)
    return events, access, (end - start).total_seconds()


def _local_report(app: App, period: Any) -> None:
    """--env local: no billing data, so the model applied to the local account's logs."""
    from opskit.commands.cost_render import render_estimate
    from opskit.cost.estimate import estimate_local_traffic
    from opskit.cost.periods import local_window

    start, end = local_window(period, app.clock())
    app.terminal.info(
        "ESTIMATE of the local traffic: the local account has no billing data; this is the cost "
        "model applied to the traffic the local gateway served (no Cost Explorer requests made)"
    )
    data = estimate_local_traffic(app.clients.logs(), app.env, app.prices, start, end)
    data["period"] = period.as_ce()
    render_estimate(
        app.terminal,
        data,
        title=f"Local traffic {period.label()}: what it would cost on AWS, projected to a month",
    )


# --- prices, anomalies ----------------------------------------------------------------------


@cost.command("prices")
@click.option(
    "--refresh",
    is_flag=True,
    help="Fetch current rates from the AWS Price List API and show what changed.",
)
@click.pass_obj
def prices_cmd(app: App, refresh: bool) -> None:
    """The price table in use (every rate with its source and date), or --refresh it."""
    table = app.prices
    if refresh:
        from opskit.cost.refresh import refresh_prices, save_refreshed

        with app.terminal.status("Asking the Price List API..."):
            document, rows = refresh_prices(
                app.clients.pricing(), table, app.env.region, app.clock().date()
            )
        path = save_refreshed(app.env.state_dir, app.env.region, document)
        app.terminal.render_rows(
            rows,
            ["rate", "unit", "old", "new", "change"],
            title=f"Price changes for {app.env.region} (saved to {path})",
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
    )


@cost.command("anomalies")
@click.option(
    "--days",
    type=Count(1, MAX_DAYS),
    default=30,
    show_default=True,
    help="How far back to look.",
)
@click.pass_obj
def anomalies_cmd(app: App, days: int) -> None:
    """Recent anomalies from Cost Anomaly Detection, with impact and root causes."""
    from opskit.cost.anomalies import recent_anomalies

    if app.env.local:
        raise ConfigError(
            "no cost anomalies on the local account",
            "the emulator has no billing data or Cost Anomaly Detection",
            "run it against a real environment, e.g. --env dev",
        )
    explorer, _ = _explorer(app)
    try:
        rows = recent_anomalies(explorer, app.clock().date(), days)
    finally:
        app.terminal.info(explorer.counter.summary())
    if not rows and app.terminal.output == "table":
        app.terminal.print(
            f"No anomalies in the last {days} days (is a cost anomaly monitor set up? see Billing > Cost Anomaly Detection)."
        )
        return
    app.terminal.render_rows(
        rows,
        ["start", "end", "dimension", "impact_usd", "impact_pct", "score", "root_causes", "id"],
        title=f"Cost anomalies, last {days} days",
    )
