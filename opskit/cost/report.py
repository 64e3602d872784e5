"""The cost report: real spend from Cost Explorer, by group, with month-over-month deltas,
daily totals for a chart and, for the current month, the forecast to month end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from opskit.config import Environment
from opskit.cost.explorer import CostExplorer
from opskit.cost.periods import (
    Period,
    comparison_period,
    month_remainder,
    validate_for_cost_explorer,
)
from opskit.errors import AwsError, ConfigError, UsageError

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


# Cost Explorer RECORD_TYPE values shown apart from usage (everything else is usage: Usage,
# DiscountedUsage, SavingsPlanCoveredUsage, Fee, Support, ...).
RECORD_KINDS = {"Credit": "credits", "Refund": "refunds", "Tax": "tax"}
KINDS = ("usage", "credits", "refunds", "tax")
EXCLUDED_BY_FLAG = ("credits", "refunds")


@dataclass(frozen=True)
class ReportRequest:
    period: Period
    metric: str = "unblended"
    group_by: tuple[str, ...] = ("service",)
    all_account: bool = False
    exclude_credits: bool = False


@dataclass
class CostReport:
    period: Period
    asked: Period  # the part of the period that has started (month to date)
    previous: Period  # like for like: the same days of the previous period
    metric: str
    group_by: tuple[str, ...]
    rows: list[dict[str, Any]]  # usage by group, compared like for like
    kinds: dict[str, float]  # usage, credits, refunds, tax: this period
    previous_kinds: dict[str, float]
    daily: list[tuple[date, float]]
    estimated: bool
    forecast: dict[str, float | None] | None
    scope: dict[str, str] | None
    exclude_credits: bool = False
    previous_full: Period | None = None  # the whole previous month, when `previous` is part of it
    untaggable: dict[str, Any] | None = None  # model estimate of what the tags cannot see
    notes: list[str] = field(default_factory=list)

    def _net(self, kinds: dict[str, float]) -> float:
        return sum(
            v for k, v in kinds.items() if not (self.exclude_credits and k in EXCLUDED_BY_FLAG)
        )

    @property
    def total(self) -> float:
        return self._net(self.kinds)

    @property
    def previous_total(self) -> float:
        return self._net(self.previous_kinds)

    @property
    def like_for_like(self) -> bool:
        return self.previous_full is not None

    def comparison_label(self) -> str:
        if self.like_for_like:
            return f"{self.previous.label()} (the same {self.previous.days} days)"
        return self.previous.label()

    def table_rows(self) -> list[dict[str, Any]]:
        """Every row every format shows: usage by group, then credits, refunds, tax, totals."""
        rows = [dict(r, kind="usage") for r in self.rows]
        for kind in KINDS[1:]:
            now, then = self.kinds.get(kind, 0.0), self.previous_kinds.get(kind, 0.0)
            if now or then:
                excluded = self.exclude_credits and kind in EXCLUDED_BY_FLAG
                rows.append(
                    _row(f"({kind}{', excluded' if excluded else ''})", now, then) | {"kind": kind}
                )
        rows.append(_row("TOTAL", self.total, self.previous_total) | {"kind": "total"})
        if self.untaggable:
            amount = self.untaggable["cost_usd"]
            rows.append(
                {
                    "group": "(untaggable, estimated)",
                    "cost_usd": round(amount, 4),
                    "previous_usd": None,
                    "delta_usd": None,
                    "delta_pct": None,
                    "kind": "estimate",
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.as_ce(),
            "asked_period": self.asked.as_ce(),
            "previous_period": self.previous.as_ce(),
            "comparison": "like-for-like (same days of the previous period)"
            if self.like_for_like
            else "previous period",
            "previous_full_period": None
            if self.previous_full is None
            else self.previous_full.as_ce(),
            "metric": METRICS[self.metric],
            "group_by": list(self.group_by),
            "scope": self.scope or "all-account",
            "estimated": self.estimated,
            "exclude_credits": self.exclude_credits,
            "rows": self.table_rows(),
            "record_types": {k: round(self.kinds.get(k, 0.0), 6) for k in KINDS},
            "previous_record_types": {k: round(self.previous_kinds.get(k, 0.0), 6) for k in KINDS},
            "daily": [{"date": d.isoformat(), "cost_usd": round(v, 6)} for d, v in self.daily],
            "total_usd": round(self.total, 6),
            "previous_total_usd": round(self.previous_total, 6),
            "untaggable_estimate": self.untaggable,
            "forecast": self.forecast,
            "notes": self.notes,
        }


def _row(label: str, now: float, then: float) -> dict[str, Any]:
    return {
        "group": label,
        "cost_usd": round(now, 4),
        "previous_usd": round(then, 4),
        "delta_usd": round(now - then, 4),
        "delta_pct": round((now - then) / then * 100, 1) if then else None,
    }


def parse_group_by(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    groups = tuple(values) or ("service",)
    if len(groups) > 2:
        raise UsageError(
            "too many --group-by",
            f"{len(groups)} given",
            "Cost Explorer groups by at most two keys",
        )
    for group in groups:
        if group not in DIMENSIONS and not (group.startswith("tag:") and len(group) > 4):
            raise UsageError(
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


def _record_kind(record_type: str) -> str:
    return RECORD_KINDS.get(record_type, "usage")


@dataclass
class _Sums:
    by_group: dict[str, float] = field(default_factory=dict)  # usage only
    kinds: dict[str, float] = field(default_factory=dict)
    daily: dict[date, float] = field(default_factory=dict)  # usage only
    estimated: bool = False


def _sum_groups(response: dict[str, Any], metric_name: str, groups: int, split: bool) -> _Sums:
    """Usage by group, and every record type's total. With `split` the last group key is the
    RECORD_TYPE (a response without it, e.g. the emulator's, counts as usage)."""
    sums = _Sums()
    for result in response.get("ResultsByTime", []):
        day = date.fromisoformat(result["TimePeriod"]["Start"][:10])  # a day is keyed by its start
        sums.estimated = sums.estimated or bool(result.get("Estimated"))
        entries = result.get("Groups") or []
        if not entries:
            amount = float(result.get("Total", {}).get(metric_name, {}).get("Amount", 0) or 0)
            entries = [{"Keys": ["(total)"], "_amount": amount}] if amount else []
            sums.daily.setdefault(day, 0.0)
        for group in entries:
            amount = group.get("_amount")
            if amount is None:
                amount = float(group.get("Metrics", {}).get(metric_name, {}).get("Amount", 0) or 0)
            keys = list(group.get("Keys", []))
            kind = "usage"
            if split and len(keys) > groups:
                kind = _record_kind(keys.pop())
            sums.kinds[kind] = sums.kinds.get(kind, 0.0) + amount
            if kind != "usage":
                continue
            label = _label(keys)
            sums.by_group[label] = sums.by_group.get(label, 0.0) + amount
            sums.daily[day] = sums.daily.get(day, 0.0) + amount
    return sums


def _kinds_only(response: dict[str, Any], metric_name: str, period: Period) -> dict[str, float]:
    """Record-type totals of the days of `period` (a RECORD_TYPE-grouped daily response)."""
    kinds: dict[str, float] = {}
    for result in response.get("ResultsByTime", []):
        if not period.contains(date.fromisoformat(result["TimePeriod"]["Start"][:10])):
            continue
        for group in result.get("Groups") or []:
            keys = group.get("Keys") or ["Usage"]
            amount = float(group.get("Metrics", {}).get(metric_name, {}).get("Amount", 0) or 0)
            kind = _record_kind(keys[-1])
            kinds[kind] = kinds.get(kind, 0.0) + amount
    return kinds


NOT_USAGE = {"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": sorted(RECORD_KINDS)}}}
NOT_CREDITS = {"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit", "Refund"]}}}


def _and(*filters: dict[str, Any] | None) -> dict[str, Any] | None:
    terms: list[dict[str, Any]] = []
    for item in filters:
        if item is None:
            continue
        terms.extend(item.get("And", [item]))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else {"And": terms}


def validate_request(request: ReportRequest, today: date) -> tuple[str, ...]:
    """Every check that needs no AWS call, so a bad request costs nothing."""
    if request.metric not in METRICS:
        raise UsageError(
            f"bad --metric '{request.metric}'",
            f"expected one of {', '.join(METRICS)}",
            "e.g. --metric amortized",
        )
    validate_for_cost_explorer(request.period, today)
    return parse_group_by(request.group_by)


def build_report(
    explorer: CostExplorer,
    env: Environment,
    request: ReportRequest,
    today: date,
    untaggable: dict[str, Any] | None = None,
) -> CostReport:
    """The report in the fewest paid requests: one GetCostAndUsage per period (usage and
    record types together; two with two --group-by), the tag check, and the forecast."""
    groups = validate_request(request, today)
    tag_keys = [g[4:] for g in groups if g.startswith("tag:")]
    scope = None if request.all_account else env.tags
    if not request.all_account:
        tag_keys = sorted(set(tag_keys) | set(SCOPE_TAGS))
    if tag_keys:
        check_tags_active(explorer, tag_keys)
    metric_name = METRICS[request.metric]
    period = request.period
    notes: list[str] = []
    asked = period.clip(today + timedelta(days=1))  # only days that exist
    previous, previous_full = comparison_period(period, today)
    split = len(groups) < 2  # RECORD_TYPE fits in as the second GroupBy
    base_filter = scope_filter(env) if scope is not None else None

    def query(p: Period) -> _Sums:
        body: dict[str, Any] = {
            "TimePeriod": p.as_ce(),
            "Granularity": "DAILY",
            "Metrics": [metric_name],
            "GroupBy": [group_definition(g) for g in groups]
            + ([{"Type": "DIMENSION", "Key": "RECORD_TYPE"}] if split else []),
        }
        wanted = base_filter if split else _and(base_filter, NOT_USAGE)
        if wanted is not None:
            body["Filter"] = wanted
        return _sum_groups(explorer.cost_and_usage(body, p.end), metric_name, len(groups), split)

    current = query(asked)
    before = query(previous)
    if split:
        kinds, previous_kinds = current.kinds, before.kinds
    else:
        # Two --group-by leave no room for RECORD_TYPE: one more request, by day over both
        # periods, gives credits, refunds and tax (the usage rows exclude them).
        span = Period(min(asked.start, previous.start), max(asked.end, previous.end))
        by_kind: dict[str, Any] = {
            "TimePeriod": span.as_ce(),
            "Granularity": "DAILY",
            "Metrics": [metric_name],
            "GroupBy": [{"Type": "DIMENSION", "Key": "RECORD_TYPE"}],
        }
        if base_filter is not None:
            by_kind["Filter"] = base_filter
        response = explorer.cost_and_usage(by_kind, span.end)
        kinds = _kinds_only(response, metric_name, asked)
        previous_kinds = _kinds_only(response, metric_name, previous)
    open_period = period.contains(today)
    estimated = current.estimated or open_period
    rows = [
        _row(label, current.by_group.get(label, 0.0), before.by_group.get(label, 0.0))
        for label in sorted(
            set(current.by_group) | set(before.by_group),
            key=lambda k: -current.by_group.get(k, 0.0),
        )
    ]
    for kind in ("credits", "refunds"):
        if kinds.get(kind) or previous_kinds.get(kind):
            notes.append(
                f"{kind}: {kinds.get(kind, 0.0):+,.2f} USD this period, "
                f"{previous_kinds.get(kind, 0.0):+,.2f} before; shown apart from usage"
                + (
                    ""
                    if request.exclude_credits
                    else " (in the total; --exclude-credits to leave out)"
                )
            )
    forecast = None
    if open_period and period.is_whole_month():
        forecast = _forecast(
            explorer,
            env,
            request,
            scope,
            today,
            sum(
                v
                for k, v in kinds.items()
                if not (request.exclude_credits and k in EXCLUDED_BY_FLAG)
            ),
            notes,
        )
    report = CostReport(
        period=period,
        asked=asked,
        previous=previous,
        metric=request.metric,
        group_by=groups,
        rows=rows,
        kinds=kinds,
        previous_kinds=previous_kinds,
        daily=[(day, current.daily.get(day, 0.0)) for day in asked.iter_days()],
        estimated=estimated,
        forecast=forecast,
        scope=scope,
        exclude_credits=request.exclude_credits,
        previous_full=previous_full,
        untaggable=untaggable if scope is not None else None,
        notes=notes,
    )
    if report.like_for_like:
        notes.append(
            f"compared like for like: {asked.label()} with the same {previous.days} days of "
            f"{previous_full.label() if previous_full else previous.label()} (today counts as a whole day)"
        )
    if report.untaggable:
        notes.append(report.untaggable["label"])
    return report


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
    if request.exclude_credits:
        body["Filter"] = _and(body.get("Filter"), NOT_CREDITS)
    try:
        response = explorer.forecast(body)
    except (AwsError, ConfigError) as exc:  # the rest of the report stands without it
        notes.append(f"no forecast: {exc.format_line()}")
        return None
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
