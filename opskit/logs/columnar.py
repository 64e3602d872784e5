"""Build and extend the columnar cache (cache.py says where and when it is valid)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opskit.insights import ast, walk
from opskit.logs import fields as discovered
from opskit.logs.cache import entry_for

WHOLE_JSON = "CASE WHEN __whole THEN __msg ELSE __json END"


def open_cached(path: Path, relation: str, query: ast.Query) -> tuple[Any, str, set[str]]:
    """A connection to `path`'s cache database holding every field `query` may read.

    Returns (connection, relation over the cached table, names of the cached fields).
    """
    from opskit.insights.backends.duckdb import (
        PLATFORM_KINDS,
        _platform_sql,
        field_columns,
        is_json_field,
        json_paths,
        prepared,
    )
    from opskit.insights.backends.sql import ident, q
    from opskit.insights.engine import connect

    entry = entry_for(path)
    con = connect(str(entry))
    try:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'events'"
        ).fetchone()[0]
        if not exists:
            # The JSON part is stored only when it is not the whole message (a Lambda text
            # line's fragment): most messages are JSON, and storing them twice doubles the build.
            con.execute(
                "CREATE TABLE events AS SELECT * EXCLUDE (__json), __json = __msg AS __whole, "
                f"CASE WHEN __json <> __msg THEN __json END AS __json FROM ({prepared(relation)})"
            )
        tables = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'fields_%' "
                "ORDER BY CAST(substr(table_name, 8) AS INTEGER)"
            ).fetchall()
        ]
        present = {
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name LIKE 'fields_%'"
            ).fetchall()
        }
        cached = {c[2:] for c in present if c.startswith("f:")}
        wanted = sorted(
            n
            for n in walk.field_names(query) - cached
            if is_json_field(n) or n in discovered.PLATFORM_FIELDS
        )
        if wanted:
            selects, paths = [], []
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
            listed = ", ".join(q(p) for p in paths) if paths else "'$.__none__'"
            # New fields go to a table of their own, row-aligned with `events` (DuckDB keeps
            # insertion order): the messages are never rewritten.
            table = f"fields_{len(tables)}"
            con.execute(
                f"CREATE TABLE {table} AS SELECT "
                + ", ".join(selects)
                + f" FROM (SELECT * REPLACE ({WHOLE_JSON} AS __json), "
                f"try(json_extract({WHOLE_JSON}, [{listed}])) AS __j "
                "FROM events)"
            )
            tables.append(table)
            cached |= set(wanted)
    except BaseException:
        con.close()
        raise
    joined = "events" + "".join(f" POSITIONAL JOIN {t}" for t in tables)
    return con, f"SELECT * EXCLUDE (__whole) REPLACE ({WHOLE_JSON} AS __json) FROM {joined}", cached
