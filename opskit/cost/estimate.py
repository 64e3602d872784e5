"""Glue for `cost estimate`: the base usage from an environment, and the from-logs pipeline."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from opskit.config import Environment
from opskit.cost.fixed import FixedItems
from opskit.cost.logs import Projection, aggregate, project_month
from opskit.cost.model import Estimate, RouteUsage, Usage, allocate_routes, estimate
from opskit.pricing import PriceTable


def base_usage(env: Environment, fixed: FixedItems | None = None) -> Usage:
    """Defaults from the environment's stack parameters (memory, architecture, retention, PITR)
    and, when given, the alarm baseline's counts (alarm metrics, custom metrics)."""
    params = env.parameters
    usage = Usage()
    try:
        memory = float(params.get("MemorySize", usage.memory_mb))
    except ValueError:
        memory = usage.memory_mb
    try:
        retention = float(params.get("LogRetentionDays", usage.log_retention_days))
    except ValueError:
        retention = usage.log_retention_days
    arch = params.get("Architecture", usage.arch)
    pitr = str(params.get("EnablePointInTimeRecovery", "false")).lower() == "true"
    usage = replace(usage, memory_mb=memory, arch=arch, log_retention_days=retention, pitr=pitr)
    if fixed is not None:
        usage = replace(
            usage,
            alarms=float(fixed.alarm_metrics + 2 * fixed.high_resolution),  # high-res: 3x
            custom_metrics=float(fixed.custom_metrics),
        )
    return usage


@dataclass
class LogEstimate:
    result: Estimate
    projection: Projection
    routes: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        out = self.result.to_dict()
        out["from_logs"] = self.projection.summary()
        out["routes"] = self.routes
        out["notes"] = self.projection.notes + out["notes"]
        return out


def estimate_from_events(
    events: Iterable[tuple[int | None, str]],
    base: Usage,
    prices: PriceTable,
    free_tier: str,
    window_seconds: float | None,
    overrides: dict[str, Any],
    basis: str = "auto",
) -> LogEstimate:
    stats = aggregate(events)
    projection = project_month(stats, base, window_seconds, basis)
    usage = projection.usage
    routes = projection.routes
    if overrides.get("requests") is not None and usage.requests:
        # "What if traffic were N with this profile": scale every request-driven figure.
        ratio = overrides["requests"] / usage.requests
        usage = replace(
            usage,
            invocations=(usage.invocations or usage.requests) * ratio,
            api_units=None if usage.api_units is None else usage.api_units * ratio,
        )
        routes = [
            RouteUsage(r.route, r.requests * ratio, r.gb_seconds * ratio, r.response_bytes * ratio)
            for r in routes
        ]
    usage = replace(usage, **{k: v for k, v in overrides.items() if v is not None})
    projection.usage = usage
    result = estimate(usage, prices, free_tier)
    return LogEstimate(result, projection, allocate_routes(result, routes))
