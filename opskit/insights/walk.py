"""The one AST walk: every node of a query, depth first, and the questions asked of it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields as dataclass_fields
from typing import Any

from opskit.insights import ast
from opskit.insights.functions import is_aggregate


def nodes(node: Any) -> Iterator[Any]:
    """`node` and everything under it (expressions, commands, projections, sort keys)."""
    if isinstance(node, tuple | list):
        for item in node:
            yield from nodes(item)
        return
    if not isinstance(node, ast.Expr | ast.Command | ast.Projection | ast.SortKey | ast.Query):
        return
    yield node
    for item in dataclass_fields(node):
        value = getattr(node, item.name)
        if isinstance(value, tuple | list | ast.Expr | ast.Command | ast.Projection | ast.SortKey):
            yield from nodes(value)


def field_names(node: Any) -> set[str]:
    """Every field a node reads (a `dedup` or a plain `fields x` reads `x` too)."""
    names: set[str] = set()
    for item in nodes(node):
        if isinstance(item, ast.Field):
            names.add(item.name)
        elif isinstance(item, ast.Dedup):
            names.update(item.fields)
        elif isinstance(item, ast.Call) and item.name == "bin":
            names.add("@timestamp")
    return names


def calls(node: Any, *, aggregate: bool | None = None) -> list[ast.Call]:
    """Function calls under `node`; aggregate=True/False keeps only that kind.

    Aggregates are not looked into: an aggregate's own argument is scalar by grammar.
    """
    out: list[ast.Call] = []

    def visit(item: Any) -> None:
        if isinstance(item, ast.Call):
            agg = is_aggregate(item.name)
            if aggregate is None or agg == aggregate:
                out.append(item)
            if agg:
                return
        if isinstance(item, ast.Expr):
            for child in dataclass_fields(item):
                value = getattr(item, child.name)
                for sub in value if isinstance(value, tuple) else (value,):
                    if isinstance(sub, ast.Expr):
                        visit(sub)

    for item in node if isinstance(node, tuple | list) else (node,):
        visit(item)
    return out


def contains_aggregate(node: Any) -> bool:
    return bool(calls(node, aggregate=True))
