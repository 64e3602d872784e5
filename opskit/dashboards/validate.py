"""Check a dashboard body against the documented structure (CloudWatch "Dashboard Body Structure
and Syntax"): widgets array (<= 500), widget type/x/y/width/height/properties, the 24-column grid,
no overlaps, the per-type required properties, metric array format, statistics, known metric
names, and no `${Placeholder}` left unresolved. Returns a list of problems (empty: valid).
"""

from __future__ import annotations

import re
from typing import Any

from opskit.alarms.catalog import is_valid_statistic, unknown_metric

GRID_COLUMNS = 24
MAX_WIDGETS = 500
WIDGET_TYPES = {"metric", "text", "log", "alarm", "explorer", "custom"}
TOP_LEVEL = {"widgets", "start", "end", "periodOverride", "variables"}
METRIC_VIEWS = {"timeSeries", "singleValue", "gauge", "bar", "pie", "table"}
LOG_VIEWS = {"table", "timeSeries", "bar", "pie"}
ALARM_SORT = {"default", "stateUpdatedTimestamp", "timestamp"}
ALARM_STATES = {"ALARM", "INSUFFICIENT_DATA", "OK"}
RENDERING_KEYS = {
    "color",
    "label",
    "period",
    "stat",
    "visible",
    "yAxis",
    "id",
    "region",
    "accountId",
    "unit",
    "expression",
}
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
_ALARM_ARN = re.compile(r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+$")
_ISO_DURATION = re.compile(r"^-P(T(\d+[HMS])+|\d+[DWMY](T(\d+[HMS])+)?)$")


def unresolved_placeholders(node: Any, path: str = "$") -> list[str]:
    found: list[str] = []
    if isinstance(node, str):
        found += [f"{path}: unresolved {m}" for m in _PLACEHOLDER.findall(node)]
    elif isinstance(node, dict):
        for key, value in node.items():
            found += unresolved_placeholders(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += unresolved_placeholders(value, f"{path}[{index}]")
    return found


def validate_body(body: Any, custom_metrics: dict[str, set[str]] | None = None) -> list[str]:
    problems: list[str] = []
    if not isinstance(body, dict):
        return ["the body must be a JSON object"]
    problems += [f"unknown top-level key '{k}'" for k in sorted(set(body) - TOP_LEVEL)]
    widgets = body.get("widgets")
    if not isinstance(widgets, list):
        return [*problems, "the body must have a 'widgets' array"]
    if len(widgets) > MAX_WIDGETS:
        problems.append(f"{len(widgets)} widgets: at most {MAX_WIDGETS}")
    if "periodOverride" in body and body["periodOverride"] not in {"auto", "inherit"}:
        problems.append("periodOverride must be 'auto' or 'inherit'")
    if (
        "start" in body
        and not _ISO_DURATION.match(str(body["start"]))
        and "T" not in str(body["start"])
    ):
        problems.append(
            f"start {body['start']!r} is neither a relative ISO 8601 duration (-PT3H) nor a timestamp"
        )
    boxes: list[tuple[int, int, int, int, str]] = []
    for index, widget in enumerate(widgets):
        where = f"widget {index}"
        if not isinstance(widget, dict):
            problems.append(f"{where}: not an object")
            continue
        title = (
            (widget.get("properties") or {}).get("title")
            if isinstance(widget.get("properties"), dict)
            else None
        )
        if title:
            where += f" ({title})"
        problems += _check_geometry(widget, where, boxes)
        kind = widget.get("type")
        props = widget.get("properties")
        if kind not in WIDGET_TYPES:
            problems.append(
                f"{where}: type {kind!r} is not one of {', '.join(sorted(WIDGET_TYPES))}"
            )
            continue
        if not isinstance(props, dict):
            problems.append(f"{where}: 'properties' object is required")
            continue
        checker = {
            "metric": _check_metric,
            "text": _check_text,
            "log": _check_log,
            "alarm": _check_alarm,
        }.get(kind)
        if checker:
            problems += checker(props, where, custom_metrics or {})
    problems += _overlaps(boxes)
    problems += unresolved_placeholders(body)
    return problems


def _check_geometry(
    widget: dict[str, Any], where: str, boxes: list[tuple[int, int, int, int, str]]
) -> list[str]:
    problems = []
    width, height = widget.get("width", 6), widget.get("height", 6)
    x, y = widget.get("x"), widget.get("y")
    for name, value, low, high in (("width", width, 1, 24), ("height", height, 1, 1000)):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            problems.append(f"{where}: {name} {value!r} must be an integer {low}..{high}")
    for name, value in (("x", x), ("y", y)):
        if value is None:
            problems.append(f"{where}: '{name}' is required (explicit layout)")
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            problems.append(f"{where}: {name} {value!r} must be a non-negative integer")
    if problems:
        return problems
    assert isinstance(x, int) and isinstance(y, int)  # checked above
    if x > GRID_COLUMNS - 1 or x + width > GRID_COLUMNS:
        problems.append(f"{where}: x {x} + width {width} overflows the {GRID_COLUMNS}-column grid")
    boxes.append((x, y, width, height, where))
    return problems


def _overlaps(boxes: list[tuple[int, int, int, int, str]]) -> list[str]:
    found = []
    for i, (x1, y1, w1, h1, a) in enumerate(boxes):
        for x2, y2, w2, h2, b in boxes[i + 1 :]:
            if x1 < x2 + w2 and x2 < x1 + w1 and y1 < y2 + h2 and y2 < y1 + h1:
                found.append(f"{a} overlaps {b}")
    return found


def _check_metric(props: dict[str, Any], where: str, custom: dict[str, set[str]]) -> list[str]:
    problems = []
    metrics = props.get("metrics")
    if metrics is None and "annotations" not in props:
        problems.append(f"{where}: a metric widget needs 'metrics' (or 'annotations')")
    if not isinstance(props.get("region"), str) or not props.get("region"):
        problems.append(f"{where}: 'region' is required")
    if "view" in props and props["view"] not in METRIC_VIEWS:
        problems.append(
            f"{where}: view {props['view']!r} is not one of {', '.join(sorted(METRIC_VIEWS))}"
        )
    if "stat" in props and not is_valid_statistic(str(props["stat"])):
        problems.append(f"{where}: stat {props['stat']!r} is not a CloudWatch statistic")
    if "period" in props and not _valid_period(props["period"]):
        problems.append(
            f"{where}: period {props['period']!r} must be 1, 5, 10, 30 or a multiple of 60"
        )
    if metrics is not None and not isinstance(metrics, list):
        return [*problems, f"{where}: 'metrics' must be an array of arrays"]
    previous: list[str] = []
    for index, entry in enumerate(metrics or []):
        problems += _check_metric_entry(entry, f"{where} metric {index}", previous, custom)
        if isinstance(entry, list):
            labels = [e for e in entry if isinstance(e, str)]
            previous = [
                p if p != "." else (previous[i] if i < len(previous) else ".")
                for i, p in enumerate(labels)
            ]
    return problems


def _check_metric_entry(
    entry: Any, where: str, previous: list[str], custom: dict[str, set[str]]
) -> list[str]:
    if not isinstance(entry, list) or not entry:
        return [f"{where}: each metric is a non-empty array"]
    options = entry[-1] if isinstance(entry[-1], dict) else None
    names = entry[:-1] if options is not None else entry
    problems = []
    if options is not None:
        unknown = set(options) - RENDERING_KEYS
        if unknown:
            problems.append(f"{where}: unknown rendering option(s) {', '.join(sorted(unknown))}")
        if "stat" in options and not is_valid_statistic(str(options["stat"])):
            problems.append(f"{where}: stat {options['stat']!r} is not a CloudWatch statistic")
        if "expression" in options:
            if names:
                problems.append(f"{where}: an expression entry is [{{expression, id, label}}] only")
            if "id" in options and not re.fullmatch(r"[a-z][a-zA-Z0-9_]*", str(options["id"])):
                problems.append(
                    f"{where}: id {options['id']!r} must start with a lower-case letter"
                )
            return problems
    if not all(isinstance(n, str) for n in names):
        return [*problems, f"{where}: namespace, metric name and dimensions must be strings"]
    if len(names) < 2 or len(names) % 2:
        return [
            *problems,
            f"{where}: expected [Namespace, MetricName, DimName, DimValue, ..., {{options}}]",
        ]
    resolved = [
        n if n != "." else (previous[i] if i < len(previous) else ".") for i, n in enumerate(names)
    ]
    namespace, metric = resolved[0], resolved[1]
    if "." in (namespace, metric):
        problems.append(f"{where}: '.' repeats the previous metric's value, but there is none")
    elif unknown_metric(namespace, metric, custom):
        problems.append(f"{where}: {namespace} has no metric named {metric}")
    return problems


def _valid_period(value: Any) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and (value in {1, 5, 10, 30} or (value > 0 and value % 60 == 0))
    )


def _check_text(props: dict[str, Any], where: str, custom: dict[str, set[str]]) -> list[str]:
    return (
        []
        if isinstance(props.get("markdown"), str)
        else [f"{where}: a text widget needs 'markdown'"]
    )


def _check_log(props: dict[str, Any], where: str, custom: dict[str, set[str]]) -> list[str]:
    problems = []
    query = props.get("query")
    if not isinstance(query, str) or not query.lstrip().startswith("SOURCE "):
        problems.append(f"{where}: a log widget's 'query' must start with SOURCE 'log-group' |")
    if not isinstance(props.get("region"), str) or not props.get("region"):
        problems.append(f"{where}: 'region' is required")
    if "view" in props and props["view"] not in LOG_VIEWS:
        problems.append(
            f"{where}: view {props['view']!r} is not one of {', '.join(sorted(LOG_VIEWS))}"
        )
    return problems


def _check_alarm(props: dict[str, Any], where: str, custom: dict[str, set[str]]) -> list[str]:
    problems = []
    alarms = props.get("alarms")
    if not isinstance(alarms, list) or not 1 <= len(alarms) <= 100:
        problems.append(f"{where}: 'alarms' must list 1 to 100 alarm ARNs")
    else:
        bad = [
            a
            for a in alarms
            if not isinstance(a, str) or not (_ALARM_ARN.match(a) or _PLACEHOLDER.search(a))
        ]
        problems += [f"{where}: {a!r} is not an alarm ARN" for a in bad]
    if "sortBy" in props and props["sortBy"] not in ALARM_SORT:
        problems.append(
            f"{where}: sortBy {props['sortBy']!r} is not one of {', '.join(sorted(ALARM_SORT))}"
        )
    states = props.get("states")
    if states is not None and (not isinstance(states, list) or set(states) - ALARM_STATES):
        problems.append(f"{where}: states must be a subset of {', '.join(sorted(ALARM_STATES))}")
    return problems
