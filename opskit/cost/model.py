"""The cost model: monthly usage of the gateway stack -> priced line items.

Pure arithmetic over a PriceTable; no AWS calls. Quantities are per month.
Assumptions worth knowing (also printed with `cost estimate`):
- Lambda: GB-s = invocations x billed ms x memory, plus billed INIT time on
  cold starts (INIT is billed for ZIP/managed runtimes since 2025-08-01);
  tiers per architecture; 1 ms granularity.
- API Gateway HTTP API: each request counts ceil(size / 512 KB) times, size
  being the larger of request and response (conservative reading of the page).
- DynamoDB on-demand: the rate limiter makes one conditional write per request
  (a failed condition still consumes the WRU); the gateway looks sessions up
  with ConsistentRead, so one opaque-session request costs 1 RRU (JWT requests
  read nothing). From logs, both are measured (the access line's `auth`).
- CloudWatch: alarms are billed per alarm metric (a metric-math alarm per
  metric it uses), log metric filters publish custom metrics; the counts come
  from the shipped alarm baseline (opskit.cost.fixed).
- CloudWatch Logs: Lambda function logs take the vended-log tiers (since
  2025-05-01); the API Gateway access logs the template enables are ordinary
  logs at the flat rate. Storage: steady state = monthly ingestion x retention /
  30.44 days (the average month), uncompressed (AWS bills compressed bytes: an
  upper bound). The Infrequent Access class is an option (`log_class`).
- X-Ray: Lambda active tracing with the default sampling rule, 1 request a
  second + 5 % of the rest (opskit.cost.xray); from logs, the traces counted.
- Custom metrics are billed for the hours they have data: a metric filter
  publishes only while its log group receives events.
- Free tier: the always-free offers, and for accounts created since
  2025-07-15 the Free plan's credits (`credits`); the pre-2025-07-15 12-month
  offers are over for every account and not modelled.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from opskit.cost.xray import DEFAULT_RULE, SamplingRule
from opskit.errors import UsageError
from opskit.pricing import PriceTable

ARCHITECTURES = ("arm64", "x86_64")
FREE_TIERS = ("none", "always", "credits")
LOG_CLASSES = ("standard", "infrequent-access")
HOURS_PER_MONTH = 730
GB = 1024**3
DAYS_PER_MONTH = 30.4375  # 365.25 / 12
SUFFIXES = {"k": 1e3, "m": 1e6, "b": 1e9}


def parse_quantity(text: str | float | int, what: str = "value") -> float:
    """'1M' -> 1e6, '250k' -> 250000, '1.5B' -> 1.5e9, '40' -> 40."""
    if isinstance(text, int | float):
        return float(text)
    raw = str(text).strip().replace("_", "").replace(",", "")
    factor = 1.0
    if raw and raw[-1].lower() in SUFFIXES:
        factor = SUFFIXES[raw[-1].lower()]
        raw = raw[:-1]
    try:
        value = float(raw) * factor
    except ValueError:
        raise UsageError(
            f"bad {what} '{text}'",
            "expected a number with an optional k, M or B suffix",
            f"e.g. {what} 1.5M",
        ) from None
    if value < 0 or math.isnan(value) or math.isinf(value):
        raise UsageError(f"bad {what} '{text}'", "must be a finite number >= 0", f"e.g. {what} 1M")
    return value


@dataclass(frozen=True)
class Usage:
    """One month of the gateway stack's usage (averages are per request/invocation)."""

    requests: float = 1_000_000
    duration_ms: float = 40.0  # average billed duration of an invocation
    memory_mb: float = 512
    arch: str = "arm64"
    cold_start_rate: float = 0.01  # share of invocations with an INIT phase
    init_ms: float = 300.0  # billed INIT duration of one cold start
    invocations: float | None = None  # default: one per request
    api_units: float | None = None  # metered API GW requests; default from sizes
    request_bytes: float = 1024
    response_bytes: float = 2048
    log_bytes: float = 600  # function log bytes ingested per request (access line + platform lines)
    # API Gateway access-log bytes per request: the template's format filled with typical values
    # (a browser user agent: ~610) incl. 26 bytes of event overhead (tests/opskit/cost/test_model.py)
    access_log_bytes: float = 610
    apigw_rejected: float = 0.0  # requests a month API Gateway answered without calling Lambda
    log_class: str = "standard"  # or "infrequent-access" (every log group of the stack)
    log_retention_days: float = 7
    insights_queries: float = (
        30  # Logs Insights queries a month, each scanning one day of function logs
    )
    ddb_writes: float = 1.0  # WRU per request (rate limiter: one conditional write)
    ddb_reads: float = (
        0.0  # RRU per request: share of opaque-session requests x 1 (strongly consistent)
    )
    ddb_storage_gb: float = 0.05
    pitr: bool = False
    xray_sampling: float | None = None  # a flat share instead of the default rule (1/s + 5 %)
    xray_traces: float | None = None  # traces recorded a month, from logs
    xray_how: str = "measured from the XRAY lines (Sampled: true)"  # how xray_traces was found
    xray_retrieved: float = 0.0  # traces retrieved/scanned a month
    alarms: float = 28  # alarm metrics of the shipped baseline (base_usage counts the real file)
    custom_metrics: float = 6  # metrics its log metric filters publish
    metric_hours_share: float | None = None  # share of hours with data (default: from traffic)
    composite_alarms: float = 0
    anomaly_alarms: float = 0
    metric_data_requested: float = 0.0  # metrics a month fetched by GetMetricData (top --watch)
    secrets: float = 0  # Secrets Manager secrets the gateway reads (JwtSecretArn)
    dashboards: float = 1  # dashboards/gateway.json
    s3_gb: float = 0.05
    ecr_gb: float = 0.0

    def validate(self) -> Usage:
        if self.arch not in ARCHITECTURES:
            raise UsageError(
                f"bad architecture '{self.arch}'",
                f"expected {' or '.join(ARCHITECTURES)}",
                "e.g. --arch arm64",
            )
        if not 128 <= self.memory_mb <= 10240:
            raise UsageError(
                f"bad memory {self.memory_mb:g} MB",
                "Lambda allows 128 to 10240 MB",
                "e.g. --memory 512",
            )
        if self.log_class not in LOG_CLASSES:
            raise UsageError(
                f"bad log class '{self.log_class}'",
                f"expected {' or '.join(LOG_CLASSES)}",
                "e.g. --log-class infrequent-access",
            )
        for name in ("cold_start_rate", "xray_sampling", "metric_hours_share"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise UsageError(
                    f"bad {name.replace('_', '-')} {value:g}",
                    "must be between 0 and 1",
                    "e.g. 0.05",
                )
        return self

    @property
    def lambda_invocations(self) -> float:
        return self.requests if self.invocations is None else self.invocations

    @property
    def metered_api_requests(self) -> float:
        if self.api_units is not None:
            return self.api_units
        size = max(self.request_bytes, self.response_bytes)
        return self.requests * max(1, math.ceil(size / (512 * 1024)))

    @property
    def lambda_gb_seconds(self) -> float:
        gb = self.memory_mb / 1024
        run = self.lambda_invocations * self.duration_ms / 1000 * gb
        init = self.lambda_invocations * self.cold_start_rate * self.init_ms / 1000 * gb
        return run + init

    @property
    def function_log_gb(self) -> float:
        return self.requests * self.log_bytes / GB

    @property
    def access_log_gb(self) -> float:
        return (self.requests + self.apigw_rejected) * self.access_log_bytes / GB

    @property
    def log_ingest_gb(self) -> float:
        return self.function_log_gb + self.access_log_gb

    @property
    def cold_starts(self) -> float:
        return self.lambda_invocations * self.cold_start_rate

    def traced(self, rule: SamplingRule = DEFAULT_RULE) -> tuple[float, str]:
        """Traces recorded a month, and how that number was reached."""
        if self.xray_traces is not None:
            return self.xray_traces, self.xray_how
        if self.xray_sampling is not None:
            return (
                self.requests * self.xray_sampling,
                f"{self.xray_sampling:.0%} of requests (given)",
            )
        traced = rule.traced_evenly(self.requests)
        share = traced / self.requests if self.requests else 0.0
        return traced, f"{share:.1%} of requests: {rule.label()}, requests spread evenly"

    @property
    def hours_share(self) -> float:
        """Share of the month's hours a log-metric-filter metric has data."""
        if self.metric_hours_share is not None:
            return self.metric_hours_share
        return min(1.0, self.requests / HOURS_PER_MONTH)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LineItem:
    key: str  # rate key in the price table
    service: str
    item: str
    quantity: float
    unit: str
    billable: float  # after the free tier
    cost: float
    driver: str  # requests | gbs | bytes | fixed: how per-route costs are allocated
    source: str = ""
    as_of: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "item": self.item,
            "quantity": round(self.quantity, 6),
            "unit": self.unit,
            "billable": round(self.billable, 6),
            "cost_usd": round(self.cost, 6),
            "rate_key": self.key,
            "source": self.source,
            "as_of": self.as_of,
        }


@dataclass
class Estimate:
    usage: Usage
    items: list[LineItem]
    region: str
    free_tier: str
    price_origin: str
    approximate_prices: bool
    notes: list[str] = field(default_factory=list)
    credits: float = 0.0  # Free plan credits applied (free_tier == "credits")

    @property
    def gross(self) -> float:
        return sum(item.cost for item in self.items)

    @property
    def total(self) -> float:
        return self.gross - self.credits

    @property
    def fixed_monthly(self) -> float:
        """What the stack costs with no traffic at all: the fixed line items."""
        return sum(item.cost for item in self.items if item.driver == "fixed")

    @property
    def variable(self) -> float:
        return sum(item.cost for item in self.items if item.driver != "fixed")

    @property
    def variable_per_million(self) -> float:
        """Traffic-driven cost per million requests (what another million would add)."""
        return self.variable / self.usage.requests * 1e6 if self.usage.requests else 0.0

    @property
    def per_million_requests(self) -> float:
        return self.total / self.usage.requests * 1e6 if self.usage.requests else 0.0

    def by_service(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for item in self.items:
            out[item.service] = out.get(item.service, 0.0) + item.cost
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": True,
            "region": self.region,
            "free_tier": self.free_tier,
            "prices": self.price_origin,
            "approximate_prices": self.approximate_prices,
            "usage": self.usage.to_dict(),
            "line_items": [item.to_dict() for item in self.items],
            "total_usd": round(self.total, 6),
            "credits_usd": round(self.credits, 6),
            "fixed_monthly_usd": round(self.fixed_monthly, 6),
            "variable_usd": round(self.variable, 6),
            "variable_per_million_requests_usd": round(self.variable_per_million, 6),
            "per_million_requests_usd": round(self.per_million_requests, 6),
            "notes": self.notes,
        }


class _Allowances:
    """Always-free allowances still unused this month (some are shared between items)."""

    def __init__(self, prices: PriceTable, free_tier: str):
        check_free_tier(free_tier)
        self.left: dict[str, float] = {}
        if free_tier != "none":
            for key, entry in prices.free_tier.get("always", {}).items():
                self.left[key] = self.left.get(key, 0.0) + float(entry["amount"])

    def take(self, pool: str, quantity: float) -> float:
        """Use up to `quantity` of `pool`; returns the billable rest."""
        free = min(self.left.get(pool, 0.0), quantity)
        if free:
            self.left[pool] -= free
        return quantity - free


def check_free_tier(free_tier: str) -> None:
    if free_tier == "legacy":
        raise UsageError(
            "--free-tier legacy is obsolete",
            "the 12-month offers ended for every account created before 2025-07-15 "
            "(the last ones on 2026-07-15); newer accounts get Free plan credits instead",
            "use --free-tier always (always-free offers) or --free-tier credits --credits USD",
        )
    if free_tier not in FREE_TIERS:
        raise UsageError(
            f"bad --free-tier '{free_tier}'",
            f"expected one of {', '.join(FREE_TIERS)}",
            "e.g. --free-tier always",
        )


def estimate(
    usage: Usage, prices: PriceTable, free_tier: str = "none", credits: float = 0.0
) -> Estimate:
    """Price one month of `usage`. `credits` (USD) only with free_tier="credits"."""
    usage.validate()
    allowances = _Allowances(prices, free_tier)
    items: list[LineItem] = []
    notes: list[str] = []

    def add(key: str, item: str, quantity: float, driver: str, pool: str | None = None) -> None:
        rate = prices.rate(key)
        billable = allowances.take(pool or key, quantity)
        items.append(
            LineItem(
                key,
                rate.service,
                item,
                quantity,
                rate.unit,
                billable,
                rate.cost(billable),
                driver,
                rate.source,
                rate.as_of,
            )
        )

    million = 1e6
    rejected = (
        f", incl. {usage.apigw_rejected:,.0f} answered without Lambda"
        if usage.apigw_rejected
        else ""
    )
    add(
        "apigw_http_requests",
        f"HTTP API requests (512 KB metering{rejected})",
        (usage.metered_api_requests + usage.apigw_rejected) / million,
        "requests",
    )
    add("lambda_requests", "Lambda requests", usage.lambda_invocations / million, "requests")
    _lambda_duration(usage, prices, allowances, items)
    add(
        "dynamodb_write_units",
        "DynamoDB writes (rate limiter, sessions)",
        usage.requests * usage.ddb_writes / million,
        "requests",
    )
    add(
        "dynamodb_read_units",
        "DynamoDB reads (sessions)",
        usage.requests * usage.ddb_reads / million,
        "requests",
    )
    add("dynamodb_storage", "DynamoDB storage", usage.ddb_storage_gb, "fixed")
    if usage.pitr:
        add("dynamodb_pitr", "DynamoDB point-in-time recovery", usage.ddb_storage_gb, "fixed")
    ia = usage.log_class == "infrequent-access"
    suffix = " (Infrequent Access)" if ia else ""
    add(
        "logs_ingestion_lambda_ia" if ia else "logs_ingestion_lambda",
        f"CloudWatch Logs ingestion, Lambda function logs{suffix} (vended tiers)",
        usage.function_log_gb,
        "requests",
        pool="logs_gb",
    )
    add(
        "logs_ingestion_ia" if ia else "logs_ingestion",
        f"CloudWatch Logs ingestion, API Gateway access logs{suffix} (flat)",
        usage.access_log_gb,
        "requests",
        pool="logs_gb",
    )
    if ia:
        notes.append(
            "Infrequent Access log class: half the ingestion price, but no metric filters (the "
            "alarm baseline's log-metric-filter alarms stop), no subscription filters, no Live "
            "Tail, no embedded metric format; Logs Insights still works; the class is chosen when "
            "a log group is created and cannot be changed"
        )
    add(
        "logs_storage",
        f"CloudWatch Logs storage ({usage.log_retention_days:g} d retention)",
        usage.log_ingest_gb * usage.log_retention_days / DAYS_PER_MONTH,
        "requests",
        pool="logs_gb",
    )
    function_gb_per_day = usage.function_log_gb / DAYS_PER_MONTH
    add(
        "logs_insights_scanned",
        f"Logs Insights scans ({usage.insights_queries:g} queries x 1 day)",
        usage.insights_queries * function_gb_per_day,
        "requests",  # each scans a day of logs: grows with traffic
        pool="logs_gb",
    )
    traced, how = usage.traced()
    add("xray_traces_recorded", f"X-Ray traces recorded ({how})", traced / million, "requests")
    add(
        "xray_traces_retrieved",
        "X-Ray traces retrieved/scanned",
        usage.xray_retrieved / million,
        "fixed",
    )
    add("cloudwatch_alarm", "CloudWatch alarm metrics", usage.alarms, "fixed")
    if usage.composite_alarms:
        add(
            "cloudwatch_composite_alarm",
            "CloudWatch composite alarms",
            usage.composite_alarms,
            "fixed",
        )
    if usage.anomaly_alarms:
        add(
            "cloudwatch_anomaly_alarm",
            "CloudWatch anomaly-detection alarms (3 metrics each)",
            usage.anomaly_alarms,
            "fixed",
        )
    share = usage.hours_share
    add(
        "cloudwatch_custom_metric",
        "CloudWatch custom metrics (log metric filters"
        + (f", data in {share:.0%} of hours)" if share < 1 else ")"),
        usage.custom_metrics * share,
        "fixed",
    )
    if usage.metric_data_requested:
        add(
            "cloudwatch_get_metric_data",
            "CloudWatch GetMetricData (opskit top --watch, dashboards outside the console)",
            usage.metric_data_requested / 1000,
            "fixed",
        )
    add("cloudwatch_dashboard", "CloudWatch dashboards", usage.dashboards, "fixed")
    if usage.secrets:
        add(
            "secretsmanager_secret",
            "Secrets Manager secret (JWT signing key)",
            usage.secrets,
            "fixed",
        )
        add(
            "secretsmanager_api",
            "Secrets Manager GetSecretValue (once per cold start)",
            usage.cold_starts * usage.secrets / 10_000,
            "requests",
        )
    add("s3_storage", "S3 artifacts", usage.s3_gb, "fixed")
    add("ecr_storage", "ECR images", usage.ecr_gb, "fixed")
    add(
        "data_transfer_out",
        "Data transfer out (responses)",
        usage.requests * usage.response_bytes / GB,
        "bytes",
    )
    if prices.approximate:
        wanted = prices.requested_region or prices.region
        notes.append(
            f"no complete price table for {wanted}: us-east-1 rates used where missing (run `opskit --region {wanted} cost prices --refresh`)"
        )
    applied = 0.0
    if free_tier == "credits":
        gross = sum(i.cost for i in items)
        applied = min(max(credits, 0.0), gross)
        notes.append(
            f"Free plan credits: ${applied:,.2f} of ${credits:,.2f} applied this month "
            "(accounts created since 2025-07-15: $100 at sign-up + up to $100 earned, for 6 months "
            "on the Free plan; always-free offers applied first)"
        )
    elif credits:
        raise UsageError(
            "--credits without --free-tier credits",
            "credits are part of the Free plan model",
            "add --free-tier credits",
        )
    return Estimate(
        usage, items, prices.region, free_tier, prices.origin, prices.approximate, notes, applied
    )


def _lambda_duration(
    usage: Usage, prices: PriceTable, allowances: _Allowances, items: list[LineItem]
) -> None:
    """Run + INIT GB-s as one tiered quantity per architecture, shown as two lines."""
    gb = usage.memory_mb / 1024
    run_gbs = usage.lambda_invocations * usage.duration_ms / 1000 * gb
    init_gbs = usage.cold_starts * usage.init_ms / 1000 * gb
    gbs_key = f"lambda_gbs_{usage.arch}"
    rate = prices.rate(gbs_key)
    total_gbs = run_gbs + init_gbs
    billable_gbs = allowances.take("lambda_gbs", total_gbs)
    gbs_cost = rate.cost(billable_gbs)
    run_share = run_gbs / total_gbs if total_gbs else 1.0
    for label, quantity, part in (
        (
            f"Lambda duration {usage.arch} ({usage.memory_mb:g} MB x {usage.duration_ms:g} ms)",
            run_gbs,
            run_share,
        ),
        (
            f"Lambda INIT {usage.arch} ({usage.cold_start_rate:.2%} cold x {usage.init_ms:g} ms)",
            init_gbs,
            1 - run_share,
        ),
    ):
        items.append(
            LineItem(
                gbs_key,
                rate.service,
                label,
                quantity,
                rate.unit,
                billable_gbs * part,
                gbs_cost * part,
                "gbs",
                rate.source,
                rate.as_of,
            )
        )


@dataclass(frozen=True)
class RouteUsage:
    route: str
    requests: float  # per month
    gb_seconds: float  # per month
    response_bytes: float  # per month


def allocate_routes(result: Estimate, routes: list[RouteUsage]) -> list[dict[str, Any]]:
    """Split each line item over routes by its driver; fixed costs stay 'shared'."""
    total_requests = sum(r.requests for r in routes) or 1.0
    total_gbs = sum(r.gb_seconds for r in routes) or 1.0
    total_bytes = sum(r.response_bytes for r in routes) or 1.0
    by_driver: dict[str, float] = {}
    for item in result.items:
        by_driver[item.driver] = by_driver.get(item.driver, 0.0) + item.cost
    rows = []
    for route in sorted(routes, key=lambda r: -r.requests):
        cost = (
            by_driver.get("requests", 0.0) * route.requests / total_requests
            + by_driver.get("gbs", 0.0) * route.gb_seconds / total_gbs
            + by_driver.get("bytes", 0.0) * route.response_bytes / total_bytes
        )
        rows.append(
            {
                "route": route.route,
                "requests_month": round(route.requests),
                "share": round(route.requests / total_requests, 4),
                "cost_usd": round(cost, 6),
                "per_million_usd": round(cost / route.requests * 1e6, 4) if route.requests else 0.0,
            }
        )
    shared = by_driver.get("fixed", 0.0)
    rows.append(
        {
            "route": "(shared: alarms, metrics, dashboards, storage)",
            "requests_month": 0,
            "share": 0.0,
            "cost_usd": round(shared, 6),
            "per_million_usd": 0.0,
        }
    )
    return rows


def with_overrides(usage: Usage, **overrides: Any) -> Usage:
    return replace(usage, **{k: v for k, v in overrides.items() if v is not None})
