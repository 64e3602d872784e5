"""Glue for `cost estimate`: the base usage from an environment, and the from-logs pipeline."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opskit.config import Environment
from opskit.cost.fixed import FixedItems
from opskit.cost.logs import Projection, aggregate, project_month
from opskit.cost.model import (
    ARCHITECTURES,
    Estimate,
    RouteUsage,
    Usage,
    allocate_routes,
    estimate,
)
from opskit.cost.whatif import WhatIf, apply_what_if, cpu_share
from opskit.errors import ConfigError
from opskit.pricing import PriceTable
from opskit.values import RETENTION_DAYS

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient


def base_usage(env: Environment, fixed: FixedItems | None = None) -> Usage:
    """Defaults from the environment's stack parameters (memory, architecture, retention, PITR)
    and, when given, the alarm baseline's counts (alarm metrics, custom metrics)."""
    params = env.parameters
    usage = Usage()
    memory = _parameter(env, "MemorySize", usage.memory_mb, lambda v: 128 <= v <= 10240, "1024")
    retention = _parameter(
        env, "LogRetentionDays", usage.log_retention_days, lambda v: v in RETENTION_DAYS, "30"
    )
    arch = str(params.get("Architecture", usage.arch))
    if arch not in ARCHITECTURES:
        raise _bad_parameter(
            env, "Architecture", arch, f"must be {' or '.join(ARCHITECTURES)}", "arm64"
        )
    pitr = str(params.get("EnablePointInTimeRecovery", "false")).lower() == "true"
    secrets = 1.0 if str(params.get("JwtSecretArn") or "").strip() else 0.0  # read per cold start
    usage = replace(
        usage,
        memory_mb=memory,
        arch=arch,
        log_retention_days=retention,
        pitr=pitr,
        secrets=secrets,
    )
    if fixed is not None:
        usage = replace(
            usage,
            alarms=float(fixed.alarm_metrics + 2 * fixed.high_resolution),  # high-res: 3x
            custom_metrics=float(fixed.custom_metrics),
        )
    return usage


def _parameter(
    env: Environment, key: str, default: float, valid: Callable[[float], bool], example: str
) -> float:
    """A numeric stack parameter from opskit.toml, as the model reads it; a bad one is the
    file's error (exit 3), never silently the default."""
    raw = env.parameters.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise _bad_parameter(env, key, raw, "must be a number", example) from None
    if not math.isfinite(value) or not valid(value):
        raise _bad_parameter(env, key, raw, "is outside what the template accepts", example)
    return value


def _bad_parameter(env: Environment, key: str, raw: Any, why: str, example: str) -> ConfigError:
    return ConfigError(
        f"opskit.toml [env.{env.name}.parameters] {key} = {raw!r}",
        why,
        f'e.g. {key} = "{example}"; cloudformation/gateway.yaml declares what it accepts',
    )


@dataclass
class LogEstimate:
    result: Estimate
    projection: Projection
    routes: list[dict[str, Any]]
    users: list[dict[str, Any]] = field(default_factory=list)
    baseline: Estimate | None = None  # the measured configuration, when a what-if was asked

    def to_dict(self) -> dict[str, Any]:
        out = self.result.to_dict()
        out["from_logs"] = self.projection.summary()
        out["routes"] = self.routes
        if self.users:
            out["users"] = self.users
        if self.baseline is not None:
            out["what_if"] = {
                "measured_total_usd": round(self.baseline.total, 6),
                "what_if_total_usd": round(self.result.total, 6),
                "delta_usd": round(self.result.total - self.baseline.total, 6),
            }
        out["notes"] = self.projection.notes + out["notes"]
        return out


def top_users(rows: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    """The `top` users by cost, the rest folded into one row (the shared row kept last)."""
    people = [r for r in rows if not r["route"].startswith("(shared")]
    shared = [r for r in rows if r["route"].startswith("(shared")]
    people.sort(key=lambda r: -r["cost_usd"])
    shown = people[:top]
    rest = people[top:]
    if rest:
        requests = sum(r["requests_month"] for r in rest)
        cost = sum(r["cost_usd"] for r in rest)
        shown.append(
            {
                "route": f"({len(rest)} other users)",
                "requests_month": requests,
                "share": round(sum(r["share"] for r in rest), 4),
                "cost_usd": round(cost, 6),
                "per_million_usd": round(cost / requests * 1e6, 4) if requests else 0.0,
            }
        )
    return [
        {"user": r["route"], **{k: v for k, v in r.items() if k != "route"}} for r in shown + shared
    ]


def estimate_from_events(
    events: Iterable[tuple[int | None, str]],
    base: Usage,
    prices: PriceTable,
    free_tier: str,
    window_seconds: float | None,
    overrides: dict[str, Any],
    basis: str = "auto",
    *,
    access_events: Iterable[tuple[int | None, str]] | None = None,
    credits: float = 0.0,
    what_if: WhatIf | None = None,
    top: int | None = None,
) -> LogEstimate:
    """The month projected from the function's events (and API Gateway's access lines)."""
    stats = aggregate(events)
    if access_events is not None:
        stats.merge_access_logs(aggregate(access_events))
    projection = project_month(stats, base, window_seconds, basis)
    usage = projection.usage
    routes, users = projection.routes, projection.users
    if overrides.get("requests") is not None and usage.requests:
        # "What if traffic were N with this profile": scale every request-driven figure.
        ratio = overrides["requests"] / usage.requests
        usage = replace(
            usage,
            invocations=(usage.invocations or usage.requests) * ratio,
            api_units=None if usage.api_units is None else usage.api_units * ratio,
            apigw_rejected=usage.apigw_rejected * ratio,
            xray_traces=None if usage.xray_traces is None else usage.xray_traces * ratio,
        )
        routes, users = _scaled(routes, ratio), _scaled(users, ratio)
    if overrides.get("xray_sampling") is not None:
        usage = replace(usage, xray_traces=None)  # a given share replaces the measured count
    usage = replace(usage, **{k: v for k, v in overrides.items() if v is not None})
    baseline = None
    if what_if is not None and what_if.active:
        baseline = estimate(usage, prices, free_tier, credits)
        own = cpu_share(stats.latency_ms, stats.upstream_latency_ms)
        usage, note = apply_what_if(usage, what_if, own)
        projection.notes.append(note)
    projection.usage = usage
    result = estimate(usage, prices, free_tier, credits)
    user_rows = top_users(allocate_routes(result, users), top) if top else []
    return LogEstimate(result, projection, allocate_routes(result, routes), user_rows, baseline)


def _scaled(rows: list[RouteUsage], ratio: float) -> list[RouteUsage]:
    return [
        RouteUsage(r.route, r.requests * ratio, r.gb_seconds * ratio, r.response_bytes * ratio)
        for r in rows
    ]


def estimate_local_traffic(
    logs: CloudWatchLogsClient,
    env: Environment,
    prices: PriceTable,
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    """`opskit --env local cost`: the model applied to what the local gateway served in
    [start, end) (the local account has no billing data), as the estimate document."""
    from opskit.cost.fixed import fixed_items_or_options
    from opskit.cost.logs import iter_cloudwatch_events, optional_events

    events = iter_cloudwatch_events(logs, env.function_log_group, start, end)
    access = optional_events(logs, env.access_log_group, start, end)
    fixed, fixed_note = fixed_items_or_options(env, None, None)
    # The rate over the period, or over the traffic's own span when that is shorter (labelled).
    result = estimate_from_events(
        events,
        base_usage(env, fixed),
        prices,
        "none",
        (end - start).total_seconds(),
        {},
        access_events=access,
    )
    data = result.to_dict()
    data["notes"].append(fixed_note)
    data["source"] = (
        "estimate of the local traffic: cost model applied to what the local gateway served "
        "(the local account has no billing data)"
    )
    return data
