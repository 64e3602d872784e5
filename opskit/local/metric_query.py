"""GetMetricData for the local account, computed from the raw values opskit published.

moto answers GetMetricData for SampleCount/Sum/Average/Minimum/Maximum only, fails on
percentiles (HTTP 500) and evaluates no metric math. The alarm evaluator and the dashboard
preview need all three, so on the local account they ask this instead: the same request
shape (MetricDataQueries, StartTime, EndTime) and answer shape (MetricDataResults with Id,
Label, Timestamps newest first, Values, StatusCode) as the CloudWatch API.

Statistics over a period's raw values: SampleCount, Sum, Average, Minimum, Maximum, pNN
(nearest rank: the smallest value with at least NN % of the values at or below it).
Metric math (docs: "Using metric math"): numbers, metric ids, + - * / ^, comparisons
(> < >= <= == !=), AND/OR (&& ||), unary -, IF(cond, a[, b]), FILL(m, value|REPEAT|LINEAR),
ABS, CEIL, FLOOR, MIN/MAX/SUM/AVG over several series (per timestamp). A binary operation on
two series keeps the timestamps both have; dividing by zero yields no datapoint there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opskit.local.metrics import Buckets

Series = dict[int, float]  # period start (epoch s) -> value
Value = Series | float


class MetricQueryError(ValueError):
    """The query is not one CloudWatch would accept (it answers ValidationError)."""


# ---- statistics


def statistic(stat: str, values: list[float]) -> float | None:
    if not values:
        return None
    if stat == "SampleCount":
        return float(len(values))
    if stat == "Sum":
        return float(sum(values))
    if stat == "Average":
        return sum(values) / len(values)
    if stat == "Minimum":
        return min(values)
    if stat == "Maximum":
        return max(values)
    match = re.fullmatch(r"p(\d{1,2}(?:\.\d+)?|100)", stat)
    if match:
        ordered = sorted(values)
        rank = max(1, math.ceil(float(match.group(1)) / 100 * len(ordered)))
        return ordered[min(rank, len(ordered)) - 1]
    raise MetricQueryError(f"statistic {stat!r} is not supported by the local account")


class MetricIndex:
    """Raw values by metric, then by minute: built once per evaluation, queried many times."""

    def __init__(self, buckets: Buckets):
        self.by_metric: dict[tuple[str, str, tuple[tuple[str, str], ...]], dict[int, list[float]]]
        self.by_metric = {}
        for (namespace, name, dims, _unit, minute), values in buckets.items():
            self.by_metric.setdefault((namespace, name, tuple(sorted(dims))), {}).setdefault(
                minute, []
            ).extend(values)
        self._cache: dict[tuple[Any, ...], Series] = {}

    def series(
        self, metric: Mapping[str, Any], stat: str, period: int, start: int, end: int
    ) -> Series:
        dims = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions") or []))
        key = (metric["Namespace"], metric["MetricName"], dims, stat, period, start, end)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        minutes = self.by_metric.get((metric["Namespace"], metric["MetricName"], dims), {})
        grouped: dict[int, list[float]] = {}
        for minute, values in minutes.items():
            if start <= minute < end:
                grouped.setdefault(minute - (minute - start) % period, []).extend(values)
        out: Series = {}
        for ts, values in grouped.items():
            value = statistic(stat, values)
            if value is not None:
                out[ts] = value
        self._cache[key] = out
        return out


# ---- metric math

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>&&|\|\||>=|<=|==|!=|[-+*/^(),<>]))"
)
_PRECEDENCE = {"||": 1, "OR": 1, "&&": 2, "AND": 2, "==": 3, "!=": 3, ">": 4, "<": 4,
               ">=": 4, "<=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "^": 7}  # fmt: skip


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise MetricQueryError(f"metric math: unexpected {text[pos : pos + 10]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


@dataclass
class _Node:
    kind: str  # num | ref | op | neg | call | word
    value: Any
    args: list[_Node]


class _Parser:
    def __init__(self, text: str):
        self.tokens, self.pos, self.text = _tokens(text), 0, text

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise MetricQueryError(f"metric math: {self.text!r} ends too early")
        self.pos += 1
        return token

    def parse(self) -> _Node:
        node = self.expr(0)
        if self.peek() is not None:
            raise MetricQueryError(f"metric math: unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def expr(self, floor: int) -> _Node:
        left = self.atom()
        while True:
            token = self.peek()
            if token is None:
                return left
            op = token[1].upper() if token[0] == "name" else token[1]
            prec = _PRECEDENCE.get(op)
            if prec is None or prec < floor:
                return left
            self.take()
            right = self.expr(prec if op == "^" else prec + 1)
            left = _Node("op", op, [left, right])

    def atom(self) -> _Node:
        kind, text = self.take()
        if kind == "num":
            return _Node("num", float(text), [])
        if text == "(":
            node = self.expr(0)
            if self.take()[1] != ")":
                raise MetricQueryError("metric math: missing )")
            return node
        if text == "-":
            return _Node("neg", None, [self.atom()])
        if kind == "name":
            if self.peek() == ("op", "("):
                self.take()
                args: list[_Node] = []
                if self.peek() != ("op", ")"):
                    while True:
                        args.append(self.expr(0))
                        if self.peek() == ("op", ","):
                            self.take()
                            continue
                        break
                if self.take()[1] != ")":
                    raise MetricQueryError(f"metric math: {text}( is not closed")
                return _Node("call", text.upper(), args)
            if text.upper() in ("REPEAT", "LINEAR"):
                return _Node("word", text.upper(), [])
            return _Node("ref", text, [])
        raise MetricQueryError(f"metric math: unexpected {text!r}")


def _binary(op: str) -> Callable[[float, float], float | None]:
    def div(a: float, b: float) -> float | None:
        return None if b == 0 else a / b

    def power(a: float, b: float) -> float | None:
        try:
            return float(a**b)
        except (OverflowError, ZeroDivisionError, ValueError):
            return None

    table: dict[str, Callable[[float, float], float | None]] = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": div,
        "^": power,
        ">": lambda a, b: float(a > b),
        "<": lambda a, b: float(a < b),
        ">=": lambda a, b: float(a >= b),
        "<=": lambda a, b: float(a <= b),
        "==": lambda a, b: float(a == b),
        "!=": lambda a, b: float(a != b),
        "&&": lambda a, b: float(bool(a) and bool(b)),
        "AND": lambda a, b: float(bool(a) and bool(b)),
        "||": lambda a, b: float(bool(a) or bool(b)),
        "OR": lambda a, b: float(bool(a) or bool(b)),
    }
    return table[op]


def _combine(a: Value, b: Value, fn: Callable[[float, float], float | None]) -> Value:
    pairs: Iterable[tuple[int, float, float]]
    if isinstance(a, dict) and isinstance(b, dict):
        pairs = ((ts, a[ts], b[ts]) for ts in a.keys() & b.keys())
    elif isinstance(a, dict):
        scalar_b = float(b)  # type: ignore[arg-type]
        pairs = ((ts, v, scalar_b) for ts, v in a.items())
    elif isinstance(b, dict):
        scalar_a = float(a)
        pairs = ((ts, scalar_a, v) for ts, v in b.items())
    else:
        result = fn(a, b)
        return math.nan if result is None else result
    out: Series = {}
    for ts, x, y in pairs:
        value = fn(x, y)
        if value is not None and not math.isnan(value):
            out[ts] = value
    return out


class _Evaluator:
    def __init__(self, resolve: Callable[[str], Series], timestamps: list[int]):
        self.resolve, self.timestamps = resolve, timestamps

    def eval(self, node: _Node) -> Value:
        if node.kind == "num":
            return node.value
        if node.kind == "ref":
            return self.resolve(node.value)
        if node.kind == "neg":
            return _combine(0.0, self.eval(node.args[0]), lambda a, b: a - b)
        if node.kind == "op":
            return _combine(self.eval(node.args[0]), self.eval(node.args[1]), _binary(node.value))
        if node.kind == "call":
            return self.call(node.value, node.args)
        raise MetricQueryError(f"metric math: {node.value} is not a value here")

    def call(self, name: str, args: list[_Node]) -> Value:
        if name == "IF":
            if len(args) not in (2, 3):
                raise MetricQueryError("metric math: IF(condition, a[, b])")
            cond = self.eval(args[0])
            then = self.eval(args[1])
            other = self.eval(args[2]) if len(args) == 3 else None
            if not isinstance(cond, dict):
                return then if cond else (other if other is not None else {})
            out: Series = {}
            for ts, c in cond.items():
                pick = then if c else other
                if pick is None:
                    continue
                value = pick.get(ts) if isinstance(pick, dict) else pick
                if value is not None and not math.isnan(value):
                    out[ts] = value
            return out
        if name == "FILL":
            if len(args) != 2:
                raise MetricQueryError("metric math: FILL(series, value | REPEAT | LINEAR)")
            series = self.eval(args[0])
            if not isinstance(series, dict):
                raise MetricQueryError("metric math: FILL needs a time series")
            how = args[1]
            if how.kind == "word":
                return _fill(series, self.timestamps, how.value)
            filler = self.eval(how)
            if isinstance(filler, dict):
                raise MetricQueryError("metric math: FILL's value must be a number")
            return {ts: series.get(ts, filler) for ts in self.timestamps}
        unary: dict[str, Callable[[float], float]] = {
            "ABS": abs,
            "CEIL": lambda v: float(math.ceil(v)),
            "FLOOR": lambda v: float(math.floor(v)),
        }
        if name in unary:
            if len(args) != 1:
                raise MetricQueryError(f"metric math: {name} takes one argument")
            one = unary[name]
            return _combine(self.eval(args[0]), 0.0, lambda a, _b: one(a))
        many: dict[str, Callable[[list[float]], float]] = {
            "MIN": min,
            "MAX": max,
            "SUM": lambda v: float(sum(v)),
            "AVG": lambda v: sum(v) / len(v),
        }
        if name in many and args:
            reduce = many[name]
            values = [self.eval(a) for a in args]
            series_list = [v for v in values if isinstance(v, dict)]
            if not series_list:
                return float(reduce([float(v) for v in values]))  # type: ignore[arg-type]
            keys: set[int] = set().union(*series_list)
            combined: Series = {}
            for ts in keys:
                row = [v.get(ts) if isinstance(v, dict) else v for v in values]
                combined[ts] = float(reduce([r for r in row if r is not None]))
            return combined
        raise MetricQueryError(f"metric math function {name} is not supported locally")


def _fill(series: Series, timestamps: list[int], how: str) -> Series:
    out: Series = {}
    known = sorted(ts for ts in series if ts in set(timestamps))
    for ts in timestamps:
        if ts in series:
            out[ts] = series[ts]
            continue
        before = [k for k in known if k < ts]
        after = [k for k in known if k > ts]
        if how == "REPEAT":
            if before:
                out[ts] = series[before[-1]]
            elif after:
                out[ts] = series[after[0]]
        elif before and after:  # LINEAR: between two known points only
            a, b = before[-1], after[0]
            out[ts] = series[a] + (series[b] - series[a]) * (ts - a) / (b - a)
    return out


def parse_expression(text: str) -> _Node:
    return _Parser(text).parse()


# ---- the API


def _epoch(value: datetime | int | float) -> int:
    return int(value.timestamp()) if isinstance(value, datetime) else int(value)


def query_series(
    index: MetricIndex,
    queries: Iterable[Mapping[str, Any]],
    start: datetime | int,
    end: datetime | int,
    default_period: int = 60,
) -> list[tuple[Mapping[str, Any], Series]]:
    """(query, its series) for each query that returns data, in request order."""
    queries = list(queries)
    begin, finish = _epoch(start), _epoch(end)
    if finish <= begin:
        raise MetricQueryError("EndTime must be after StartTime")
    by_id = {q["Id"]: q for q in queries}
    values: dict[str, Series] = {}

    def period_of(query: Mapping[str, Any]) -> int:
        if "MetricStat" in query:
            return int(query["MetricStat"].get("Period") or default_period)
        return int(query.get("Period") or default_period)

    def resolve(query_id: str, stack: tuple[str, ...] = ()) -> Series:
        if query_id in values:
            return values[query_id]
        query = by_id.get(query_id)
        if query is None:
            raise MetricQueryError(f"metric math refers to unknown id {query_id!r}")
        if query_id in stack:
            raise MetricQueryError(f"metric math: {query_id} refers to itself")
        if "MetricStat" in query:
            stat = query["MetricStat"]
            result = index.series(stat["Metric"], stat["Stat"], period_of(query), begin, finish)
        else:
            period = max((period_of(q) for q in queries if "MetricStat" in q), default=60)
            stamps = list(range(begin, finish, period))
            evaluator = _Evaluator(lambda ref: resolve(ref, (*stack, query_id)), stamps)
            out = evaluator.eval(parse_expression(query["Expression"]))
            result = out if isinstance(out, dict) else {ts: out for ts in stamps}
        values[query_id] = result
        return result

    return [(query, resolve(query["Id"])) for query in queries if query.get("ReturnData", True)]


def get_metric_data(
    index: MetricIndex,
    queries: Iterable[Mapping[str, Any]],
    start: datetime | int,
    end: datetime | int,
    default_period: int = 60,
) -> list[dict[str, Any]]:
    """MetricDataResults for `queries` (the GetMetricData request's MetricDataQueries)."""
    results = []
    for query, series in query_series(index, queries, start, end, default_period):
        stamps = sorted(series, reverse=True)
        results.append(
            {
                "Id": query["Id"],
                "Label": query.get("Label") or query["Id"],
                "Timestamps": [datetime.fromtimestamp(ts, tz=UTC) for ts in stamps],
                "Values": [series[ts] for ts in stamps],
                "StatusCode": "Complete",
            }
        )
    return results
