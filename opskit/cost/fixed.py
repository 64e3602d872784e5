"""The fixed monthly items the project itself creates: alarms and custom metrics.

Counted from the alarm baseline `opskit alarms apply` ships (`opskit/alarms/baseline.toml`,
resolved by the alarms loader with the environment's `[alarms]` overrides, so disabled alarms
do not count), the way CloudWatch bills them:
- an alarm is billed per alarm metric: a single-metric alarm is 1, a metric-math alarm is
  billed for every metric its expression uses (the expression itself is free);
- each log metric filter publishes a custom metric (one per namespace + name; the baseline's
  filters have no dimensions), billed at the custom-metric price.
Light imports only (tomllib, re): no boto3, no AWS calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opskit.config import Environment
from opskit.errors import ConfigError

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@dataclass(frozen=True)
class FixedItems:
    alarms: int  # alarms the baseline creates
    alarm_metrics: int  # what CloudWatch bills: metrics per alarm, summed
    high_resolution: int  # alarm metrics with a period under 60 s (billed at 3x)
    custom_metrics: int  # metrics the log metric filters publish
    source: str

    def note(self) -> str:
        text = (
            f"alarms: {self.alarm_metrics} alarm metrics from {self.alarms} alarms in {self.source} "
            f"(metric-math alarms billed per metric); custom metrics: {self.custom_metrics} "
            "from its log metric filters"
        )
        if self.high_resolution:
            text += f"; {self.high_resolution} high-resolution alarm metrics counted 3x"
        return text


def _names(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, str):
        found.update(_PLACEHOLDER.findall(value))
    elif isinstance(value, dict):
        for item in value.values():
            _names(item, found)
    elif isinstance(value, list):
        for item in value:
            _names(item, found)
    return found


def baseline_fixed_items(env: Environment, alarm_file: Path | None = None) -> FixedItems:
    """What the alarm baseline creates for `env` (no stack needed: placeholders get stand-ins)."""
    from opskit.alarms.spec import (
        alarm_overrides,
        custom_domain_context,
        load_alarm_set,
        read_alarm_file,
    )

    document, source = read_alarm_file(alarm_file)
    # Every placeholder gets a value so that no alarm is skipped: the deployed stack has them all.
    context = {name: f"<{name}>" for name in _names(document, set())}
    context.update(
        Stack=env.stack_name,
        Region=env.region,
        FunctionName=env.function_name,
        FunctionLogGroupName=env.function_log_group,
        GatewayNamespace=f"Opskit/Gateway/{env.stack_name}",
    )
    # ... except what an alarm is conditional on (`when`): e.g. the certificate alarm exists
    # only for a stack with a custom domain.
    conditional = {str(raw["when"]) for raw in document.get("alarm") or [] if raw.get("when")}
    for name in conditional - set(custom_domain_context(env.parameters)):
        context.pop(name, None)
    variables = {
        str(raw["threshold_of"]): 1.0  # thresholds do not change the bill
        for raw in document.get("alarm") or []
        if isinstance(raw, dict) and raw.get("threshold_of")
    }
    alarm_set = load_alarm_set(
        document,
        stack=env.stack_name,
        context=context,
        overrides=alarm_overrides(env.settings),
        variables=variables,
        source=source,
    )
    metrics, high = 0, 0
    for alarm in alarm_set.alarms:
        queries = alarm.params.get("Metrics")
        count = sum(1 for q in queries if "MetricStat" in q) if queries else 1
        periods = [q["MetricStat"]["Period"] for q in queries or [] if "MetricStat" in q]
        period = min(periods) if periods else alarm.params.get("Period", 60)
        metrics += count
        if period < 60:
            high += count
    custom = sum(len(names) for names in alarm_set.custom_metrics().values())
    shown = "opskit/alarms/baseline.toml" if alarm_file is None else str(alarm_file)
    return FixedItems(len(alarm_set.alarms), metrics, high, custom, shown)


def fixed_items_or_options(
    env: Environment, alarms: float | None, custom_metrics: float | None
) -> tuple[FixedItems | None, str]:
    """The baseline's counts, unless both are given as options; a note says which was used."""
    if alarms is not None and custom_metrics is not None:
        return None, "alarms and custom metrics from --alarms / --custom-metrics"
    try:
        items = baseline_fixed_items(env)
    except ConfigError as exc:
        raise ConfigError(
            "cannot count the alarm baseline's alarms",
            f"{exc.what}: {exc.why}" if exc.why else exc.what,
            "fix it, or pass --alarms N and --custom-metrics N",
        ) from None
    note = items.note()
    if alarms is not None:
        note += " (alarm metrics overridden by --alarms)"
    if custom_metrics is not None:
        note += " (custom metrics overridden by --custom-metrics)"
    return items, note
