"""The Python backend: streams rows (dicts) through the pipeline's commands.

The reference semantics for every command and function; DuckDB (backends/duckdb.py)
compiles the same queries for speed and must give the same answers (the conformance and
differential suites run both). Functions come from the registry (functions.py).
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from opskit.insights import ast, walk
from opskit.insights.functions import Accumulator, Descending, lookup
from opskit.insights.values import as_number, as_text, render, sort_key, truth

Row = dict[str, Any]
Fn = Callable[[Row], Any]


# ---- scalar semantics --------------------------------------------------------------


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


def field_value(row: Row, name: str) -> Any:
    """A field, or a path into a structure (`json_message.status_code`, `list.0`)."""
    value = row.get(name)
    if value is not None or "." not in name:
        return value
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        base = row.get(".".join(parts[:cut]))
        if isinstance(base, dict | list):
            return _descend(base, parts[cut:])
    return None


def _descend(value: Any, path: list[str]) -> Any:
    for part in path:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    if isinstance(value, bool):
        return 1 if value else 0
    return value


# ---- compiling expressions to closures ---------------------------------------------------


def compile_expr(expr: ast.Expr, slots: dict[int, str] | None = None) -> Fn:
    """A closure computing `expr` on a row. In stats output, aggregate calls read their slot."""
    if isinstance(expr, ast.Literal):
        value = expr.value
        return lambda row: value
    if isinstance(expr, ast.Field):
        name = expr.name
        if "." in name:
            return lambda row: field_value(row, name)
        return lambda row: row.get(name)
    if isinstance(expr, ast.Duration):
        millis = expr.millis
        return lambda row: millis
    if isinstance(expr, ast.Unary):
        inner = compile_expr(expr.operand, slots)
        if expr.op == "not":

            def negate(row: Row) -> Any:
                value = truth(inner(row))
                return None if value is None else not value

            return negate
        return lambda row: arithmetic("-", 0, inner(row))
    if isinstance(expr, ast.InList):
        operand = compile_expr(expr.operand, slots)
        items = [compile_expr(item, slots) for item in expr.items]
        negated = expr.negated

        def member(row: Row) -> Any:
            value = operand(row)
            if value is None:
                return None
            found = any(compare("=", value, item(row)) for item in items)
            return not found if negated else found

        return member
    if isinstance(expr, ast.Binary):
        return _compile_binary(expr, slots)
    if isinstance(expr, ast.Call):
        if slots is not None and id(expr) in slots:
            slot = slots[id(expr)]
            return lambda row: row.get(slot)
        return _compile_call(expr, slots)
    raise TypeError(f"cannot evaluate {expr!r}")


def compile_regex(regex: ast.Regex) -> re.Pattern[str]:
    return re.compile(regex.pattern, re.IGNORECASE if "i" in regex.flags else 0)


def _compile_binary(expr: ast.Binary, slots: dict[int, str] | None) -> Fn:
    left = compile_expr(expr.left, slots)
    op = expr.op
    if op in ("like", "notlike"):
        negated = op == "notlike"
        if isinstance(expr.right, ast.Regex):
            pattern = compile_regex(expr.right)

            def regex_like(row: Row) -> Any:
                text = as_text(left(row))
                if text is None:
                    return None
                return (pattern.search(text) is None) is negated

            return regex_like
        assert isinstance(expr.right, ast.Literal)
        needle = str(expr.right.value)

        def substring_like(row: Row) -> Any:
            text = as_text(left(row))
            if text is None:
                return None
            return (needle not in text) if negated else (needle in text)

        return substring_like
    right = compile_expr(expr.right, slots)
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


def _constant(value: Any) -> Fn:
    return lambda row: value


def _compile_call(expr: ast.Call, slots: dict[int, str] | None) -> Fn:
    function = lookup(expr.name)
    assert function is not None and not function.aggregate, expr.name
    impl = function.python
    args: list[Fn] = []
    for index, arg in enumerate(expr.args):
        if index in function.period_args:
            args.append(_constant(arg))
        else:
            args.append(compile_expr(arg, slots))
    if function.uses_timestamp:
        args.insert(0, lambda row: row.get("@timestamp"))
    if not args:
        return lambda row: impl()
    if len(args) == 1:
        only = args[0]
        return lambda row: impl(only(row))
    return lambda row: impl(*(a(row) for a in args))


# ---- the backend -------------------------------------------------------------------------


def event_order(row: Row) -> tuple:
    """Default order of events: newest first, then by message text (documented choice)."""
    return (-(row.get("@timestamp") or 0), as_text(row.get("@message")) or "")


def group_order(names: list[str]) -> Callable[[Row], tuple]:
    def key(row: Row) -> tuple:
        return tuple(sort_key(row.get(n)) for n in names)

    return key


class PythonBackend:
    """Rows plus what we know of their order: `ordered` false means 'default order applies'."""

    name = "python"

    def __init__(self, rows: Iterable[Row]):
        self.rows: Iterable[Row] = rows
        self.ordered = False
        self.default_key: Callable[[Row], tuple] = event_order

    def _in_order(self) -> Iterable[Row]:
        return self.rows if self.ordered else sorted(self.rows, key=self.default_key)

    def filter(self, command: ast.Filter) -> None:
        condition = compile_expr(command.condition)
        self.rows = (row for row in self.rows if truth(condition(row)) is True)

    def fields(self, items: tuple[ast.Projection, ...]) -> None:
        computed = [
            (item.name, compile_expr(item.expr))
            for item in items
            if not (isinstance(item.expr, ast.Field) and item.expr.name == item.name)
        ]
        if computed:
            self.rows = _assign(self.rows, computed)

    def parse(self, command: ast.Parse) -> None:
        pattern = re.compile(command.regex, re.DOTALL)
        source = compile_expr(command.source)
        pairs = list(zip(pattern.groupindex, command.names, strict=True))

        def extract(rows: Iterable[Row]) -> Iterator[Row]:
            for row in rows:
                text = as_text(source(row))
                match = pattern.search(text) if text is not None else None
                row = dict(row)
                for group, name in pairs:
                    value = match.group(group) if match else None
                    if value is None:
                        row.pop(name, None)
                    else:
                        row[name] = value
                yield row

        self.rows = extract(self.rows)

    def unnest(self, command: ast.Unnest) -> None:
        source, into = compile_expr(command.source), command.into
        keyed = self.ordered

        def expand(rows: Iterable[Row]) -> Iterator[Row]:
            for row in rows:
                value = source(row)
                if value is None:
                    continue  # nothing to unnest: the record is dropped
                for item in value if isinstance(value, list) else [value]:
                    out = dict(row)
                    if isinstance(item, bool):
                        item = 1 if item else 0
                    if item is None:
                        out.pop(into, None)
                    else:
                        out[into] = item
                    yield out

        if keyed:
            self.rows = expand(self.rows)
        else:  # items keep their list order under the default (event) order
            ordered = self._in_order()
            self.rows = list(expand(ordered))
            self.ordered = True

    def stats(self, command: ast.Stats) -> None:
        calls = walk.calls(tuple(item.expr for item in command.aggregates), aggregate=True)
        slots = {id(call): f"\x00agg{index}" for index, call in enumerate(calls)}
        inputs = [
            None if call.star or not call.args else compile_expr(call.args[0]) for call in calls
        ]
        kinds = [lookup(call.name).python for call in calls]  # type: ignore[union-attr]
        group_fns = [compile_expr(item.expr) for item in command.groups]
        groups: dict[tuple, tuple[list[Any], list[Accumulator]]] = {}
        for row in self.rows:
            values = [fn(row) for fn in group_fns]
            key = tuple(as_text(v) for v in values)
            entry = groups.get(key)
            if entry is None:
                entry = groups[key] = (
                    values,
                    [kind(call) for kind, call in zip(kinds, calls, strict=True)],
                )
            stamp = row.get("@timestamp") or 0
            for accumulator, fn in zip(entry[1], inputs, strict=True):
                accumulator.add(None if fn is None else fn(row), stamp)
        if not groups and not command.groups:
            groups[()] = ([], [kind(call) for kind, call in zip(kinds, calls, strict=True)])
        outputs = [(item.name, compile_expr(item.expr, slots)) for item in command.aggregates]
        rows: list[Row] = []
        for values, accumulators in groups.values():
            out: Row = {}
            for item, value in zip(command.groups, values, strict=True):
                if value is not None:
                    out[item.name] = value
            slot_row: Row = {
                slots[id(c)]: acc.result() for c, acc in zip(calls, accumulators, strict=True)
            }
            for name, fn in outputs:
                value = fn(slot_row)
                slot_row[name] = value  # later items may use this one by its alias
                if value is not None:
                    out[name] = value
            rows.append(out)
        self.rows = rows
        self.ordered = False
        self.default_key = group_order([g.name for g in command.groups])

    def sort(self, command: ast.Sort, top: int | None) -> None:
        keys = [(compile_expr(k.expr), k.descending) for k in command.keys]
        default, ordered = self.default_key, self.ordered

        def key(item: tuple[int, Row]) -> tuple:
            position, row = item
            parts = []
            for fn, descending in keys:
                kind, number, text = sort_key(fn(row))
                if descending:  # missing values still last
                    parts.append(
                        (kind if kind == 2 else 1 - kind, Descending(number if kind == 1 else text))
                    )
                else:
                    parts.append((kind, number if kind == 1 else text))
            # Ties keep the current order: the previous sort's, else the default order.
            return (tuple(parts), position if ordered else default(row))

        items = enumerate(self.rows)
        if top is not None:
            self.rows = [row for _, row in heapq.nsmallest(top, items, key=key)]
        else:
            self.rows = [row for _, row in sorted(items, key=key)]
        self.ordered = True

    def limit(self, count: int) -> None:
        if self.ordered:
            self.rows = itertools.islice(self.rows, count)
        else:
            self.rows = heapq.nsmallest(count, self.rows, key=self.default_key)
            self.ordered = True

    def dedup(self, command: ast.Dedup) -> None:
        seen: set[tuple] = set()
        names = command.fields

        def unique(rows: Iterable[Row]) -> Iterator[Row]:
            for row in rows:
                values = tuple(as_text(field_value(row, n)) for n in names)
                if any(v is None for v in values):
                    yield row  # documented choice: rows missing a dedup field are kept
                    continue
                if values not in seen:
                    seen.add(values)
                    yield row

        self.rows = unique(self._in_order())
        self.ordered = True

    def finish(self, columns: list[str], limit: int) -> list[dict[str, str]]:
        self.limit(limit)
        out = []
        for row in self.rows:
            rendered = {}
            for column in columns:
                text = render(field_value(row, column))
                if text is not None:
                    rendered[column] = text
            out.append(rendered)
        return out


def _assign(rows: Iterable[Row], computed: list[tuple[str, Fn]]) -> Iterator[Row]:
    for row in rows:
        values = [(name, fn(row)) for name, fn in computed]
        row = dict(row)
        for name, value in values:
            if value is None:
                row.pop(name, None)
            else:
                row[name] = value
        yield row
