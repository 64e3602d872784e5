"""The DuckDB backend: compiles the pipeline's commands to one SQL statement.

Each command becomes a CTE; order is carried explicitly (`__ord`) because CTEs do not keep
it. Fields are extracted from the JSON part of each message lazily, just before the first
command that needs them, so a selective filter means the other fields are parsed only for
the rows it keeps. Same semantics as the Python backend (the reference).
"""

from __future__ import annotations

from typing import Any

from opskit.insights import ast, walk
from opskit.insights.backends.sql import (
    NULL,
    S,
    compare,
    ident,
    natkey,
    num,
    q,
    rnum,
    text_num,
    truth,
    txt,
)
from opskit.insights.functions import lookup
from opskit.insights.values import Timestamp, render
from opskit.logs import fields as discovered
from opskit.logs import platform

BUILTIN = {
    "@timestamp": ("__ts", "ts"),
    "@message": ("__msg", "any"),
    "@logStream": ("__stream", "any"),
    "@ingestionTime": ("__ingest", "ts"),
    "@log": ("__log", "any"),
    "@ptr": ("__ptr", "any"),
}
REPORT_SQL = "^" + platform.REPORT_PATTERN
START_SQL = "^" + platform.START_PATTERN
END_SQL = "^" + platform.END_PATTERN
XRAY_SQL = platform.XRAY_PATTERN
MAX_KEY_SPLITS = 3  # `a.b.c.d`: try every way the dots split keys, up to 3 dots


class Unsupported(Exception):
    """A query this backend cannot compile (auto mode falls back to Python)."""


class Col:
    def __init__(self, name: str, kind: str, num_name: str | None = None):
        self.name, self.kind, self.num_name = name, kind, num_name

    def expr(self) -> S:
        return S(ident(self.name), self.kind, ident(self.num_name) if self.num_name else None)


def events_relation(source: str) -> str:
    """SQL reading a JSON-lines events file as CloudWatch's columns."""
    return (
        f"SELECT CAST(timestamp AS BIGINT) AS timestamp, CAST(message AS VARCHAR) AS message, "
        f"CAST(logStreamName AS VARCHAR) AS logStreamName, CAST(ingestionTime AS BIGINT) AS ingestionTime, "
        f"CAST(logGroupName AS VARCHAR) AS logGroupName FROM read_ndjson({q(source)}, "
        "columns={'timestamp': 'BIGINT', 'message': 'VARCHAR', 'logStreamName': 'VARCHAR', "
        "'ingestionTime': 'BIGINT', 'logGroupName': 'VARCHAR'}, maximum_object_size=16777216)"
    )


# starts_with first: most messages are JSON from their first byte, and ltrim copies the text.
JSON_PART_SQL = (
    "CASE WHEN starts_with(__msg, '{') THEN __msg WHEN starts_with(ltrim(__msg), '{') THEN ltrim(__msg) "
    f"WHEN contains(__msg, chr(9) || '{{') AND regexp_matches(__msg, {q(discovered.FRAGMENT_PATTERN)}, 's') "
    f"THEN regexp_extract(__msg, {q(discovered.FRAGMENT_PATTERN)}, 1, 's') END"
)


def prepared(relation: str) -> str:
    """CloudWatch columns -> the backend's base columns, with the JSON part of each message."""
    return (
        f"SELECT *, {JSON_PART_SQL} AS __json FROM (SELECT COALESCE(timestamp, 0) AS __ts, "
        "COALESCE(message, '') AS __msg, logStreamName AS __stream, ingestionTime AS __ingest, "
        f"logGroupName AS __group FROM ({relation}))"
    )


def field_columns(name: str, j: str) -> tuple[str, str]:
    """(text SQL, number SQL) of a discovered JSON field whose JSON value is `j`.

    Typed by the value's JSON text (a quote, true/false, a digit) rather than json_type(),
    which would parse every value again: numbers are cast straight from their text.
    """
    r = f"CAST({j} AS VARCHAR)"
    text = (
        f"CASE WHEN starts_with({r}, '\"') THEN json_extract_string({j}, '$') "
        f"WHEN {r} = 'true' THEN '1' WHEN {r} = 'false' THEN '0' "
        f"WHEN {r} = 'null' OR starts_with({r}, '{{') OR starts_with({r}, '[') THEN NULL "
        f"WHEN NOT (contains({r}, '.') OR contains({r}, 'e') OR contains({r}, 'E')) THEN {r} "
        f"ELSE {rnum(f'TRY_CAST({r} AS DOUBLE)')} END"
    )
    number = (
        f"CASE WHEN starts_with({r}, '\"') THEN {text_num(f'json_extract_string({j}, {q(chr(36))})')} "
        f"WHEN {r} = 'true' THEN 1.0 WHEN {r} = 'false' THEN 0.0 ELSE TRY_CAST({r} AS DOUBLE) END"
    )
    return text, number


def json_paths(name: str) -> list[str]:
    """The JSON paths a discovered field name can come from (`@@key` is the key `@key`)."""
    return _key_paths(name[1:] if name.startswith("@@") else name)


def is_json_field(name: str) -> bool:
    return not name.startswith("@") or name.startswith("@@")


PLATFORM_KINDS = {
    name: "num"
    if name in ("@duration", "@billedDuration", "@memorySize", "@maxMemoryUsed", "@initDuration")
    else "any"
    for name in discovered.PLATFORM_FIELDS
}


def connect(database: str = ":memory:") -> Any:
    import tempfile
    from pathlib import Path

    import duckdb

    from opskit.insights.functions import ipv6_in_subnet, is_ipv6

    # Both cores; beyond 1 GB DuckDB spills to disk instead of growing (bounded memory).
    spill = Path(tempfile.gettempdir()) / "opskit-duckdb"
    con = duckdb.connect(
        database, config={"threads": 2, "memory_limit": "1GB", "temp_directory": str(spill)}
    )
    # The IPv6 checks of the function registry, as SQL functions (NULL in, NULL out).
    udf: Any = con  # duckdb's stubs want an enum where the documented string works
    udf.create_function("opskit_is_ipv6", is_ipv6, ["VARCHAR"], "BOOLEAN", null_handling="special")
    udf.create_function(
        "opskit_ipv6_in_subnet",
        ipv6_in_subnet,
        ["VARCHAR", "VARCHAR"],
        "BOOLEAN",
        null_handling="special",
    )
    return con


class DuckBackend:
    name = "duckdb"

    def __init__(
        self,
        relation: str,
        query: ast.Query,
        *,
        log_group: str | None = None,
        account_id: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        cached: set[str] | None = None,
    ):
        """`relation`: CloudWatch columns (events_relation), or with `cached` given, a
        prepared relation (prepared()) whose `f:NAME`/`n:NAME` columns hold those fields."""
        self.ctes: list[str] = []
        self.cols: dict[str, Col] = {}
        self.counter = 0
        self.stats_done = False
        self.ordered = False
        self.group_names: list[str] = []
        self.aliases: dict[str, S] = {}
        self.sql = ""
        self.columns: list[str] = []
        self.kinds: dict[str, str] = {}
        self.cached = cached
        self._base(relation, query, log_group, account_id, start_ms, end_ms)

    # ---- plumbing ------------------------------------------------------------------

    def fresh(self, prefix: str = "c") -> str:
        self.counter += 1
        return f"__{prefix}{self.counter}"

    def cte(self, body: str) -> None:
        self.ctes.append(f"s{len(self.ctes)} AS ({body})")

    @property
    def current(self) -> str:
        return f"s{len(self.ctes) - 1}"

    def timestamp(self) -> S:
        col = self.cols.get("@timestamp")
        if col is None:
            raise Unsupported("@timestamp after stats")
        return col.expr()

    # ---- the base relation -----------------------------------------------------------

    def _base(
        self,
        relation: str,
        query: ast.Query,
        log_group: str | None,
        account_id: str | None,
        start_ms: int | None,
        end_ms: int | None,
    ) -> None:
        where = []
        if start_ms is not None:
            where.append(f"__ts >= {int(start_ms)}")
        if end_ms is not None:
            where.append(f"__ts <= {int(end_ms)}")
        group = q(log_group) if log_group else "CAST(NULL AS VARCHAR)"
        account = q(account_id or discovered.UNKNOWN_ACCOUNT)
        sep = q(discovered.POINTER_SEPARATOR)
        referenced = walk.field_names(query)
        ptr = (
            f"md5(concat_ws({sep}, COALESCE(__group, ''), COALESCE(__stream, ''), CAST(__ts AS VARCHAR), __msg))"
            if "@ptr" in referenced
            else "CAST(NULL AS VARCHAR)"
        )
        source = prepared(relation) if self.cached is None else relation
        self.cte(
            f"SELECT * REPLACE (COALESCE(__group, {group}) AS __group) FROM ({source})"
            + (f" WHERE {' AND '.join(where)}" if where else "")
        )
        self.cte(
            f"SELECT *, {ptr} AS __ptr, CASE WHEN __group IS NOT NULL THEN {account} || ':' || __group END AS __log "
            f"FROM {self.current}"
        )
        for name, (column, kind) in BUILTIN.items():
            self.cols[name] = Col(column, kind)
        wanted = [n for n in discovered.PLATFORM_FIELDS if n in referenced]
        selects = ["*"]
        for name in wanted:
            if self.cached is not None and name in self.cached:
                self.cols[name] = Col(f"f:{name}", PLATFORM_KINDS[name])
                continue
            column = self.fresh("p")
            selects.append(f"{_platform_sql(name)} AS {column}")
            self.cols[name] = Col(column, PLATFORM_KINDS[name])
        if selects[1:]:
            self.cte(f"SELECT {', '.join(selects)} FROM {self.current}")

    def _structure(self, name: str) -> S | None:
        """`js.a.b` where `js` is a structure (jsonParse): a path into it."""
        if "." not in name:
            return None
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:cut])
            column = self.cols.get(prefix)
            value = column.expr() if column is not None else self.aliases.get(prefix)
            if value is not None and value.kind == "json":
                found = f"json_extract({value.sql}, {q(_path(parts[cut:]))})"
                # A JSON null is a missing field, as in the Python backend.
                return S(f"(CASE WHEN json_type({found}) <> 'NULL' THEN {found} END)", "json")
        return None

    def extract(self, names: set[str]) -> None:
        """Text and numeric columns for the JSON fields `names` (those not extracted yet)."""
        wanted = sorted(
            n
            for n in names
            if n not in self.cols
            and n not in self.aliases
            and is_json_field(n)
            and self._structure(n) is None
        )
        if not wanted or self.stats_done:
            return
        if self.cached is not None:
            for name in [n for n in wanted if n in self.cached]:
                self.cols[name] = Col(f"f:{name}", "any", f"n:{name}")
            wanted = [n for n in wanted if n not in self.cached]
            if not wanted:
                return
        paths: list[str] = []
        slots: list[list[int]] = []
        for name in wanted:
            candidates = json_paths(name)
            slots.append(list(range(len(paths) + 1, len(paths) + 1 + len(candidates))))
            paths += candidates
        jcol = self.fresh("j")
        # Non-JSON messages (and JSON scalars/arrays, where no `$."name"` path exists) give NULL.
        listed = ", ".join(q(p) for p in paths)
        self.cte(f"SELECT *, try(json_extract(__json, [{listed}])) AS {jcol} FROM {self.current}")
        selects = ["*"]
        for name, indexes in zip(wanted, slots, strict=True):
            j = (
                f"{jcol}[{indexes[0]}]"
                if len(indexes) == 1
                else "COALESCE(" + ", ".join(f"{jcol}[{i}]" for i in indexes) + ")"
            )
            text, number = self.fresh("f"), self.fresh("n")
            text_sql, number_sql = field_columns(name, j)
            selects.append(f"{text_sql} AS {text}")
            selects.append(f"{number_sql} AS {number}")
            self.cols[name] = Col(text, "any", number)
        self.cte(f"SELECT {', '.join(selects)} FROM {self.current}")

    # ---- expressions -----------------------------------------------------------------

    def expr(self, node: ast.Expr, aggregate: bool = False) -> S:
        if isinstance(node, ast.Literal):
            if isinstance(node.value, str):
                return S(q(node.value), "any", literal=node.value)
            return S(f"CAST({node.value!r} AS DOUBLE)", "num", literal=node.value)
        if isinstance(node, ast.Duration):
            return S(str(node.millis), "num")
        if isinstance(node, ast.Field):
            if node.name in self.aliases:
                return self.aliases[node.name]
            col = self.cols.get(node.name)
            if col is not None:
                return col.expr()
            return self._structure(node.name) or NULL
        if isinstance(node, ast.Unary):
            inner = self.expr(node.operand, aggregate)
            if node.op == "not":
                return S(f"(NOT {truth(inner)})", "bool")
            return S(f"(-{num(inner)})", "num")
        if isinstance(node, ast.InList):
            operand = self.expr(node.operand, aggregate)
            tests = " OR ".join(
                f"COALESCE({compare('=', operand, self.expr(i, aggregate)).sql}, FALSE)"
                for i in node.items
            )
            return S(
                f"(CASE WHEN {txt(operand)} IS NULL THEN NULL ELSE {'NOT ' if node.negated else ''}({tests}) END)",
                "bool",
            )
        if isinstance(node, ast.Binary):
            return self.binary(node, aggregate)
        if isinstance(node, ast.Call):
            return self.call(node, aggregate)
        raise Unsupported(repr(node))

    def binary(self, node: ast.Binary, aggregate: bool) -> S:
        left = self.expr(node.left, aggregate)
        if node.op in ("like", "notlike"):
            neg = "NOT " if node.op == "notlike" else ""
            if isinstance(node.right, ast.Regex):
                options = ", 'i'" if "i" in node.right.flags else ""
                pattern = node.right.sql_pattern or node.right.pattern
                return S(f"({neg}regexp_matches({txt(left)}, {q(pattern)}{options}))", "bool")
            assert isinstance(node.right, ast.Literal)
            needle = str(node.right.value)
            return S(f"({neg}contains({txt(left)}, {q(needle)}))", "bool")
        right = self.expr(node.right, aggregate)
        if node.op in ("and", "or"):
            return S(f"({truth(left)} {node.op.upper()} {truth(right)})", "bool")
        if node.op in ("=", "!=", "<", "<=", ">", ">="):
            return compare(node.op, left, right)
        a, b = num(left), num(right)
        if node.op == "/":
            return S(f"(CASE WHEN {b} = 0 THEN NULL ELSE {a} / {b} END)", "num")
        if node.op == "%":
            return S(f"(CASE WHEN {b} = 0 THEN NULL ELSE fmod({a}, {b}) END)", "num")
        if node.op == "^":
            return S(f"pow({a}, {b})", "num")
        return S(f"({a} {node.op} {b})", "num")

    def call(self, node: ast.Call, aggregate: bool) -> S:
        function = lookup(node.name)
        if function is None:
            raise Unsupported(node.name)
        if function.aggregate:
            if not aggregate:
                raise Unsupported("aggregate outside stats")
            if function.name in ("earliest", "latest") and "@timestamp" not in self.cols:
                raise Unsupported("earliest/latest after stats")
            arg = None if node.star or not node.args else self.expr(node.args[0])
            return function.sql(arg, node)
        args = [
            NULL if i in function.period_args else self.expr(a, aggregate)
            for i, a in enumerate(node.args)
        ]
        return function.sql(self, args, node.args)

    # ---- ordering --------------------------------------------------------------------

    def order_terms(self, value: S, descending: bool) -> list[str]:
        if value.kind in ("num", "ts", "bool"):
            rank = f"(CASE WHEN {value.sql} IS NULL THEN 2 ELSE {0 if descending else 1} END)"
            return [rank, f"{num(value)} {'DESC' if descending else 'ASC'}"]
        n, t = num(value), txt(value)
        if descending:
            rank = f"(CASE WHEN {t} IS NULL THEN 2 WHEN {n} IS NOT NULL THEN 0 ELSE 1 END)"
        else:
            rank = f"(CASE WHEN {t} IS NULL THEN 2 WHEN {n} IS NOT NULL THEN 1 ELSE 0 END)"
        direction = "DESC" if descending else "ASC"
        return [
            rank,
            f"{n} {direction}",
            f"(CASE WHEN {n} IS NULL THEN {natkey(t)} END) {direction}",
        ]

    def default_order(self) -> list[str]:
        if self.ordered:
            return ["__ord"]
        if self.stats_done:
            terms: list[str] = []
            for name in self.group_names:
                col = self.cols.get(name)
                if col is not None:
                    terms += self.order_terms(col.expr(), False)
            return terms or ["1"]
        return ["__ts DESC", "__msg ASC"]

    def ordered_cte(self, order: list[str], limit: int | None = None) -> None:
        limited = f" LIMIT {limit}" if limit is not None else ""
        inner = f"SELECT * FROM {self.current} ORDER BY {', '.join(order)}{limited}"
        extra = " EXCLUDE (__ord)" if self.ordered else ""
        self.cte(
            f"SELECT *{extra}, row_number() OVER (ORDER BY {', '.join(order)}) AS __ord FROM ({inner})"
        )
        self.ordered = True

    def _prepare(self, command: ast.Command) -> None:
        if not self.stats_done:
            self.extract(walk.field_names(command))

    # ---- commands (the pipeline's Backend interface) ----------------------------------

    def filter(self, command: ast.Filter) -> None:
        self._prepare(command)
        self.cte(f"SELECT * FROM {self.current} WHERE {truth(self.expr(command.condition))}")

    def fields(self, items: tuple[ast.Projection, ...]) -> None:
        computed = [
            i for i in items if not (isinstance(i.expr, ast.Field) and i.expr.name == i.name)
        ]
        # A plain `fields x` reads nothing yet: x is extracted when a later command needs it,
        # or at the end for the rows left (after a sort | limit, a hundred, not a million).
        self._prepare(ast.Fields(0, tuple(computed)))
        if not computed:
            return
        selects, new_cols = ["*"], {}
        for item in computed:
            value = self.expr(item.expr)
            column = self.fresh()
            selects.append(f"{value.sql} AS {column}")
            new_cols[item.name] = Col(column, value.kind)
        self.cte(f"SELECT {', '.join(selects)} FROM {self.current}")
        self.cols.update(new_cols)

    def parse(self, command: ast.Parse) -> None:
        import re

        self._prepare(command)
        source = txt(self.expr(command.source))
        groups = re.compile(command.regex).groupindex
        pattern = q(command.sql_regex or command.regex)
        selects, new_cols = ["*"], {}
        for group, name in zip(list(groups), command.names, strict=True):
            column = self.fresh()
            selects.append(
                f"CASE WHEN regexp_matches({source}, {pattern}, 's') THEN "
                f"regexp_extract({source}, {pattern}, {groups[group]}, 's') END AS {column}"
            )
            new_cols[name] = Col(column, "any")
        self.cte(f"SELECT {', '.join(selects)} FROM {self.current}")
        self.cols.update(new_cols)

    def unnest(self, command: ast.Unnest) -> None:
        self._prepare(command)
        value = self.expr(command.source)
        if not self.ordered:
            self.ordered_cte(self.default_order())
        items, index, column = self.fresh("l"), self.fresh("i"), self.fresh("u")
        if value.kind == "json":
            listed = f"(CASE WHEN json_type({value.sql}) = 'ARRAY' THEN CAST({value.sql} AS JSON[]) ELSE [{value.sql}] END)"
            kind = "json"
        else:
            listed, kind = f"[{value.sql}]", value.kind
        self.cte(f"SELECT *, {listed} AS {items} FROM {self.current} WHERE {value.sql} IS NOT NULL")
        self.cte(
            f"SELECT * EXCLUDE ({items}), unnest({items}) AS {column}, unnest(range(len({items}))) AS {index} FROM {self.current}"
        )
        self.cols[command.into] = Col(column, kind)
        self.ordered_cte(["__ord", index])

    def stats(self, command: ast.Stats) -> None:
        self._prepare(command)
        selects, group_by, new_cols = [], [], {}
        for item in command.groups:
            value = self.expr(item.expr)
            column = self.fresh("g")
            sql = value.sql if value.kind == "ts" else txt(value)
            selects.append(f"{sql} AS {column}")
            group_by.append(sql)
            new_cols[item.name] = Col(column, "ts" if value.kind == "ts" else "any")
        self.aliases = {}
        for item in command.aggregates:
            value = self.expr(item.expr, aggregate=True)
            column = self.fresh("a")
            selects.append(f"{value.sql} AS {column}")
            new_cols[item.name] = Col(column, value.kind)
            self.aliases[item.name] = value  # later items may use this one by its alias
        self.aliases = {}
        grouping = f" GROUP BY {', '.join(group_by)}" if group_by else ""
        self.cte(f"SELECT {', '.join(selects)} FROM {self.current}{grouping}")
        self.cols = new_cols
        self.stats_done = True
        self.ordered = False
        self.group_names = [i.name for i in command.groups]

    def sort(self, command: ast.Sort, top: int | None) -> None:
        self._prepare(command)
        terms: list[str] = []
        for key in command.keys:
            terms += self.order_terms(self.expr(key.expr), key.descending)
        self.ordered_cte(terms + self.default_order(), top)

    def limit(self, count: int) -> None:
        self.ordered_cte(self.default_order(), count)

    def dedup(self, command: ast.Dedup) -> None:
        self._prepare(command)
        values = [self.expr(ast.Field(command.pos, n)) for n in command.fields]
        partition = ", ".join(txt(v) for v in values)
        missing = " OR ".join(f"{txt(v)} IS NULL" for v in values)
        order = ", ".join(self.default_order())
        self.cte(
            f"SELECT * FROM {self.current} QUALIFY ({missing}) OR "
            f"row_number() OVER (PARTITION BY {partition} ORDER BY {order}) = 1"
        )
        if not self.ordered:
            self.ordered_cte(self.default_order())

    def finish(self, columns: list[str], limit: int) -> list[dict[str, str]]:
        """Compile the final SELECT; `execute` runs it (kept apart so tests can read the SQL)."""
        if not self.stats_done:
            self.extract(set(columns))
        selects = []
        for index, name in enumerate(columns):
            value = self.expr(ast.Field(0, name))
            if value.kind == "json":  # a structure or JSON scalar prints as its text
                value = S(txt(value), "any")
            self.kinds[name] = value.kind
            selects.append(f"{value.sql} AS __out{index}")
        self.columns = columns
        self.sql = (
            "WITH "
            + ",\n".join(self.ctes)
            + f"\nSELECT {', '.join(selects) or '1'} FROM {self.current} "
            f"ORDER BY {', '.join(self.default_order())} LIMIT {limit}"
        )
        return []  # rows come from execute()

    def execute(self, connection: Any) -> list[dict[str, str]]:
        raw = connection.execute(self.sql).fetchall()
        rows = []
        for values in raw:
            row: dict[str, str] = {}
            for name, value in zip(self.columns, values, strict=True):
                text = _render(value, self.kinds[name])
                if text is not None:
                    row[name] = text
            rows.append(row)
        return rows


def _path(parts: list[str]) -> str:
    out = []
    for part in parts:
        out.append(f"[{part}]" if part.isdigit() else "." + '"' + part.replace('"', '\\"') + '"')
    return "$" + "".join(out)


def _key_paths(name: str) -> list[str]:
    """JSON paths a flattened name can come from: `a.b` is {"a": {"b"}} or {"a.b": ...}."""
    parts = name.split(".")
    if len(parts) == 1:
        return [_path(parts)]
    if len(parts) - 1 > MAX_KEY_SPLITS:
        return [_path(parts), _path([name])]
    out = []
    for mask in range(2 ** (len(parts) - 1)):
        keys, current = [], parts[0]
        for index, part in enumerate(parts[1:]):
            if mask >> index & 1:
                current += "." + part
            else:
                keys.append(current)
                current = part
        keys.append(current)
        out.append(_path(keys))
    return out


def _platform_sql(name: str) -> str:
    """A platform field in SQL: from the text line (platform's patterns) or a JSON record."""

    def rx(pattern: str, group: str) -> str:
        return f"regexp_extract(__msg, {q(pattern)}, {_group_index(pattern, group)})"

    report = f"regexp_matches(__msg, {q(REPORT_SQL)})"
    is_json_report = "json_extract_string(__json, '$.type') = 'platform.report'"
    record = "json_extract(__json, '$.record')"
    metric = {
        "@duration": ("duration", "durationMs", 1),
        "@billedDuration": ("billed", "billedDurationMs", 1),
        "@memorySize": ("size", "memorySizeMB", discovered.MB),
        "@maxMemoryUsed": ("used", "maxMemoryUsedMB", discovered.MB),
        "@initDuration": ("init", "initDurationMs", 1),
    }
    if name in metric:
        group, key, scale = metric[name]
        text = f"TRY_CAST(NULLIF({rx(REPORT_SQL, group)}, '') AS DOUBLE)"
        json_value = f"TRY_CAST(json_extract({record}, '$.metrics.{key}') AS DOUBLE)"
        return f"(CASE WHEN {report} THEN {text} WHEN {is_json_report} THEN {json_value} END) * {scale}"
    if name == "@type":
        return (
            f"(CASE WHEN {report} THEN 'REPORT' WHEN regexp_matches(__msg, {q(START_SQL)}) THEN 'START' "
            f"WHEN regexp_matches(__msg, {q(END_SQL)}) THEN 'END' WHEN starts_with(__msg, 'XRAY ') AND regexp_matches(__msg, {q(XRAY_SQL)}) THEN 'XRAY' "
            f"WHEN {is_json_report} THEN 'REPORT' WHEN json_extract_string(__json, '$.type') = 'platform.start' THEN 'START' "
            f"WHEN json_extract_string(__json, '$.type') = 'platform.runtimeDone' THEN 'END' END)"
        )
    if name == "@requestId":
        json_types = "json_extract_string(__json, '$.type') IN ('platform.report', 'platform.start', 'platform.runtimeDone')"
        return (
            f"(CASE WHEN {report} THEN {rx(REPORT_SQL, 'rid')} WHEN regexp_matches(__msg, {q(START_SQL)}) "
            f"THEN {rx(START_SQL, 'rid')} WHEN regexp_matches(__msg, {q(END_SQL)}) THEN {rx(END_SQL, 'rid')} "
            f"WHEN {json_types} THEN json_extract_string({record}, '$.requestId') END)"
        )
    group = "trace" if name == "@xrayTraceId" else "segment"
    xray_text = (
        f"(starts_with(__msg, 'XRAY ') OR {report}) AND regexp_matches(__msg, {q(XRAY_SQL)})"
    )
    tracing = f"json_extract_string({record}, '$.tracing.value')"
    if group == "trace":
        json_value = f"NULLIF(regexp_extract({tracing}, 'Root=([^;]+)', 1), '')"
    else:
        json_value = f"COALESCE(json_extract_string({record}, '$.tracing.spanId'), NULLIF(regexp_extract({tracing}, 'Parent=([^;]+)', 1), ''))"
    return (
        f"(CASE WHEN {xray_text} THEN NULLIF({rx(XRAY_SQL, group)}, '') "
        f"WHEN {is_json_report} THEN {json_value} END)"
    )


def _group_index(pattern: str, group: str) -> int:
    import re

    return re.compile(pattern).groupindex[group]


def _render(value: Any, kind: str) -> str | None:
    if value is None:
        return None
    if kind == "ts":
        return render(Timestamp(int(value)))
    if kind == "bool":
        return "1" if value else "0"
    if kind == "num":
        return render(float(value))
    return str(value)
