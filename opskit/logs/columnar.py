"""Build and extend the columnar cache (cache.py says where and when it is valid).

One database per export, tables row-aligned with the export (DuckDB keeps insertion order;
queries read them side by side with POSITIONAL JOIN):
* `t0`: the CloudWatch columns but the message (time, stream, ingestion time, group) and the
  fields the first query read; `t1`, `t2`, ...: fields later queries added;
* `messages`: the message and its JSON part, stored (uncompressed: it is the fast path) only
  when a query needs them, so a first `stats` query costs about what an uncached one does.
Fields are added from `messages` once it exists, else from the export itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opskit.insights import ast, walk
from opskit.logs import fields as discovered
from opskit.logs.cache import entry_for

WHOLE_JSON = "CASE WHEN __whole THEN __msg ELSE __json END"
BASE_COLUMNS = "__ts, __stream, __ingest, __group"


def needs_messages(query: ast.Query) -> bool:
    """Does running `query` read @message or its JSON beyond the cached field columns?

    Only a query whose commands up to its first `stats` filter and aggregate cached fields
    does not: before `stats`, default order, parse, unnest and structures read the message.
    """
    commands = query.commands
    first = next((i for i, c in enumerate(commands) if isinstance(c, ast.Stats)), None)
    if first is None:
        return True
    head = commands[: first + 1]
    if any(isinstance(c, ast.Parse | ast.Unnest | ast.Sort | ast.Limit | ast.Dedup) for c in head):
        return True
    if walk.field_names(head) & {"@message", "@ptr"}:
        return True
    return any(call.name == "jsonparse" for call in walk.calls(_expressions(head)))


def _expressions(commands: tuple[ast.Command, ...]) -> tuple[ast.Expr, ...]:
    return tuple(node for node in walk.nodes(commands) if isinstance(node, ast.Expr))


def _tables(con: Any) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE regexp_full_match(table_name, 't[0-9]+') "
        "ORDER BY CAST(substr(table_name, 2) AS INTEGER)"
    ).fetchall()
    return [row[0] for row in rows]


def _has(con: Any, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
        ).fetchone()[0]
    )


def open_cached(
    path: Path, relation: str, query: ast.Query, *, messages: bool | None = None
) -> tuple[Any, str, set[str]]:
    """A connection to `path`'s cache holding every field `query` may read.

    Returns (connection, a prepared relation over the cache, names of the cached fields).
    """
    from opskit.insights.backends.duckdb import (
        PLATFORM_KINDS,
        _platform_sql,
        connect,
        field_columns,
        is_json_field,
        json_paths,
        prepared,
    )
    from opskit.insights.backends.sql import ident, q

    with_messages = needs_messages(query) if messages is None else messages
    con = connect(str(entry_for(path)))
    try:
        tables = _tables(con)
        has_messages = _has(con, "messages")
        if with_messages and not has_messages:
            con.execute("SET force_compression = 'uncompressed'")
            con.execute(
                "CREATE TABLE messages AS SELECT __msg, __json = __msg AS __whole, "
                f"CASE WHEN __json <> __msg THEN __json END AS __json FROM ({prepared(relation)})"
            )
            con.execute("RESET force_compression")
            has_messages = True
        present = {
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE regexp_full_match(table_name, 't[0-9]+')"
            ).fetchall()
        }
        cached = {c[2:] for c in present if c.startswith("f:")}
        wanted = sorted(
            n
            for n in walk.field_names(query) - cached
            if is_json_field(n) or n in discovered.PLATFORM_FIELDS
        )
        if wanted or not tables:
            selects: list[str] = []
            paths: list[str] = []
            for name in wanted:
                if name in PLATFORM_KINDS:
                    selects.append(f"{_platform_sql(name)} AS {ident('f:' + name)}")
                    continue
                candidates = json_paths(name)
                first = len(paths) + 1
                paths += candidates
                j = (
                    "COALESCE("
                    + ", ".join(f"__j[{i}]" for i in range(first, first + len(candidates)))
                    + ")"
                )
                text, number = field_columns(name, j)
                selects += [f"{text} AS {ident('f:' + name)}", f"{number} AS {ident('n:' + name)}"]
            if not tables:
                selects.insert(0, BASE_COLUMNS)
            listed = ", ".join(q(p) for p in paths) if paths else "'$.__none__'"
            if has_messages:
                source = f"SELECT * REPLACE ({WHOLE_JSON} AS __json) FROM messages"
                if not tables:  # the base columns are not in `messages`: read the export
                    source = prepared(relation)
            else:
                source = prepared(relation)
            table = f"t{len(tables)}"
            con.execute(
                f"CREATE TABLE {table} AS SELECT {', '.join(selects)} FROM "
                f"(SELECT *, try(json_extract(__json, [{listed}])) AS __j FROM ({source}))"
            )
            tables.append(table)
            cached |= set(wanted)
    except BaseException:
        con.close()
        raise
    joined = " POSITIONAL JOIN ".join(tables + (["messages"] if with_messages else []))
    if with_messages:
        return (
            con,
            f"SELECT * EXCLUDE (__whole) REPLACE ({WHOLE_JSON} AS __json) FROM {joined}",
            cached,
        )
    return con, f"SELECT * FROM {joined}", cached
