"""The declarative alarm set: load the TOML file, apply per-environment overrides, fill placeholders.

The result is what `put_metric_alarm` / `put_metric_filter` would be called with,
so that comparing against what CloudWatch describes is a plain dict comparison.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from opskit.alarms.catalog import is_extended_statistic, is_valid_statistic, unknown_metric
from opskit.errors import ConfigError

MANAGED_MARKER = "[opskit:managed stack={stack}]"
OVERRIDABLE = {
    "threshold": (int, float),
    "period": (int,),
    "evaluation_periods": (int,),
    "datapoints_to_alarm": (int,),
    "treat_missing_data": (str,),
    "comparison": (str,),
    "enabled": (bool,),
}
SETTINGS_KEYS = {"sns_topic", "account_concurrency_limit", "min_requests"}
COMPARISONS = {
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
}
MISSING_DATA = {"breaching", "notBreaching", "ignore", "missing"}
VALID_PERIODS = {10, 30} | {60 * n for n in range(1, 1441)}
DEFAULT_MIN_REQUESTS = 20
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@dataclass(frozen=True)
class DesiredAlarm:
    key: str
    name: str
    params: dict[str, Any]  # put_metric_alarm kwargs, minus Tags and actions
    missing: tuple[str, ...] = ()  # placeholders that had no value (the alarm is skipped)


@dataclass(frozen=True)
class DesiredFilter:
    key: str
    name: str
    log_group: str
    params: dict[
        str, Any
    ]  # put_metric_filter kwargs (filterName, filterPattern, metricTransformations)


@dataclass
class AlarmSet:
    alarms: list[DesiredAlarm] = field(default_factory=list)
    filters: list[DesiredFilter] = field(default_factory=list)
    skipped: list[DesiredAlarm] = field(default_factory=list)
    source: str = ""
    notes: list[str] = field(default_factory=list)  # assumptions made while resolving

    def custom_metrics(self) -> dict[str, set[str]]:
        """{namespace: metric names} published by this set's metric filters."""
        found: dict[str, set[str]] = {}
        for flt in self.filters:
            for transform in flt.params["metricTransformations"]:
                found.setdefault(transform["metricNamespace"], set()).add(transform["metricName"])
        return found


def default_alarm_file() -> Path:
    return Path(str(resources.files("opskit.alarms").joinpath("baseline.toml")))


def marker(stack: str) -> str:
    return MANAGED_MARKER.format(stack=stack)


def read_alarm_file(path: Path | None) -> tuple[dict[str, Any], str]:
    path = path or default_alarm_file()
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle), str(path)
    except FileNotFoundError:
        raise ConfigError(
            f"alarm file {path} not found", "no such file", "pass --file PATH or drop it"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"cannot read alarm file {path}", str(exc), "fix the TOML syntax"
        ) from None


def alarm_overrides(settings: dict[str, Any]) -> dict[str, Any]:
    """The `[defaults.alarms]` / `[env.NAME.alarms]` table (already merged by the config loader)."""
    table = settings.get("alarms") or {}
    if not isinstance(table, dict):
        raise ConfigError(
            "[alarms] in opskit.toml must be a table", f"got {table!r}", "see baseline.toml"
        )
    return table


def load_alarm_set(
    document: dict[str, Any],
    *,
    stack: str,
    context: dict[str, str],
    overrides: dict[str, Any],
    variables: dict[str, float],
    source: str = "alarm file",
) -> AlarmSet:
    """Resolve `document` into the desired alarms and metric filters for one stack."""
    result = AlarmSet(source=source)
    context = {"MinRequests": str(min_requests(overrides)), **context}
    each = document.get("each") or {}
    for raw in document.get("metric_filter") or []:
        result.filters.append(_filter(raw, stack, context, source))

    seen: set[str] = set()
    for raw in document.get("alarm") or []:
        for key, item in _expand(raw, each, source):
            if key in seen:
                raise ConfigError(
                    f"{source}: alarm key '{key}' appears twice", "keys name alarms", "rename one"
                )
            seen.add(key)
            spec = _apply_override(raw, key, overrides.get(key), source)
            if not spec.get("enabled", True):
                continue
            local = dict(context, Each=item) if item is not None else context
            if spec.get("when") and not local.get(str(spec["when"])):
                continue  # e.g. the certificate alarm of a stack without a custom domain
            alarm = _alarm(spec, key, stack, local, variables, source)
            (result.skipped if alarm.missing else result.alarms).append(alarm)

    unknown = set(overrides) - seen - SETTINGS_KEYS
    if unknown:
        raise ConfigError(
            f"opskit.toml [alarms] names unknown alarm(s): {', '.join(sorted(unknown))}",
            f"{source} defines: {', '.join(sorted(seen))}",
            "fix the key, or set sns_topic / account_concurrency_limit / min_requests",
        )
    _check_metrics(result, source)
    return result


def custom_domain_context(parameters: dict[str, Any]) -> dict[str, str]:
    """${DomainName}/${CertificateArn} only when the stack has a custom domain (both set)."""
    domain, cert = parameters.get("DomainName"), parameters.get("CertificateArn")
    return {"DomainName": str(domain), "CertificateArn": str(cert)} if domain and cert else {}


def min_requests(overrides: dict[str, Any]) -> int:
    """The minimum-sample guard N of `IF(requests >= ${MinRequests}, ...)` (per environment)."""
    raw = overrides.get("min_requests", DEFAULT_MIN_REQUESTS)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise ConfigError(
            f"opskit.toml [alarms] min_requests = {raw!r}",
            "must be a whole number of requests, at least 1",
            "e.g. min_requests = 20",
        )
    return raw


def _expand(raw: dict[str, Any], each: dict[str, Any], source: str) -> list[tuple[str, str | None]]:
    key = raw.get("key")
    if not isinstance(key, str) or not key:
        raise ConfigError(f"{source}: an [[alarm]] has no key", f"{raw!r}"[:120], 'add key = "..."')
    group = raw.get("each")
    if group is None:
        return [(key, None)]
    items = each.get(group)
    if not isinstance(items, dict) or not items:
        raise ConfigError(
            f"{source}: alarm '{key}' repeats over [each.{group}]",
            "no such table",
            f"add [each.{group}]",
        )
    if "{each}" not in key:
        raise ConfigError(
            f"{source}: alarm '{key}' has each = \"{group}\"",
            "its key lacks {each}",
            "put {each} in the key",
        )
    return [(key.replace("{each}", name), str(value)) for name, value in items.items()]


def _apply_override(raw: dict[str, Any], key: str, override: Any, source: str) -> dict[str, Any]:
    spec = dict(raw)
    if override is None:
        return spec
    if isinstance(override, int | float) and not isinstance(override, bool):
        override = {"threshold": override}
    if not isinstance(override, dict):
        raise ConfigError(
            f"opskit.toml [alarms] {key}",
            f"expected a number or a table, got {override!r}",
            "see baseline.toml",
        )
    for name, value in override.items():
        types = OVERRIDABLE.get(name)
        if types is None:
            raise ConfigError(
                f"opskit.toml [alarms.{key}] sets '{name}'",
                "not an overridable field",
                f"use one of {', '.join(sorted(OVERRIDABLE))}",
            )
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ConfigError(
                f"opskit.toml [alarms.{key}] {name} = {value!r}",
                "wrong type",
                f"expected {types[0].__name__}",
            )
        spec[name] = value
    return spec


def fill(value: Any, context: dict[str, str], missing: set[str]) -> Any:
    """Replace ${Name} in strings (recursively); names without a value are added to `missing`."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in context:
                return context[name]
            missing.add(name)
            return match.group(0)

        return _PLACEHOLDER.sub(repl, value)
    if isinstance(value, dict):
        return {k: fill(v, context, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, context, missing) for v in value]
    return value


def _dimensions(raw: Any) -> list[dict[str, str]]:
    return sorted(
        ({"Name": str(k), "Value": str(v)} for k, v in (raw or {}).items()), key=lambda d: d["Name"]
    )


def _stat_fields(stat: Any, where: str) -> dict[str, str]:
    if not isinstance(stat, str) or not is_valid_statistic(stat):
        raise ConfigError(
            f"{where}: statistic {stat!r}",
            "not a CloudWatch statistic",
            "use Sum, Average, Maximum, p99, ...",
        )
    return {"ExtendedStatistic": stat} if is_extended_statistic(stat) else {"Statistic": stat}


def _alarm(
    spec: dict[str, Any],
    key: str,
    stack: str,
    context: dict[str, str],
    variables: dict[str, float],
    source: str,
) -> DesiredAlarm:
    where = f"{source}: alarm '{key}'"
    missing: set[str] = set()
    # Twice: an [each] value may itself be a placeholder (${Each} -> ${SessionsTableName}).
    spec = fill(fill(spec, context, missing), context, missing)
    for name in (
        "period",
        "evaluation_periods",
        "datapoints_to_alarm",
        "comparison",
        "threshold",
        "treat_missing_data",
    ):
        if name not in spec:
            raise ConfigError(
                f"{where} has no {name}", "every alarm states it explicitly", f"add {name} = ..."
            )
    period = spec["period"]
    if period not in VALID_PERIODS:
        raise ConfigError(
            f"{where}: period {period}", "must be 10, 30 or a multiple of 60", "fix period"
        )
    if not 1 <= spec["datapoints_to_alarm"] <= spec["evaluation_periods"]:
        raise ConfigError(
            f"{where}: datapoints_to_alarm {spec['datapoints_to_alarm']}",
            f"must be 1..evaluation_periods ({spec['evaluation_periods']})",
            "fix the M-of-N",
        )
    if spec["comparison"] not in COMPARISONS:
        raise ConfigError(
            f"{where}: comparison {spec['comparison']!r}",
            "unknown operator",
            f"use one of {', '.join(sorted(COMPARISONS))}",
        )
    if spec["treat_missing_data"] not in MISSING_DATA:
        raise ConfigError(
            f"{where}: treat_missing_data {spec['treat_missing_data']!r}",
            "unknown value",
            f"use one of {', '.join(sorted(MISSING_DATA))}",
        )
    threshold = float(spec["threshold"])
    share_of = spec.get("threshold_of")
    if share_of is not None:
        if share_of not in variables:
            raise ConfigError(
                f"{where}: threshold_of {share_of!r}",
                "unknown value",
                f"use one of {', '.join(sorted(variables))}",
            )
        threshold = round(threshold * variables[share_of], 3)

    params: dict[str, Any] = {
        "AlarmName": f"{stack}-{key}",
        "AlarmDescription": f"{spec.get('description', key)} {marker(stack)}".strip(),
        "ActionsEnabled": True,
        "EvaluationPeriods": int(spec["evaluation_periods"]),
        "DatapointsToAlarm": int(spec["datapoints_to_alarm"]),
        "Threshold": threshold,
        "ComparisonOperator": spec["comparison"],
        "TreatMissingData": spec["treat_missing_data"],
    }
    if "expression" in spec:
        metrics = spec.get("metrics") or {}
        if not metrics:
            raise ConfigError(
                f"{where} has an expression but no [alarm.metrics.ID]",
                "nothing to compute from",
                "add the metrics",
            )
        queries: list[dict[str, Any]] = [
            {
                "Id": "result",
                "Expression": spec["expression"],
                "Label": spec.get("label", key),
                "ReturnData": True,
            }
        ]
        for metric_id, metric in metrics.items():
            if not re.fullmatch(r"[a-z][a-zA-Z0-9_]*", metric_id):
                raise ConfigError(
                    f"{where}: metric id '{metric_id}'",
                    "ids start with a lower-case letter",
                    "rename it",
                )
            stat = metric.get("stat", "Sum")
            _stat_fields(stat, where)  # validates it
            queries.append(
                {
                    "Id": metric_id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": metric["namespace"],
                            "MetricName": metric["metric"],
                            "Dimensions": _dimensions(metric.get("dimensions")),
                        },
                        "Period": int(period),
                        "Stat": stat,
                    },
                    "ReturnData": False,
                }
            )
        params["Metrics"] = sorted(queries, key=lambda q: q["Id"])
    else:
        for name in ("namespace", "metric", "stat"):
            if name not in spec:
                raise ConfigError(
                    f"{where} has no {name}",
                    "a single-metric alarm needs namespace, metric, stat",
                    f"add {name} = ...",
                )
        params.update(
            Namespace=spec["namespace"],
            MetricName=spec["metric"],
            Dimensions=_dimensions(spec.get("dimensions")),
            Period=int(period),
            **_stat_fields(spec["stat"], where),
        )
    return DesiredAlarm(
        key=key, name=params["AlarmName"], params=params, missing=tuple(sorted(missing))
    )


def _filter(raw: dict[str, Any], stack: str, context: dict[str, str], source: str) -> DesiredFilter:
    key = str(raw.get("key", ""))
    for name in ("key", "log_group", "pattern", "metric"):
        if not raw.get(name):
            raise ConfigError(
                f"{source}: a [[metric_filter]] has no {name}",
                f"{raw!r}"[:120],
                f"add {name} = ...",
            )
    missing: set[str] = set()
    spec = fill(raw, context, missing)
    if missing:
        raise ConfigError(
            f"{source}: metric filter '{key}'",
            f"no value for ${{{', '.join(sorted(missing))}}}",
            "check the placeholders",
        )
    namespace = spec.get("namespace", context.get("GatewayNamespace", f"Opskit/Gateway/{stack}"))
    params = {
        "filterName": f"{stack}-opskit-{key}",
        "filterPattern": spec["pattern"],
        "metricTransformations": [
            {
                "metricName": spec["metric"],
                "metricNamespace": namespace,
                "metricValue": str(spec.get("value", "1")),
                "defaultValue": 0.0,
                "unit": "Count",
            }
        ],
    }
    return DesiredFilter(
        key=key, name=params["filterName"], log_group=spec["log_group"], params=params
    )


def _check_metrics(result: AlarmSet, source: str) -> None:
    custom = result.custom_metrics()
    for alarm in result.alarms:
        pairs = [(alarm.params.get("Namespace"), alarm.params.get("MetricName"))]
        pairs += [
            (q["MetricStat"]["Metric"]["Namespace"], q["MetricStat"]["Metric"]["MetricName"])
            for q in alarm.params.get("Metrics", [])
            if "MetricStat" in q
        ]
        for namespace, metric in pairs:
            if namespace and unknown_metric(namespace, str(metric), custom):
                raise ConfigError(
                    f"{source}: alarm '{alarm.key}' watches {namespace} {metric}",
                    "no such metric in that namespace",
                    "check the metric name (HTTP APIs publish 4xx/5xx, not 4XXError)",
                )
