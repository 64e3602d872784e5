"""Desired vs existing: what to create, update, delete, leave alone. Pure functions, no AWS calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opskit.alarms.spec import AlarmSet, DesiredAlarm, DesiredFilter, marker

# The put_metric_alarm fields we own and compare (describe_alarms returns these names too).
ALARM_FIELDS = (
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "Namespace",
    "MetricName",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "Metrics",
)
LIST_FIELDS = {"AlarmActions", "OKActions", "InsufficientDataActions", "Dimensions", "Metrics"}


@dataclass(frozen=True)
class Change:
    action: str  # create | update | delete | unchanged
    kind: str  # alarm | metric-filter | sns-topic | topic-policy | subscription
    name: str
    detail: str = ""


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    alarms_to_put: list[dict[str, Any]] = field(default_factory=list)
    alarms_to_delete: list[str] = field(default_factory=list)
    filters_to_put: list[DesiredFilter] = field(default_factory=list)
    filters_to_delete: list[tuple[str, str]] = field(default_factory=list)  # (log group, name)
    existing_arns: dict[str, str] = field(default_factory=dict)  # alarms to update: name -> ARN

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action != "unchanged"]

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "update": 0, "delete": 0, "unchanged": 0}
        for change in self.changes:
            out[change.action] += 1
        return out


def _norm_dims(dims: Any) -> list[tuple[str, str]]:
    return sorted((d["Name"], d["Value"]) for d in dims or [])


def _norm_query(query: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"Id": query["Id"], "ReturnData": query.get("ReturnData", True)}
    for key in ("Expression", "Label", "Period", "AccountId"):
        if query.get(key) not in (None, ""):
            out[key] = query[key]
    stat = query.get("MetricStat")
    if stat:
        metric = stat["Metric"]
        out["MetricStat"] = {
            "Namespace": metric.get("Namespace"),
            "MetricName": metric.get("MetricName"),
            "Dimensions": _norm_dims(metric.get("Dimensions")),
            "Period": stat.get("Period"),
            "Stat": stat.get("Stat"),
            "Unit": stat.get("Unit"),
        }
    return out


def normalize_alarm(alarm: Mapping[str, Any]) -> dict[str, Any]:
    """The comparable view of an alarm (desired kwargs or a describe_alarms entry)."""
    out: dict[str, Any] = {}
    for key in ALARM_FIELDS:
        value = alarm.get(key)
        if key == "Dimensions":
            value = _norm_dims(value)
        elif key == "Metrics":
            value = sorted((_norm_query(q) for q in value or []), key=lambda q: q["Id"])
        elif key in LIST_FIELDS:
            value = sorted(value or [])
        elif key == "Threshold" and value is not None:
            value = float(value)
        elif key == "ActionsEnabled" and value is None:
            value = True
        out[key] = value
    return out


def alarm_differences(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> list[str]:
    want, have = normalize_alarm(desired), normalize_alarm(existing)
    return [key for key in ALARM_FIELDS if want[key] != have[key]]


def is_owned(alarm: Mapping[str, Any], stack: str) -> bool:
    """Ours: name prefixed by the stack AND the managed marker in the description."""
    return alarm.get("AlarmName", "").startswith(f"{stack}-") and marker(stack) in (
        alarm.get("AlarmDescription") or ""
    )


def with_actions(alarm: DesiredAlarm, topic_arn: str | None) -> dict[str, Any]:
    params = dict(alarm.params)
    actions = [topic_arn] if topic_arn else []
    params.update(AlarmActions=actions, OKActions=actions, InsufficientDataActions=[])
    return params


def normalize_filter(flt: Mapping[str, Any]) -> dict[str, Any]:
    transforms = []
    for t in flt.get("metricTransformations") or []:
        transforms.append(
            {
                "metricName": t.get("metricName"),
                "metricNamespace": t.get("metricNamespace"),
                "metricValue": str(t.get("metricValue")),
                "defaultValue": None if t.get("defaultValue") is None else float(t["defaultValue"]),
                "unit": t.get("unit"),
                "dimensions": t.get("dimensions") or {},
            }
        )
    return {"filterPattern": flt.get("filterPattern", ""), "metricTransformations": transforms}


def build_plan(
    desired: AlarmSet,
    existing_alarms: Sequence[Mapping[str, Any]],
    existing_filters: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    stack: str,
    topic_arn: str | None,
) -> Plan:
    """Compare; `existing_filters` maps each log group to its filters named `<stack>-opskit-*`."""
    plan = Plan()
    by_name = {a["AlarmName"]: a for a in existing_alarms}
    wanted = set()
    for alarm in desired.alarms:
        wanted.add(alarm.name)
        params = with_actions(alarm, topic_arn)
        current = by_name.get(alarm.name)
        if current is None:
            plan.changes.append(Change("create", "alarm", alarm.name))
            plan.alarms_to_put.append(params)
            continue
        plan.existing_arns[alarm.name] = current.get("AlarmArn", "")
        if not is_owned(current, stack):
            # Same name, not ours (no marker): never overwrite someone else's alarm silently.
            plan.changes.append(
                Change("update", "alarm", alarm.name, "takes over an unmarked alarm")
            )
            plan.alarms_to_put.append(params)
            continue
        diff = alarm_differences(params, current)
        if diff:
            plan.changes.append(Change("update", "alarm", alarm.name, ", ".join(diff)))
            plan.alarms_to_put.append(params)
        else:
            plan.changes.append(Change("unchanged", "alarm", alarm.name))
    for name, current in sorted(by_name.items()):
        if name not in wanted and is_owned(current, stack):
            plan.changes.append(Change("delete", "alarm", name))
            plan.alarms_to_delete.append(name)

    wanted_filters: dict[str, set[str]] = {}
    for flt in desired.filters:
        wanted_filters.setdefault(flt.log_group, set()).add(flt.name)
        current_f = {f["filterName"]: f for f in existing_filters.get(flt.log_group, [])}.get(
            flt.name
        )
        label, where = flt.name, f"on {flt.log_group}"
        if current_f is None:
            plan.changes.append(Change("create", "metric-filter", label, where))
            plan.filters_to_put.append(flt)
        elif normalize_filter(current_f) != normalize_filter(flt.params):
            plan.changes.append(Change("update", "metric-filter", label, f"pattern/metric {where}"))
            plan.filters_to_put.append(flt)
        else:
            plan.changes.append(Change("unchanged", "metric-filter", label, where))
    for group, filters in sorted(existing_filters.items()):
        for current_f in filters:
            name = current_f["filterName"]
            if name.startswith(f"{stack}-opskit-") and name not in wanted_filters.get(group, set()):
                plan.changes.append(Change("delete", "metric-filter", name, f"on {group}"))
                plan.filters_to_delete.append((group, name))
    return plan
