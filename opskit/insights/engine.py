"""The local Logs Insights engine: parse once, validate, then run on a backend.

Semantics (shared by both backends; CloudWatch documents the first three, we chose the rest):
* a query without `limit` returns at most 10,000 rows (documented default);
* `sort` orders non-numbers before numbers, strings in natural order (documented);
* `bin()` accepts ms/s/m/h/d/w and 1mo/1q/1y (documented units);
* unsorted events come newest first (ties: message in natural order); unsorted `stats`
  rows come ordered by their group values; missing values sort last either way;
* a missing field makes comparisons, arithmetic and functions missing, so `filter` drops
  the event (`!=` too); `ispresent/isempty/isblank/coalesce/concat/if` are the exceptions;
* comparing a number with a non-numeric string: `=` false, `!=` true, `<`/`>` false;
  strings that are only a number (e.g. parsed "503") compare as numbers;
* `pct` interpolates linearly between closest ranks; `stddev` is the sample deviation;
  `count_distinct` is exact; `min`/`max`/`sum`/`avg` ignore non-numeric values;
* JSON booleans become 1/0, JSON null is a missing field; rows omit missing fields;
* `dedup` keeps the first row per value combination in the current order and keeps rows
  where a dedup field is missing.

Engine choice: an explicit `engine` ("duckdb", "python") wins over OPSKIT_INSIGHTS_ENGINE,
which wins over "auto". Auto runs small files in Python (no DuckDB import: a small query
starts fast) and everything else on DuckDB, falling back to Python for what DuckDB cannot
run (a regex feature RE2 lacks). `--engine duckdb` never silently runs Python.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from opskit import envvars
from opskit.errors import QueryFailed
from opskit.insights import ast, pipeline
from opskit.insights.parser import parse_query
from opskit.insights.result import Result
from opskit.logs.events import file_format, read_events, write_events
from opskit.logs.fields import record

ENGINES = ("auto", "duckdb", "python")
SMALL_FILE_BYTES = 4 << 20  # below this, auto runs Python: importing DuckDB costs more


def resolve_engine(engine: str | None) -> str:
    """An explicit choice beats OPSKIT_INSIGHTS_ENGINE, which beats auto."""
    chosen = engine or os.environ.get(envvars.INSIGHTS_ENGINE) or "auto"
    if chosen not in ENGINES:
        from opskit.errors import ConfigError

        raise ConfigError(
            f"unknown engine {chosen!r}",
            f"expected one of {', '.join(ENGINES)}",
            "unset OPSKIT_INSIGHTS_ENGINE or pass --engine auto",
        )
    return chosen


def in_range(event: dict[str, Any], start_ms: int | None, end_ms: int | None) -> bool:
    stamp = event.get("timestamp") or 0
    return (start_ms is None or stamp >= start_ms) and (end_ms is None or stamp <= end_ms)


def _parsed(query: str | ast.Query) -> ast.Query:
    parsed = parse_query(query) if isinstance(query, str) else query
    pipeline.validate(parsed)
    return parsed


def run_events(
    query: str | ast.Query,
    events: Iterable[dict[str, Any]],
    *,
    limit: int | None = None,
    log_group: str | None = None,
    account_id: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> Result:
    """Run a query over CloudWatch events (dicts) with the Python backend."""
    from opskit.insights.backends.python import PythonBackend

    parsed = _parsed(query)
    rows = (record(e, log_group, account_id) for e in events if in_range(e, start_ms, end_ms))
    columns, out = pipeline.run(parsed, PythonBackend(rows), limit)
    return Result(columns, out, "python")


def run_file(
    query: str | ast.Query,
    path: Path,
    *,
    limit: int | None = None,
    log_group: str | None = None,
    account_id: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    engine: str | None = None,
    cache: bool = False,
) -> Result:
    """Run a query over an events file (any format opskit.logs.events reads).

    cache=True keeps a columnar copy of the parsed export under .opskit/cache/ (DuckDB only).
    """
    parsed = _parsed(query)
    chosen = resolve_engine(engine)
    fmt = file_format(path)
    options = dict(
        limit=limit, log_group=log_group, account_id=account_id, start_ms=start_ms, end_ms=end_ms
    )
    if fmt == "empty":
        return run_events(parsed, [], **options)  # type: ignore[arg-type]
    if chosen == "auto" and path.stat().st_size < SMALL_FILE_BYTES:
        chosen = "python"
    if chosen == "python":
        return run_events(parsed, read_events(path, fmt), **options)  # type: ignore[arg-type]
    from opskit.insights.backends import duckdb as duck

    try:
        return _run_duckdb(parsed, path, fmt, cache, **options)  # type: ignore[arg-type]
    except duck.Unsupported as exc:
        reason = str(exc)
    except Exception as exc:  # duckdb.Error: e.g. a regex RE2 cannot compile
        import duckdb

        if not isinstance(exc, duckdb.Error):
            raise
        reason = str(exc).splitlines()[0]
    if chosen == "duckdb":
        raise QueryFailed(
            "the DuckDB engine cannot run this query",
            reason,
            "use --engine auto (it falls back to the Python engine) or --engine python",
        )
    return run_events(parsed, read_events(path, fmt), **options)  # type: ignore[arg-type]


def _backend(parsed: ast.Query, relation: str, cached: set[str] | None, options: dict) -> Any:
    from opskit.insights.backends.duckdb import DuckBackend

    return DuckBackend(relation, parsed, cached=cached, **options)


def _run_duckdb(
    parsed: ast.Query,
    path: Path,
    fmt: str,
    cache: bool,
    *,
    limit: int | None,
    log_group: str | None,
    account_id: str | None,
    start_ms: int | None,
    end_ms: int | None,
) -> Result:
    from opskit.insights.backends.duckdb import events_relation

    options = dict(log_group=log_group, account_id=account_id, start_ms=start_ms, end_ms=end_ms)
    with tempfile.TemporaryDirectory(prefix="opskit-insights-") as tmp:
        source = path
        if fmt != "lines":  # documents and raw lines: normalised once by the events layer
            source = Path(tmp) / "events.jsonl"
            write_events(read_events(path, fmt), source)  # type: ignore[arg-type]
        if cache:
            try:
                return _run_cached(parsed, path, source, limit, options)
            except OSError:
                pass  # no cache here (read-only directory, or another query holds its lock)
            except Exception as exc:
                import duckdb

                if not isinstance(exc, duckdb.IOException):
                    raise
        from opskit.insights.backends.duckdb import connect

        con = connect()
        try:
            backend = _backend(parsed, events_relation(str(source)), None, options)
            columns, _ = pipeline.run(parsed, backend, limit)
            rows = backend.execute(con)
        finally:
            con.close()
        return Result(columns, rows, "duckdb")


def _run_cached(
    parsed: ast.Query, path: Path, source: Path, limit: int | None, options: dict
) -> Result:
    """Run on the columnar cache of `path` (built or extended as the query needs)."""
    import duckdb

    from opskit.insights.backends.duckdb import events_relation
    from opskit.logs.columnar import open_cached

    messages = None  # the cache decides from the query whether messages are needed
    while True:
        con, relation, cached = open_cached(
            path, events_relation(str(source)), parsed, messages=messages
        )
        try:
            backend = _backend(parsed, relation, cached, options)
            columns, _ = pipeline.run(parsed, backend, limit)
            return Result(columns, backend.execute(con), "duckdb", cached=True)
        except duckdb.BinderException:
            if messages:  # the cache had everything: a real error
                raise
            messages = True  # the query read the message after all: cache it and rerun
        finally:
            con.close()
