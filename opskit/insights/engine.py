"""The local Logs Insights engine: parse once, run on DuckDB when the query compiles, else in Python.

Semantics (shared by both paths; CloudWatch documents the first three, we chose the rest):
* a query without `limit` returns at most 10,000 rows (documented default);
* `sort` orders non-numbers before numbers, strings in natural order (documented);
* `bin()` accepts ms/s/m/h/d/w and 1mo/1q/1y (documented units);
* unsorted events come newest first (ties: message in natural order); unsorted `stats`
  rows come ordered by their group values; missing values sort last either way;
* a missing field makes comparisons, arithmetic and functions missing, so `filter` drops
  the event (`!=` too); `ispresent/isempty/isblank/coalesce/concat` are the exceptions;
* comparing a number with a non-numeric string: `=` false, `!=` true, `<`/`>` false;
  strings that are only a number (e.g. parsed "503") compare as numbers;
* `pct` interpolates linearly between closest ranks; `stddev` is the sample deviation;
  `count_distinct` is exact; `min`/`max`/`sum`/`avg` ignore non-numeric values;
* JSON booleans become 1/0, JSON null is a missing field; rows omit missing fields;
* `dedup` keeps the first row per value combination in the current order and keeps rows
  where a dedup field is missing; output columns are the `display` fields, else the
  `stats` columns, else every `fields`/`parse` field, else @timestamp and @message.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opskit.insights import ast
from opskit.insights.evaluator import Evaluator
from opskit.insights.events import file_kind, read_events, record
from opskit.insights.parser import parse_query
from opskit.insights.values import render


@dataclass
class Result:
    columns: list[str]
    rows: list[dict[str, str]]  # rendered like GetQueryResults: field -> string
    engine: str  # "duckdb" or "python"
    statistics: dict[str, float] = field(default_factory=dict)


def render_rows(columns: list[str], rows: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for row in rows:
        rendered = {}
        for column in columns:
            text = render(row.get(column))
            if text is not None:
                rendered[column] = text
        out.append(rendered)
    return out


def in_range(event: dict[str, Any], start_ms: int | None, end_ms: int | None) -> bool:
    stamp = event.get("timestamp") or 0
    return (start_ms is None or stamp >= start_ms) and (end_ms is None or stamp <= end_ms)


def run_events(
    query: str | ast.Query,
    events: Iterable[dict[str, Any]],
    *,
    limit: int | None = None,
    log_group: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> Result:
    """Run a query over CloudWatch events (dicts) with the Python engine."""
    parsed = parse_query(query) if isinstance(query, str) else query
    rows = (record(e, log_group) for e in events if in_range(e, start_ms, end_ms))
    columns, out = Evaluator(parsed, limit).run(rows)
    return Result(columns, render_rows(columns, out), "python")


def run_file(
    query: str | ast.Query,
    path: Path,
    *,
    limit: int | None = None,
    log_group: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    engine: str = "auto",
) -> Result:
    """Run a query over an events file. engine: auto (DuckDB when it compiles), duckdb, python."""
    parsed = parse_query(query) if isinstance(query, str) else query
    engine = os.environ.get("OPSKIT_INSIGHTS_ENGINE", engine)
    if engine in ("auto", "duckdb") and file_kind(path) == "lines":
        from opskit.insights import duck

        compiled = duck.compile_query(
            parsed, limit=limit, log_group=log_group, start_ms=start_ms, end_ms=end_ms
        )
        if compiled is not None:
            outcome = duck.execute(compiled, path)
            if outcome is not None:
                return outcome
        if engine == "duckdb":
            from opskit.errors import QueryFailed

            raise QueryFailed(
                "the DuckDB engine cannot run this query",
                "it uses a feature only the Python engine has",
                "use --engine auto",
            )
    return run_events(
        parsed,
        read_events(path),
        limit=limit,
        log_group=log_group,
        start_ms=start_ms,
        end_ms=end_ms,
    )
