"""The streaming Python engine: the reference semantics for every command and function.

Rows are dicts (field -> value). Filters, fields and parse stream; stats keeps one
accumulator per group; sort+limit keeps a bounded heap. DuckDB (duck.py) compiles the
same queries for speed and must give the same answers (the conformance suite runs both).
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
from array import array
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from opskit.insights import ast
from opskit.insights.parser import AGGREGATE_FUNCTIONS
from opskit.insights.values import Timestamp, as_number, as_text, sort_key

DEFAULT_LIMIT = 10_000  # documented: a query without `limit` returns up to 10,000 rows
Row = dict[str, Any]
Fn = Callable[[Row], Any]


# ---- scalar semantics --------------------------------------------------------------


def truth(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    number = as_number(value)
    if number is not None:
        return number != 0
    return value != ""


def compare(op: str, left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    ln, rn = as_number(left), as_number(right)
    a: Any
    b: Any
    if ln is not None and rn is not None:
        a, b = ln, rn
    elif ln is None and rn is None:
        a, b = as_text(left), as_text(right)
    else:  # one numeric side, one textual side: never equal, never ordered
        return op == "!="
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def arithmetic(op: str, left: Any, right: Any) -> Any:
    a, b = as_number(left), as_number(right)
    if a is None or b is None:
        return None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return None if b == 0 else a / b
    if op == "%":
        return None if b == 0 else math.fmod(a, b)
    try:
        result = float(a) ** float(b)
    except (OverflowError, ZeroDivisionError):
        return None
    return None if isinstance(result, complex) else result


def floor_time(millis: int, period: ast.Duration) -> int:
    if period.unit in ("mo", "q", "y"):
        moment = datetime.fromtimestamp(millis / 1000, UTC)
        month = (
            1
            if period.unit == "y"
            else (moment.month - (moment.month - 1) % 3 if period.unit == "q" else moment.month)
        )
        start = datetime(moment.year, month, 1, tzinfo=UTC)
        return int(start.timestamp() * 1000)
    return millis - millis % period.millis


def ceil_time(millis: int, period: ast.Duration) -> int:
    floor = floor_time(millis, period)
    if floor == millis:
        return millis
    if period.unit in ("mo", "q", "y"):
        moment = datetime.fromtimestamp(floor / 1000, UTC)
        step = {"mo": 1, "q": 3, "y": 12}[period.unit]
        month_index = moment.year * 12 + moment.month - 1 + step
        return int(
            datetime(month_index // 12, month_index % 12 + 1, 1, tzinfo=UTC).timestamp() * 1000
        )
    return floor + period.millis


def _text_fn(fn: Callable[[str], Any]) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        text = as_text(value)
        return None if text is None else fn(text)

    return apply


def _num_fn(fn: Callable[[float], Any]) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        number = as_number(value)
        if number is None:
            return None
        try:
            return fn(number)
        except (ValueError, OverflowError):
            return None

    return apply


def _substr(text: Any, start: Any, length: Any = "__none__") -> Any:
    value, begin = as_text(text), as_number(start)
    if value is None or begin is None:
        return None
    begin = max(int(begin), 0)
    if length == "__none__":
        return value[begin:]
    count = as_number(length)
    if count is None:
        return None
    return value[begin : begin + max(int(count), 0)]


def _log(x: float) -> float | None:
    return math.log(x) if x > 0 else None


def _sqrt(x: float) -> float | None:
    return math.sqrt(x) if x >= 0 else None


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def apply(*values: Any) -> Any:
        numbers = [n for n in (as_number(v) for v in values) if n is not None]
        return pick(numbers) if numbers else None

    return apply


SIMPLE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "strlen": _text_fn(len),
    "toupper": _text_fn(str.upper),
    "tolower": _text_fn(str.lower),
    "trim": _text_fn(str.strip),
    "ltrim": _text_fn(str.lstrip),
    "rtrim": _text_fn(str.rstrip),
    "abs": _num_fn(abs),
    "ceil": _num_fn(lambda x: math.ceil(x)),
    "floor": _num_fn(lambda x: math.floor(x)),
    "log": _num_fn(_log),
    "sqrt": _num_fn(_sqrt),
    "frommillis": _num_fn(lambda x: Timestamp(int(x))),
    "tomillis": _num_fn(lambda x: int(x)),
    "greatest": _extreme(max),
    "least": _extreme(min),
    "substr": _substr,
}


# ---- compiling expressions to closures ---------------------------------------------------


def compile_expr(expr: ast.Expr, aggregates: dict[int, int] | None = None) -> Fn:
    """A closure computing `expr` on a row. In stats output, aggregate calls read their slot."""
    if isinstance(expr, ast.Literal):
        value = expr.value
        return lambda row: value
    if isinstance(expr, ast.Field):
        name = expr.name
        return lambda row: row.get(name)
    if isinstance(expr, ast.Duration):
        millis = expr.millis
        return lambda row: millis
    if isinstance(expr, ast.Unary):
        inner = compile_expr(expr.operand, aggregates)
        if expr.op == "not":

            def negate(row: Row) -> Any:
                value = truth(inner(row))
                return None if value is None else not value

            return negate
        return lambda row: arithmetic("-", 0, inner(row))
    if isinstance(expr, ast.InList):
        operand = compile_expr(expr.operand, aggregates)
        items = [compile_expr(item, aggregates) for item in expr.items]
        negated = expr.negated

        def member(row: Row) -> Any:
            value = operand(row)
            if value is None:
                return None
            found = any(compare("=", value, item(row)) for item in items)
            return not found if negated else found

        return member
    if isinstance(expr, ast.Binary):
        return _compile_binary(expr, aggregates)
    if isinstance(expr, ast.Call):
        if aggregates is not None and id(expr) in aggregates:
            slot = f"\x00agg{aggregates[id(expr)]}"
            return lambda row: row.get(slot)
        return _compile_call(expr, aggregates)
    raise TypeError(f"cannot evaluate {expr!r}")


def _compile_binary(expr: ast.Binary, aggregates: dict[int, int] | None) -> Fn:
    left = compile_expr(expr.left, aggregates)
    op = expr.op
    if op in ("like", "notlike"):
        negated = op == "notlike"
        if isinstance(expr.right, ast.Regex):
            pattern = re.compile(
                expr.right.pattern, re.IGNORECASE if "i" in expr.right.flags else 0
            )

            def regex_like(row: Row) -> Any:
                text = as_text(left(row))
                if text is None:
                    return None
                return (
                    (pattern.search(text) is None)
                    if negated
                    else (pattern.search(text) is not None)
                )

            return regex_like
        needle = str(expr.right.value)  # type: ignore[attr-defined]

        def substring_like(row: Row) -> Any:
            text = as_text(left(row))
            if text is None:
                return None
            return (needle not in text) if negated else (needle in text)

        return substring_like
    right = compile_expr(expr.right, aggregates)
    if op == "and":

        def both(row: Row) -> Any:
            a = truth(left(row))
            if a is False:
                return False
            b = truth(right(row))
            if b is False:
                return False
            return None if a is None or b is None else True

        return both
    if op == "or":

        def either(row: Row) -> Any:
            a = truth(left(row))
            if a is True:
                return True
            b = truth(right(row))
            if b is True:
                return True
            return None if a is None or b is None else False

        return either
    if op in ("=", "!=", "<", "<=", ">", ">="):
        return lambda row: compare(op, left(row), right(row))
    return lambda row: arithmetic(op, left(row), right(row))


def _compile_call(expr: ast.Call, aggregates: dict[int, int] | None) -> Fn:
    name = expr.name
    if name == "bin":
        duration = expr.args[0]
        assert isinstance(duration, ast.Duration)
        bin_period: ast.Duration = duration
        return lambda row: (
            Timestamp(floor_time(row["@timestamp"], bin_period))
            if row.get("@timestamp") is not None
            else None
        )
    args = [compile_expr(arg, aggregates) for arg in expr.args]
    if name in ("datefloor", "dateceil"):
        period = expr.args[1]
        assert isinstance(period, ast.Duration)
        rounder = floor_time if name == "datefloor" else ceil_time
        source = args[0]

        def round_time(row: Row) -> Any:
            number = as_number(source(row))
            return None if number is None else Timestamp(rounder(int(number), period))

        return round_time
    if name == "ispresent":
        return lambda row: args[0](row) is not None
    if name == "isempty":
        return lambda row: (as_text(args[0](row)) or "") == ""
    if name == "isblank":
        return lambda row: (as_text(args[0](row)) or "").strip() == ""
    if name == "coalesce":
        return lambda row: next((v for v in (a(row) for a in args) if v is not None), None)
    if name == "concat":
        return lambda row: "".join(as_text(a(row)) or "" for a in args)
    if name == "replace":

        def replace(row: Row) -> Any:
            text, old, new = (as_text(a(row)) for a in args)
            if text is None or old is None:
                return None
            return text.replace(old, new or "") if old else text

        return replace
    if name == "strcontains":

        def contains(row: Row) -> Any:
            text, needle = as_text(args[0](row)), as_text(args[1](row))
            if text is None or needle is None:
                return None
            return 1 if needle in text else 0

        return contains
    fn = SIMPLE_FUNCTIONS[name]
    return lambda row: fn(*(a(row) for a in args))


# ---- aggregates ------------------------------------------------------------------------


class Accumulator:
    def __init__(self, call: ast.Call):
        self.name = call.name
        self.arg = None if call.star else compile_expr(call.args[0])
        self.percent = float(call.args[1].value) if call.name == "pct" else 0.0  # type: ignore[attr-defined]
        self.count = 0
        self.total = 0.0
        self.sq = 0.0
        self.value: Any = None
        self.when: int | None = None
        self.values: Any = (
            array("d") if self.name == "pct" else (set() if self.name == "count_distinct" else None)
        )
        self.numbers: list[float] = []

    def add(self, row: Row) -> None:
        name = self.name
        if self.arg is None:
            self.count += 1
            return
        value = self.arg(row)
        if value is None:
            return
        if name == "count":
            self.count += 1
        elif name == "count_distinct":
            self.values.add(as_text(value))
        elif name in ("earliest", "latest"):
            when = row.get("@timestamp") or 0
            if self.when is None or (when < self.when if name == "earliest" else when > self.when):
                self.when, self.value = when, value
        else:
            number = as_number(value)
            if number is None:
                return
            self.count += 1
            if name in ("sum", "avg"):
                self.total += number
            elif name == "min":
                self.value = number if self.value is None else min(self.value, number)
            elif name == "max":
                self.value = number if self.value is None else max(self.value, number)
            elif name == "pct":
                self.values.append(number)
            elif name == "stddev":
                self.numbers.append(number)

    def result(self) -> Any:
        name = self.name
        if name == "count":
            return self.count
        if name == "count_distinct":
            return len(self.values)
        if name in ("earliest", "latest", "min", "max"):
            return self.value
        if self.count == 0:
            return None
        if name == "sum":
            return self.total
        if name == "avg":
            return self.total / self.count
        if name == "pct":
            return percentile(sorted(self.values), self.percent)
        if name == "stddev":
            if len(self.numbers) < 2:
                return None
            mean = sum(self.numbers) / len(self.numbers)
            return math.sqrt(sum((x - mean) ** 2 for x in self.numbers) / (len(self.numbers) - 1))
        return None


def percentile(ordered: list[float], percent: float) -> float | None:
    """Linear interpolation between closest ranks (DuckDB's quantile_cont, numpy's default)."""
    if not ordered:
        return None
    percent = min(max(percent, 0.0), 100.0)
    rank = percent / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def aggregate_calls(expr: ast.Expr, out: list[ast.Call]) -> list[ast.Call]:
    if isinstance(expr, ast.Call):
        if expr.name in AGGREGATE_FUNCTIONS:
            out.append(expr)
        else:
            for arg in expr.args:
                aggregate_calls(arg, out)
    elif isinstance(expr, ast.Binary):
        aggregate_calls(expr.left, out)
        aggregate_calls(expr.right, out)
    elif isinstance(expr, ast.Unary | ast.InList):
        aggregate_calls(expr.operand, out)
    return out


# ---- the pipeline ----------------------------------------------------------------------


class Stream:
    """Rows plus what we know of their order: `ordered` false means 'default order applies'."""

    def __init__(self, rows: Iterable[Row], ordered: bool, default_key: Callable[[Row], tuple]):
        self.rows, self.ordered, self.default_key = rows, ordered, default_key

    def in_order(self) -> Iterable[Row]:
        if self.ordered:
            return self.rows
        return sorted(self.rows, key=self.default_key)


def event_order(row: Row) -> tuple:
    """Default order of events: newest first, then by message text (documented choice)."""
    return (-(row.get("@timestamp") or 0), as_text(row.get("@message")) or "")


def group_order(names: list[str]) -> Callable[[Row], tuple]:
    def key(row: Row) -> tuple:
        return tuple(sort_key(row.get(n)) for n in names)

    return key


class Evaluator:
    def __init__(self, query: ast.Query, limit: int | None = None):
        self.query = query
        self.limit = limit

    def run(self, rows: Iterable[Row]) -> tuple[list[str], list[Row]]:
        """Run the pipeline; returns (column names, rows in final order, limited)."""
        commands = list(self.query.commands)
        stream = Stream(rows, ordered=False, default_key=event_order)
        columns: list[str] = []
        display: list[str] | None = None
        stats_done = False
        for index, command in enumerate(commands):
            if isinstance(command, ast.Filter):
                stream = self._filter(stream, command)
            elif isinstance(command, ast.Fields | ast.Display):
                stream = self._fields(stream, command)
                names = [item.name for item in command.items]
                if isinstance(command, ast.Display):
                    display = names
                else:
                    columns.extend(n for n in names if n not in columns)
            elif isinstance(command, ast.Parse):
                stream = self._parse(stream, command)
                columns.extend(n for n in command.names if n not in columns)
            elif isinstance(command, ast.Stats):
                stream = self._stats(stream, command)
                stats_done = True
                columns = [item.name for item in command.groups + command.aggregates]
                display = None
            elif isinstance(command, ast.Sort):
                following = commands[index + 1] if index + 1 < len(commands) else None
                top = following.count if isinstance(following, ast.Limit) else None
                stream = self._sort(stream, command, top)
            elif isinstance(command, ast.Limit):
                stream = self._limit(stream, command.count)
            elif isinstance(command, ast.Dedup):
                stream = self._dedup(stream, command)
        final_limit = DEFAULT_LIMIT if self.limit is None else self.limit
        stream = self._limit(stream, final_limit)
        if display is not None:
            columns = display
        elif not stats_done and not any(isinstance(c, ast.Fields) for c in commands):
            columns = ["@timestamp", "@message"] + [
                c for c in columns if c not in ("@timestamp", "@message")
            ]
        return columns, list(stream.rows)

    # each step returns a new Stream

    def _filter(self, stream: Stream, command: ast.Filter) -> Stream:
        condition = compile_expr(command.condition)
        rows = (row for row in stream.rows if truth(condition(row)) is True)
        return Stream(rows, stream.ordered, stream.default_key)

    def _fields(self, stream: Stream, command: ast.Fields | ast.Display) -> Stream:
        computed = [
            (item.name, compile_expr(item.expr))
            for item in command.items
            if not (isinstance(item.expr, ast.Field) and item.expr.name == item.name)
        ]
        if not computed:
            return stream

        def project(rows: Iterable[Row]) -> Iterator[Row]:
            for row in rows:
                values = [(name, fn(row)) for name, fn in computed]
                row = dict(row)
                for name, value in values:
                    if value is None:
                        row.pop(name, None)
                    else:
                        row[name] = value
                yield row

        return Stream(project(stream.rows), stream.ordered, stream.default_key)

    def _parse(self, stream: Stream, command: ast.Parse) -> Stream:
        pattern = re.compile(command.regex, re.DOTALL)
        source = compile_expr(command.source)
        groups = list(pattern.groupindex)
        names = command.names

        def extract(rows: Iterable[Row]) -> Iterator[Row]:
            for row in rows:
                text = as_text(source(row))
                match = pattern.search(text) if text is not None else None
                row = dict(row)
                for group, name in zip(groups, names, strict=True):
                    value = match.group(group) if match else None
                    if value is None:
                        row.pop(name, None)
                    else:
                        row[name] = value
                yield row

        return Stream(extract(stream.rows), stream.ordered, stream.default_key)

    def _stats(self, stream: Stream, command: ast.Stats) -> Stream:
        calls: list[ast.Call] = []
        for item in command.aggregates:
            aggregate_calls(item.expr, calls)
        slots = {id(call): index for index, call in enumerate(calls)}
        group_fns = [compile_expr(item.expr) for item in command.groups]
        groups: dict[tuple, tuple[list[Any], list[Accumulator]]] = {}
        for row in stream.rows:
            values = [fn(row) for fn in group_fns]
            key = tuple(as_text(v) for v in values)
            entry = groups.get(key)
            if entry is None:
                entry = groups[key] = (values, [Accumulator(call) for call in calls])
            for accumulator in entry[1]:
                accumulator.add(row)
        if not groups and not command.groups:
            groups[()] = ([], [Accumulator(call) for call in calls])
        outputs = [(item.name, compile_expr(item.expr, slots)) for item in command.aggregates]
        rows: list[Row] = []
        for values, accumulators in groups.values():
            row = {}
            for item, value in zip(command.groups, values, strict=True):
                if value is not None:
                    row[item.name] = value
            slot_row: Row = {f"\x00agg{i}": acc.result() for i, acc in enumerate(accumulators)}
            for name, fn in outputs:
                value = fn(slot_row)
                slot_row[name] = value  # later items may use this one by its alias
                if value is not None:
                    row[name] = value
            rows.append(row)
        return Stream(
            rows, ordered=False, default_key=group_order([g.name for g in command.groups])
        )

    def _sort(self, stream: Stream, command: ast.Sort, top: int | None) -> Stream:
        keys = [(compile_expr(k.expr), k.descending) for k in command.keys]
        default = stream.default_key

        def key(item: tuple[int, Row]) -> tuple:
            position, row = item
            parts = []
            for fn, descending in keys:
                kind, number, text = sort_key(fn(row))
                if descending:  # missing values still last
                    parts.append(
                        (kind if kind == 2 else 1 - kind, _Reverse(number if kind == 1 else text))
                    )
                else:
                    parts.append((kind, number if kind == 1 else text))
            # Ties keep the current order: the previous sort's, else the default order.
            return (tuple(parts), position if stream.ordered else default(row))

        items = enumerate(stream.rows)
        if top is not None:
            rows = [row for _, row in heapq.nsmallest(top, items, key=key)]
        else:
            rows = [row for _, row in sorted(items, key=key)]
        return Stream(rows, ordered=True, default_key=default)

    def _limit(self, stream: Stream, count: int) -> Stream:
        if stream.ordered:
            return Stream(itertools.islice(stream.rows, count), True, stream.default_key)
        return Stream(
            heapq.nsmallest(count, stream.rows, key=stream.default_key), True, stream.default_key
        )

    def _dedup(self, stream: Stream, command: ast.Dedup) -> Stream:
        seen: set[tuple] = set()
        names = command.fields

        def unique(rows: Iterable[Row]) -> Iterator[Row]:
            for row in rows:
                values = tuple(as_text(row.get(n)) for n in names)
                if any(v is None for v in values):
                    yield row  # documented choice: rows missing a dedup field are kept
                    continue
                if values not in seen:
                    seen.add(values)
                    yield row

        return Stream(unique(stream.in_order()), True, stream.default_key)


class _Reverse:
    """Inverts ordering of a wrapped value (for descending keys inside a tuple)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __lt__(self, other: _Reverse) -> bool:
        return other.value < self.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reverse) and other.value == self.value
