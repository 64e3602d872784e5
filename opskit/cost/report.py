"""The cost report: real spend from Cost Explorer, by group, with month-over-month deltas,
daily totals for a chart and, for the current month, the forecast to month end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from opskit.config import Environment
from opskit.cost.explorer import CostExplorer
from opskit.cost.periods import Period, month_remainder, previous_period
from opskit.errors import AwsError, ConfigError

METRICS = {
    "unblended": "UnblendedCost",
    "amortized": "AmortizedCost",
    "net-unblended": "NetUnblendedCost",
}
FORECAST_METRICS = {
    "unblended": "UNBLENDED_COST",
    "amortized": "AMORTIZED_COST",
    "net-unblended": "NET_UNBLENDED_COST",
}
DIMENSIONS = {"service": "SERVICE", "usage-type": "USAGE_TYPE", "region": "REGION"}
SCOPE_TAGS = ("Project", "Environment")


@dataclass(frozen=True)
class ReportRequest:
    period: Period
    metric: str = "unblended"
    group_by: tuple[str, ...] = ("service",)
    all_account: bool = False


@dataclass
class CostReport:
    period: Period
    previous: Period
    metric: str
    group_by: tuple[str, ...]
    rows: list[dict[str, Any]]
    daily: list[tuple[date, float]]
    total: float
    previous_total: float
    estimated: bool
    forecast: dict[str, float | None] | None
    scope: dict[str, str] | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.as_ce(),
            "previous_period": self.previous.as_ce(),
            "metric": METRICS[self.metric],
            "group_by": list(self.group_by),
            "scope": self.scope or "all-account",
            "estimated": self.estimated,
            "rows": self.rows,
            "daily": [{"date": d.isoformat(), "cost_usd": round(v, 6)} for d, v in self.daily],
            "total_usd": round(self.total, 6),
            "previous_total_usd": round(self.previous_total, 6),
            "forecast": self.forecast,
            "notes": self.notes,
        }


def parse_group_by(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    groups = tuple(values) or ("service",)
    if len(groups) > 2:
        raise ConfigError(
            "too many --group-by",
            f"{len(groups)} given",
            "Cost Explorer groups by at most two keys",
        )
    for group in groups:
        if group not in DIMENSIONS and not (group.startswith("tag:") and len(group) > 4):
            raise ConfigError(
                f"bad --group-by '{group}'",
                "expected service, usage-type, region or tag:KEY",
                "e.g. --group-by service --group-by tag:Environment",
            )
    return groups


def group_definition(group: str) -> dict[str, str]:
    if group.startswith("tag:"):
        return {"Type": "TAG", "Key": group[4:]}
    return {"Type": "DIMENSION", "Key": DIMENSIONS[group]}


def scope_filter(env: Environment) -> dict[str, Any]:
    return {
        "And": [
            {"Tags": {"Key": key, "Values": [env.tags[key]], "MatchOptions": ["EQUALS"]}}
            for key in SCOPE_TAGS
        ]
    }


def check_tags_active(explorer: CostExplorer, keys: list[str]) -> None:
    """A tag that is not an active cost allocation tag silently groups everything as untagged."""
    status = explorer.cost_allocation_tags(keys)
    inactive = [key for key in keys if status.get(key) != "Active"]
    if inactive:
        names = ", ".join(inactive)
        args = " ".join(f"TagKey={key},Status=Active" for key in inactive)
        raise AwsError(
            f"tag {names} is not an active cost allocation tag",
            "Cost Explorer cannot filter or group by it (spend would show as untagged)",
            f"activate it: `aws ce update-cost-allocation-tags-status --cost-allocation-tags-status {args}` "
            "(costs are tagged from activation on, allow 24 h), or pass --all-account",
        )


def _label(keys: list[str]) -> str:
    parts = []
    for key in keys:
        if "$" in key:  # tag groups come back as "Key$value"
            tag, _, value = key.partition("$")
            parts.append(value or f"(no {tag})")
        else:
            parts.append(key or "(none)")
    return " / ".join(parts)


def _sum_groups(
    response: dict[str, Any], metric_name: str
) -> tuple[dict[str, float], dict[date, float], bool]:
    by_group: dict[str, float] = {}
    daily: dict[date, float] = {}
    estimated = False
    for result in response.get("ResultsByTime", []):
        day = date.fromisoformat(result["TimePeriod"]["Start"][:10])  # a day is keyed by its start
        estimated = estimated or bool(result.get("Estimated"))
        groups = result.get("Groups") or []
        if groups:
            for group in groups:
                amount = float(group.get("Metrics", {}).get(metric_name, {}).get("Amount", 0) or 0)
                label = _label(group.get("Keys", []))
                by_group[label] = by_group.get(label, 0.0) + amount
                daily[day] = daily.get(day, 0.0) + amount
        else:
            amount = float(result.get("Total", {}).get(metric_name, {}).get("Amount", 0) or 0)
            if amount:
                by_group["(total)"] = by_group.get("(total)", 0.0) + amount
            daily[day] = daily.get(day, 0.0) + amount
    return by_group, daily, estimated


def build_report(
    explorer: CostExplorer, env: Environment, request: ReportRequest, today: date
) -> CostReport:
    if request.metric not in METRICS:
        raise ConfigError(
            f"bad --metric '{request.metric}'",
            f"expected one of {', '.join(METRICS)}",
            "e.g. --metric amortized",
        )
    groups = parse_group_by(request.group_by)
    tag_keys = [g[4:] for g in groups if g.startswith("tag:")]
    scope = None if request.all_account else env.tags
    if not request.all_account:
        tag_keys = sorted(set(tag_keys) | set(SCOPE_TAGS))
    if tag_keys:
        check_tags_active(explorer, tag_keys)
    metric_name = METRICS[request.metric]
    period = request.period
    notes: list[str] = []
    if period.start > today:
        raise ConfigError(
            f"period {period.label()} is in the future",
            f"today is {today.isoformat()}",
            "pick a period that has started",
        )
    # Ask only for days that exist: Cost Explorer rejects an End far beyond today.
    asked = period.clip(today + timedelta(days=1))
    previous = previous_period(period)

    def query(p: Period) -> dict[str, Any]:
        body: dict[str, Any] = {
            "TimePeriod": p.as_ce(),
            "Granularity": "DAILY",
            "Metrics": [metric_name],
            "GroupBy": [group_definition(g) for g in groups],
        }
        if scope is not None:
            body["Filter"] = scope_filter(env)
        return explorer.cost_and_usage(body, p.end)

    current, daily, estimated = _sum_groups(query(asked), metric_name)
    before, _, _ = _sum_groups(query(previous), metric_name)
    open_period = period.contains(today)
    estimated = estimated or open_period
    rows = []
    for label in sorted(set(current) | set(before), key=lambda k: -current.get(k, 0.0)):
        now, then = current.get(label, 0.0), before.get(label, 0.0)
        rows.append(
            {
                "group": label,
                "cost_usd": round(now, 4),
                "previous_usd": round(then, 4),
                "delta_usd": round(now - then, 4),
                "delta_pct": round((now - then) / then * 100, 1) if then else None,
            }
        )
    forecast = None
    if open_period and period.is_whole_month():
        forecast = _forecast(explorer, env, request, scope, today, sum(current.values()), notes)
    days = [(day, daily.get(day, 0.0)) for day in asked.iter_days()]
    return CostReport(
        period=period,
        previous=previous,
        metric=request.metric,
        group_by=groups,
        rows=rows,
        daily=days,
        total=sum(current.values()),
        previous_total=sum(before.values()),
        estimated=estimated,
        forecast=forecast,
        scope=scope,
        notes=notes,
    )


def _forecast(
    explorer: CostExplorer,
    env: Environment,
    request: ReportRequest,
    scope: Any,
    today: date,
    month_to_date: float,
    notes: list[str],
) -> dict[str, float | None] | None:
    window = month_remainder(today)
    body: dict[str, Any] = {
        "TimePeriod": window.as_ce(),
        "Metric": FORECAST_METRICS[request.metric],
        "Granularity": "MONTHLY",
        "PredictionIntervalLevel": 80,
    }
    if scope is not None:
        body["Filter"] = scope_filter(env)
    try:
        response = explorer.forecast(body)
    except AwsError as exc:
        if "no data" in exc.what:
            notes.append("no forecast: Cost Explorer needs more history for this scope")
            return None
        raise
    remaining = float(response.get("Total", {}).get("Amount", 0) or 0)
    lower = sum(
        float(r.get("PredictionIntervalLowerBound", 0) or 0)
        for r in response.get("ForecastResultsByTime", [])
    )
    upper = sum(
        float(r.get("PredictionIntervalUpperBound", 0) or 0)
        for r in response.get("ForecastResultsByTime", [])
    )
    return {
        "month_to_date_usd": round(month_to_date, 4),
        "remaining_usd": round(remaining, 4),
        "month_end_usd": round(month_to_date + remaining, 4),
        "month_end_low_usd": round(month_to_date + lower, 4) if lower else None,
        "month_end_high_usd": round(month_to_date + upper, 4) if upper else None,
    }
