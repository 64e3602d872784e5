"""Compile a parsed query to one DuckDB SQL statement over a JSON-lines events file.

Same semantics as evaluator.py (the reference): every value is carried as SQL text
("any": numeric when it looks like a number) or as a number, boolean or timestamp
(epoch ms); helpers below turn one into the other the way values.py does. Each command
becomes a CTE; order is carried explicitly (`__ord`) because CTEs do not keep it.
If DuckDB rejects the statement (e.g. a regex feature RE2 lacks), `execute` returns None
and the caller runs the Python engine instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opskit.insights import ast
from opskit.insights.evaluator import DEFAULT_LIMIT, aggregate_calls
from opskit.insights.events import _END, _REPORT, _START, MB
from opskit.insights.parser import AGGREGATE_FUNCTIONS
from opskit.insights.values import NUMBER_SQL_RE, Timestamp, render

BUILTIN = {"@timestamp", "@message", "@logStream", "@log", "@ingestionTime"}
PLATFORM = {
    "@type",
    "@requestId",
    "@duration",
    "@billedDuration",
    "@memorySize",
    "@maxMemoryUsed",
    "@initDuration",
}
REPORT_SQL = "^" + _REPORT.pattern
START_SQL = "^" + _START.pattern
END_SQL = "^" + _END.pattern


def q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ident(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@dataclass
class S:
    """A compiled expression: SQL text, its kind, and (for fields) a ready numeric column."""

    sql: str
    kind: str  # any | num | bool | ts
    num_sql: str | None = None
    literal: object = None  # the Python value when this is a literal


NULL = S("CAST(NULL AS VARCHAR)", "any")


def num(x: S) -> str:
    if x.num_sql is not None:
        return x.num_sql
    if x.kind == "num":
        return f"CAST({x.sql} AS DOUBLE)"
    if x.kind == "ts":
        return f"CAST({x.sql} AS DOUBLE)"
    if x.kind == "bool":
        return f"CAST(CAST({x.sql} AS INTEGER) AS DOUBLE)"
    return (
        f"(CASE WHEN TRY_CAST({x.sql} AS DOUBLE) IS NOT NULL AND regexp_full_match({x.sql}, {q(NUMBER_SQL_RE)}) "
        f"THEN TRY_CAST({x.sql} AS DOUBLE) END)"
    )


def rnum(sql: str) -> str:
    return (
        f"(CASE WHEN isnan({sql}) OR isinf({sql}) THEN NULL WHEN {sql} = trunc({sql}) AND abs({sql}) < 1e15 "
        f"THEN CAST(CAST({sql} AS BIGINT) AS VARCHAR) ELSE printf('%.12g', {sql}) END)"
    )


def txt(x: S) -> str:
    if x.kind == "any":
        return x.sql
    if x.kind == "num":
        return rnum(f"CAST({x.sql} AS DOUBLE)")
    if x.kind == "ts":
        return f"strftime(make_timestamp(CAST({x.sql} AS BIGINT) * 1000), '%Y-%m-%d %H:%M:%S.%g')"
    return f"(CASE WHEN {x.sql} THEN '1' WHEN NOT {x.sql} THEN '0' END)"


def truth(x: S) -> str:
    if x.kind == "bool":
        return x.sql
    if x.kind in ("num", "ts"):
        return f"({x.sql} <> 0)"
    return f"(CASE WHEN {x.sql} IS NULL THEN NULL WHEN {num(x)} IS NOT NULL THEN {num(x)} <> 0 ELSE {x.sql} <> '' END)"


def natkey(sql: str) -> str:
    return (
        f"array_to_string(list_transform(regexp_extract_all({sql}, '([0-9]+|[^0-9]+)'), "
        "lambda c: CASE WHEN regexp_full_match(c, '[0-9]+') THEN '0' || lpad(CAST(length(c) AS VARCHAR), 3, '0') || c ELSE c END), '')"
    )


def numeric_kind(x: S) -> bool:
    return x.kind in ("num", "ts", "bool")


def compare(op: str, a: S, b: S) -> S:
    sql_op = "<>" if op == "!=" else op
    if numeric_kind(a) and numeric_kind(b):
        return S(f"({num(a)} {sql_op} {num(b)})", "bool")
    fallback = "TRUE" if op == "!=" else "FALSE"
    if b.literal is not None and a.literal is None:
        return _compare_literal(sql_op, a, b, fallback)
    if a.literal is not None and b.literal is None:
        flipped = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(sql_op, sql_op)
        return _compare_literal(flipped, b, a, fallback)
    na, nb = num(a), num(b)
    return S(
        f"(CASE WHEN {a.sql} IS NULL OR {b.sql} IS NULL THEN NULL "
        f"WHEN {na} IS NOT NULL AND {nb} IS NOT NULL THEN {na} {sql_op} {nb} "
        f"WHEN {na} IS NULL AND {nb} IS NULL THEN {txt(a)} {sql_op} {txt(b)} ELSE {fallback} END)",
        "bool",
    )


def _compare_literal(sql_op: str, value: S, literal: S, fallback: str) -> S:
    """`value OP literal`, with the literal's numeric-ness known while compiling (the common case)."""
    from opskit.insights.values import as_number

    number = as_number(literal.literal)
    n = num(value)
    if number is not None:
        if numeric_kind(value):
            return S(f"({n} {sql_op} {float(number)!r})", "bool")
        return S(
            f"(CASE WHEN {n} IS NOT NULL THEN {n} {sql_op} {float(number)!r} WHEN {value.sql} IS NULL THEN NULL ELSE {fallback} END)",
            "bool",
        )
    text = q(str(literal.literal))
    if numeric_kind(value):
        return S(f"(CASE WHEN {value.sql} IS NULL THEN NULL ELSE {fallback} END)", "bool")
    if sql_op in ("=", "<>"):
        # A numeric value's text never equals a non-numeric literal, so plain text
        # (in)equality already gives the documented answer (= false, != true).
        return S(f"({value.sql} {sql_op} {text})", "bool")
    return S(
        f"(CASE WHEN {n} IS NOT NULL THEN {fallback} ELSE {value.sql} {sql_op} {text} END)", "bool"
    )


@dataclass
class Col:
    name: str  # SQL column name in the current CTE
    kind: str
    num_name: str | None = None

    def expr(self) -> S:
        return S(ident(self.name), self.kind, ident(self.num_name) if self.num_name else None)


@dataclass
class Compiled:
    sql: str
    columns: list[str]
    kinds: dict[str, str]
    ctes: list[str] = field(default_factory=list)


class Unsupported(Exception):
    pass


class Compiler:
    def __init__(
        self,
        query: ast.Query,
        limit: int | None,
        log_group: str | None,
        start_ms: int | None,
        end_ms: int | None,
    ):
        self.query, self.limit, self.log_group = query, limit, log_group
        self.start_ms, self.end_ms = start_ms, end_ms
        self.ctes: list[str] = []
        self.cols: dict[str, Col] = {}
        self.counter = 0
        self.stats_done = False
        self.ordered = False  # an explicit `__ord` column defines the order
        self.group_names: list[str] = []
        self.aliases: dict[str, S] = {}

    def fresh(self, prefix: str = "c") -> str:
        self.counter += 1
        return f"__{prefix}{self.counter}"

    def cte(self, body: str) -> str:
        name = f"s{len(self.ctes)}"
        self.ctes.append(f"{name} AS ({body})")
        return name

    @property
    def current(self) -> str:
        return f"s{len(self.ctes) - 1}"

    # ---- base relation -----------------------------------------------------------

    def base(self, path: Path) -> None:
        referenced = sorted(_fields_in(self.query) - BUILTIN)
        where = []
        if self.start_ms is not None:
            where.append(f"timestamp >= {int(self.start_ms)}")
        if self.end_ms is not None:
            where.append(f"timestamp <= {int(self.end_ms)}")
        log = q(self.log_group) if self.log_group else "CAST(NULL AS VARCHAR)"
        source = (
            f"SELECT CAST(timestamp AS BIGINT) AS __ts, CAST(message AS VARCHAR) AS __msg, "
            f"CAST(logStreamName AS VARCHAR) AS __stream, CAST(ingestionTime AS BIGINT) AS __ingest, "
            f"COALESCE(CAST(logGroupName AS VARCHAR), {log}) AS __log FROM read_ndjson({q(str(path))}, "
            "columns={'timestamp': 'BIGINT', 'message': 'VARCHAR', 'logStreamName': 'VARCHAR', "
            "'ingestionTime': 'BIGINT', 'logGroupName': 'VARCHAR'}, maximum_object_size=16777216)"
            + (f" WHERE {' AND '.join(where)}" if where else "")
        )
        self.cte(f"SELECT * FROM ({source})")
        # JSON fields are extracted lazily, just before the first command that needs them,
        # so a selective filter means the other fields are only parsed for the rows it keeps.
        self.pending = {f for f in referenced if f not in PLATFORM}
        selects = ["*"]
        for name in sorted(PLATFORM & set(referenced)):
            column = self.fresh("p")
            selects.append(f"{_platform_sql(name)} AS {column}")
            kind = "any" if name in ("@type", "@requestId") else "num"
            self.cols[name] = Col(column, kind)
        if len(selects) > 1:
            self.cte(f"SELECT {', '.join(selects)} FROM {self.current}")
        self.cols.update(
            {
                "@timestamp": Col("__ts", "ts"),
                "@message": Col("__msg", "any"),
                "@logStream": Col("__stream", "any"),
                "@ingestionTime": Col("__ingest", "ts"),
                "@log": Col("__log", "any"),
            }
        )

    def extract(self, names: set[str]) -> None:
        """Add text and numeric columns for JSON fields `names` (those not extracted yet)."""
        wanted = sorted(n for n in names & self.pending if n not in self.cols)
        if not wanted:
            return
        self.pending -= set(wanted)
        paths = ", ".join(q(_json_path(f)) for f in wanted)
        jcol = self.fresh("j")
        self.cte(
            # Non-JSON messages (and JSON scalars/arrays, where no `$."name"` path exists) give NULL.
            f"SELECT *, try(json_extract(__msg, [{paths}])) AS {jcol} FROM {self.current}"
        )
        selects = ["*"]
        for index, name in enumerate(wanted, start=1):
            j = f"{jcol}[{index}]"
            text, number = self.fresh("f"), self.fresh("n")
            selects.append(
                f"CASE json_type({j}) WHEN 'VARCHAR' THEN json_extract_string({j}, '$') "
                f"WHEN 'BOOLEAN' THEN (CASE WHEN CAST({j} AS BOOLEAN) THEN '1' ELSE '0' END) "
                f"WHEN 'DOUBLE' THEN {rnum(f'CAST({j} AS DOUBLE)')} "
                f"WHEN 'BIGINT' THEN CAST({j} AS VARCHAR) WHEN 'UBIGINT' THEN CAST({j} AS VARCHAR) END AS {text}"
            )
            selects.append(
                f"CASE json_type({j}) WHEN 'DOUBLE' THEN CAST({j} AS DOUBLE) WHEN 'BIGINT' THEN CAST({j} AS DOUBLE) "
                f"WHEN 'UBIGINT' THEN CAST({j} AS DOUBLE) WHEN 'BOOLEAN' THEN CAST(CAST({j} AS BOOLEAN) AS INTEGER) "
                f"WHEN 'VARCHAR' THEN (CASE WHEN TRY_CAST(json_extract_string({j}, '$') AS DOUBLE) IS NOT NULL "
                f"AND regexp_full_match(json_extract_string({j}, '$'), {q(NUMBER_SQL_RE)}) "
                f"THEN TRY_CAST(json_extract_string({j}, '$') AS DOUBLE) END) END AS {number}"
            )
            self.cols[name] = Col(text, "any", number)
        self.cte(f"SELECT {', '.join(selects)} FROM {self.current}")

    # ---- expressions ---------------------------------------------------------------

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
            return col.expr() if col else NULL
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
            found = f"({tests})"
            return S(
                f"(CASE WHEN {operand.sql} IS NULL THEN NULL ELSE {'NOT ' if node.negated else ''}{found} END)",
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
                return S(
                    f"({neg}regexp_matches({txt(left)}, {q(node.right.pattern)}{options}))", "bool"
                )
            needle = str(node.right.value)  # type: ignore[attr-defined]
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
        name = node.name
        if name in AGGREGATE_FUNCTIONS:
            if not aggregate:
                raise Unsupported("aggregate outside stats")
            return self.aggregate(node)
        if name == "bin":
            period = node.args[0]
            assert isinstance(period, ast.Duration)
            return S(_floor_sql(self.cols["@timestamp"].expr().sql, period), "ts")
        args = [self.expr(a, aggregate) for a in node.args]
        if name in ("datefloor", "dateceil"):
            period = node.args[1]
            assert isinstance(period, ast.Duration)
            base = f"CAST(trunc({num(args[0])}) AS BIGINT)"
            floor = _floor_sql(base, period)
            if name == "datefloor":
                return S(floor, "ts")
            if period.unit in ("mo", "q", "y"):
                step = {"mo": "1 month", "q": "3 months", "y": "1 year"}[period.unit]
                ceil = f"epoch_ms(make_timestamp({floor} * 1000) + INTERVAL '{step}')"
            else:
                ceil = f"({floor} + {period.millis})"
            return S(f"(CASE WHEN {floor} = {base} THEN {base} ELSE {ceil} END)", "ts")
        if name == "ispresent":
            return S(f"({args[0].sql} IS NOT NULL)", "bool")
        if name == "isempty":
            return S(f"(COALESCE({txt(args[0])}, '') = '')", "bool")
        if name == "isblank":
            return S(f"regexp_full_match(COALESCE({txt(args[0])}, ''), '\\s*')", "bool")
        if name == "coalesce":
            kinds = {a.kind for a in args}
            if len(kinds) == 1 and "any" not in kinds:
                return S(f"COALESCE({', '.join(a.sql for a in args)})", args[0].kind)
            return S(f"COALESCE({', '.join(txt(a) for a in args)})", "any")
        if name == "concat":
            return S(f"concat({', '.join(f'COALESCE({txt(a)}, {q(str())})' for a in args)})", "any")
        if name == "strlen":
            return S(f"length({txt(args[0])})", "num")
        if name in ("toupper", "tolower"):
            return S(f"{'upper' if name == 'toupper' else 'lower'}({txt(args[0])})", "any")
        if name in ("trim", "ltrim", "rtrim"):
            pattern = {"trim": "^\\s+|\\s+$", "ltrim": "^\\s+", "rtrim": "\\s+$"}[name]
            return S(f"regexp_replace({txt(args[0])}, {q(pattern)}, '', 'g')", "any")
        if name == "substr":
            start = f"(greatest(CAST(trunc({num(args[1])}) AS BIGINT), 0) + 1)"
            if len(args) == 2:
                return S(f"substring({txt(args[0])}, {start})", "any")
            length = f"greatest(CAST(trunc({num(args[2])}) AS BIGINT), 0)"
            return S(f"substring({txt(args[0])}, {start}, {length})", "any")
        if name == "replace":
            s, old, new = (txt(a) for a in args)
            return S(
                f"(CASE WHEN {s} IS NULL OR {old} IS NULL THEN NULL WHEN {old} = '' THEN {s} ELSE replace({s}, {old}, COALESCE({new}, '')) END)",
                "any",
            )
        if name == "strcontains":
            return S(f"CAST(contains({txt(args[0])}, {txt(args[1])}) AS INTEGER)", "num")
        if name in ("abs", "ceil", "floor", "sqrt"):
            x = num(args[0])
            if name == "sqrt":
                return S(f"(CASE WHEN {x} >= 0 THEN sqrt({x}) END)", "num")
            return S(f"{name}({x})", "num")
        if name == "log":
            x = num(args[0])
            return S(f"(CASE WHEN {x} > 0 THEN ln({x}) END)", "num")
        if name in ("greatest", "least"):
            return S(f"{name}({', '.join(num(a) for a in args)})", "num")
        if name == "frommillis":
            return S(f"CAST(trunc({num(args[0])}) AS BIGINT)", "ts")
        if name == "tomillis":
            return S(f"trunc({num(args[0])})", "num")
        raise Unsupported(name)

    def aggregate(self, node: ast.Call) -> S:
        name = node.name
        if node.star:
            return S("count(*)", "num")
        arg = self.expr(node.args[0])
        if name == "count":
            return S(f"count({arg.sql})", "num")
        if name == "count_distinct":
            return S(f"count(DISTINCT {txt(arg)})", "num")
        if name in ("earliest", "latest"):
            fn = "arg_min" if name == "earliest" else "arg_max"
            return S(f"{fn}({arg.sql}, __ts) FILTER (WHERE {arg.sql} IS NOT NULL)", arg.kind)
        x = num(arg)
        if name == "pct":
            percent = min(max(float(node.args[1].value), 0.0), 100.0) / 100  # type: ignore[attr-defined]
            return S(f"quantile_cont({x}, {percent!r})", "num")
        if name == "stddev":
            return S(f"stddev_samp({x})", "num")
        return S(f"{name}({x})", "num")

    # ---- ordering ----------------------------------------------------------------

    def order_terms(self, value: S, descending: bool) -> list[str]:
        if value.kind in ("num", "ts", "bool"):
            rank = f"(CASE WHEN {value.sql} IS NULL THEN 2 ELSE {0 if descending else 1} END)"
            return [rank, f"{num(value)} {'DESC' if descending else 'ASC'}"]
        n = num(value)
        rank_asc = f"(CASE WHEN {value.sql} IS NULL THEN 2 WHEN {n} IS NOT NULL THEN 1 ELSE 0 END)"
        rank = (
            f"(CASE WHEN {value.sql} IS NULL THEN 2 WHEN {n} IS NOT NULL THEN 0 ELSE 1 END)"
            if descending
            else rank_asc
        )
        direction = "DESC" if descending else "ASC"
        # The natural-order key only matters for non-numbers: skip it for numeric values.
        return [
            rank,
            f"{n} {direction}",
            f"(CASE WHEN {n} IS NULL THEN {natkey(value.sql)} END) {direction}",
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

    # ---- commands ------------------------------------------------------------------

    def compile(self, path: Path) -> Compiled:
        self.base(path)
        commands = list(self.query.commands)
        columns: list[str] = []
        display: list[str] | None = None
        skip_next_limit = False
        for index, command in enumerate(commands):
            if skip_next_limit:
                skip_next_limit = False
                continue
            if not self.stats_done:
                self.extract(_fields_in(ast.Query("", (command,))))
            if isinstance(command, ast.Filter):
                self.cte(
                    f"SELECT * FROM {self.current} WHERE {truth(self.expr(command.condition))}"
                )
            elif isinstance(command, ast.Fields | ast.Display):
                self.fields(command.items)
                names = [i.name for i in command.items]
                if isinstance(command, ast.Display):
                    display = names
                else:
                    columns.extend(n for n in names if n not in columns)
            elif isinstance(command, ast.Parse):
                self.parse(command)
                columns.extend(n for n in command.names if n not in columns)
            elif isinstance(command, ast.Stats):
                self.stats(command)
                columns = [i.name for i in command.groups + command.aggregates]
                display = None
            elif isinstance(command, ast.Sort):
                terms: list[str] = []
                for key in command.keys:
                    terms += self.order_terms(self.expr(key.expr), key.descending)
                terms += self.default_order()
                following = commands[index + 1] if index + 1 < len(commands) else None
                if isinstance(following, ast.Limit):
                    self.ordered_cte(terms, following.count)
                    skip_next_limit = True
                else:
                    self.ordered_cte(terms)
            elif isinstance(command, ast.Limit):
                self.ordered_cte(self.default_order(), command.count)
            elif isinstance(command, ast.Dedup):
                self.dedup(command)
        if not self.stats_done:
            self.extract(set(columns) | set(display or []))
        if display is not None:
            columns = display
        elif not self.stats_done and not any(isinstance(c, ast.Fields) for c in commands):
            columns = ["@timestamp", "@message"] + [
                c for c in columns if c not in ("@timestamp", "@message")
            ]
        final_limit = DEFAULT_LIMIT if self.limit is None else self.limit
        selects, kinds = [], {}
        for index, name in enumerate(columns):
            col = self.cols.get(name)
            value = col.expr() if col else NULL
            kinds[name] = value.kind
            selects.append(f"{value.sql} AS __out{index}")
        sql = (
            "WITH "
            + ",\n".join(self.ctes)
            + f"\nSELECT {', '.join(selects) or '1'} FROM {self.current} "
            f"ORDER BY {', '.join(self.default_order())} LIMIT {final_limit}"
        )
        return Compiled(sql, columns, kinds, self.ctes)

    def fields(self, items: tuple[ast.Projection, ...]) -> None:
        computed = [
            i for i in items if not (isinstance(i.expr, ast.Field) and i.expr.name == i.name)
        ]
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
        source = txt(self.expr(command.source))
        groups = re.compile(command.regex).groupindex
        pattern = q(command.regex)
        selects, new_cols = ["*"], {}
        for group, name in zip(list(groups), command.names, strict=True):
            column = self.fresh()
            selects.append(
                f"CASE WHEN regexp_matches({source}, {pattern}, 's') THEN regexp_extract({source}, {pattern}, {groups[group]}, 's') END AS {column}"
            )
            new_cols[name] = Col(column, "any")
        self.cte(f"SELECT {', '.join(selects)} FROM {self.current}")
        self.cols.update(new_cols)

    def stats(self, command: ast.Stats) -> None:
        for item in command.aggregates:
            for call in aggregate_calls(item.expr, []):
                if call.name in ("earliest", "latest") and "@timestamp" not in self.cols:
                    raise Unsupported("earliest/latest after stats")
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

    def dedup(self, command: ast.Dedup) -> None:
        values = [self.cols[n].expr() if n in self.cols else NULL for n in command.fields]
        partition = ", ".join(txt(v) for v in values)
        missing = " OR ".join(f"{v.sql} IS NULL" for v in values)
        order = ", ".join(self.default_order())
        self.cte(
            f"SELECT * FROM {self.current} QUALIFY ({missing}) OR row_number() OVER (PARTITION BY {partition} ORDER BY {order}) = 1"
        )
        if not self.ordered:
            self.ordered_cte(self.default_order())


def _json_path(name: str) -> str:
    parts = []
    for part in name.split("."):
        parts.append(f"[{part}]" if part.isdigit() else "." + '"' + part.replace('"', '\\"') + '"')
    return "$" + "".join(parts)


def _platform_sql(name: str) -> str:
    def report(group: int) -> str:
        return f"regexp_extract(__msg, {q(REPORT_SQL)}, {group})"

    matches_report = f"regexp_matches(__msg, {q(REPORT_SQL)})"
    if name == "@type":
        return (
            f"(CASE WHEN {matches_report} THEN 'REPORT' WHEN regexp_matches(__msg, {q(START_SQL)}) THEN 'START' "
            f"WHEN regexp_matches(__msg, {q(END_SQL)}) THEN 'END' END)"
        )
    if name == "@requestId":
        return (
            f"(CASE WHEN {matches_report} THEN {report(1)} WHEN regexp_matches(__msg, {q(START_SQL)}) "
            f"THEN regexp_extract(__msg, {q(START_SQL)}, 1) WHEN regexp_matches(__msg, {q(END_SQL)}) "
            f"THEN regexp_extract(__msg, {q(END_SQL)}, 1) END)"
        )
    group = {
        "@duration": 2,
        "@billedDuration": 3,
        "@memorySize": 4,
        "@maxMemoryUsed": 5,
        "@initDuration": 6,
    }[name]
    if name in ("@memorySize", "@maxMemoryUsed"):
        return f"(CASE WHEN {matches_report} THEN CAST({report(group)} AS BIGINT) * {MB} END)"
    return f"(CASE WHEN {matches_report} THEN TRY_CAST(NULLIF({report(group)}, '') AS DOUBLE) END)"


def _floor_sql(base: str, period: ast.Duration) -> str:
    if period.unit in ("mo", "q", "y"):
        part = {"mo": "month", "q": "quarter", "y": "year"}[period.unit]
        return f"epoch_ms(date_trunc('{part}', make_timestamp({base} * 1000)))"
    m = period.millis
    return f"({base} - ((({base}) % {m}) + {m}) % {m})"


def _fields_in(query: ast.Query) -> set[str]:
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, ast.Field):
            names.add(node.name)
        elif isinstance(node, ast.Expr | ast.Command | ast.Projection | ast.SortKey):
            for value in vars(node).values():
                walk(value)
        elif isinstance(node, tuple):
            for item in node:
                walk(item)

    for command in query.commands:
        walk(command)
        if isinstance(command, ast.Dedup):
            names.update(command.fields)
        if isinstance(command, ast.Display | ast.Fields):
            names.update(i.name for i in command.items if isinstance(i.expr, ast.Field))
    return names


@dataclass
class Plan:
    query: ast.Query
    limit: int | None
    log_group: str | None
    start_ms: int | None
    end_ms: int | None


def compile_query(
    query: ast.Query,
    *,
    limit: int | None = None,
    log_group: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> Plan | None:
    """A plan when the query compiles to SQL (decided per file in `execute`), else None."""
    try:
        Compiler(query, limit, log_group, start_ms, end_ms).compile(Path("probe.jsonl"))
    except Unsupported:
        return None
    return Plan(query, limit, log_group, start_ms, end_ms)


def to_sql(plan: Plan, path: Path) -> Compiled:
    return Compiler(plan.query, plan.limit, plan.log_group, plan.start_ms, plan.end_ms).compile(
        path
    )


def connect() -> Any:
    import tempfile

    import duckdb

    # Both cores; beyond 1 GB DuckDB spills to disk instead of growing (bounded memory).
    spill = Path(tempfile.gettempdir()) / "opskit-duckdb"
    return duckdb.connect(
        config={"threads": 2, "memory_limit": "1GB", "temp_directory": str(spill)}
    )


def execute(plan: Plan, path: Path):  # -> Result | None
    """Run the plan on `path`; None when DuckDB cannot (the caller falls back to Python)."""
    import duckdb

    from opskit.insights.engine import Result

    compiled = to_sql(plan, path)
    try:
        con = connect()
        try:
            raw = con.execute(compiled.sql).fetchall()
        finally:
            con.close()
    except duckdb.Error:
        return None
    rows = []
    for values in raw:
        row: dict[str, str] = {}
        for name, value in zip(compiled.columns, values, strict=True):
            text = _render(value, compiled.kinds[name])
            if text is not None:
                row[name] = text
        rows.append(row)
    return Result(compiled.columns, rows, "duckdb")


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
