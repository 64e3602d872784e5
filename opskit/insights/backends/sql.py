"""SQL expression building shared by the registry's SQL builders and the DuckDB backend.

Pure string building (no duckdb import), so the function registry can hold SQL builders
without making a small query import DuckDB. Every value is carried as SQL text ("any":
numeric when it looks like a number), a number, a boolean, a timestamp (epoch ms) or a
JSON structure; the helpers turn one into the other the way values.py does.
"""

from __future__ import annotations

from dataclasses import dataclass

from opskit.insights.values import EXACT_INT_LIMIT, NUMBER_SQL_RE, as_number


def q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ident(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@dataclass
class S:
    """A compiled expression: SQL text, its kind, and (for fields) a ready numeric column."""

    sql: str
    kind: str  # any | num | bool | ts | json
    num_sql: str | None = None
    literal: object = None  # the Python value when this is a literal


NULL = S("CAST(NULL AS VARCHAR)", "any")


def _json_num(sql: str) -> str:
    return (
        f"(CASE json_type({sql}) WHEN 'DOUBLE' THEN CAST({sql} AS DOUBLE) WHEN 'BIGINT' THEN CAST({sql} AS DOUBLE) "
        f"WHEN 'UBIGINT' THEN CAST({sql} AS DOUBLE) WHEN 'BOOLEAN' THEN CAST(CAST({sql} AS BOOLEAN) AS INTEGER) "
        f"WHEN 'VARCHAR' THEN {text_num(f'json_extract_string({sql}, {q(chr(36))})')} END)"
    )


def _json_txt(sql: str) -> str:
    return (
        f"(CASE json_type({sql}) WHEN 'VARCHAR' THEN json_extract_string({sql}, '$') "
        f"WHEN 'BOOLEAN' THEN (CASE WHEN CAST({sql} AS BOOLEAN) THEN '1' ELSE '0' END) "
        f"WHEN 'DOUBLE' THEN {rnum(f'CAST({sql} AS DOUBLE)')} "
        f"WHEN 'BIGINT' THEN CAST({sql} AS VARCHAR) WHEN 'UBIGINT' THEN CAST({sql} AS VARCHAR) "
        f"WHEN 'NULL' THEN NULL ELSE CAST({sql} AS VARCHAR) END)"
    )


def text_num(sql: str) -> str:
    """A text's number when it is only a number (values.NUMBER_RE), else NULL."""
    return f"(CASE WHEN regexp_full_match({sql}, {q(NUMBER_SQL_RE)}) THEN TRY_CAST({sql} AS DOUBLE) END)"


def num(x: S) -> str:
    if x.num_sql is not None:
        return x.num_sql
    if x.kind in ("num", "ts"):
        return f"CAST({x.sql} AS DOUBLE)"
    if x.kind == "bool":
        return f"CAST(CAST({x.sql} AS INTEGER) AS DOUBLE)"
    if x.kind == "json":
        return _json_num(x.sql)
    return text_num(x.sql)


def rnum(sql: str) -> str:
    """A DOUBLE rendered like values.render: exact below 2**53 when integral, else 12 digits."""
    return (
        f"(CASE WHEN isnan({sql}) OR isinf({sql}) THEN NULL WHEN {sql} = trunc({sql}) AND abs({sql}) < {EXACT_INT_LIMIT} "
        f"THEN CAST(CAST({sql} AS BIGINT) AS VARCHAR) ELSE printf('%.12g', {sql}) END)"
    )


def txt(x: S) -> str:
    if x.kind == "any":
        return x.sql
    if x.kind == "num":
        return rnum(f"CAST({x.sql} AS DOUBLE)")
    if x.kind == "ts":
        return f"strftime(make_timestamp(CAST({x.sql} AS BIGINT) * 1000), '%Y-%m-%d %H:%M:%S.%g')"
    if x.kind == "json":
        return _json_txt(x.sql)
    return f"(CASE WHEN {x.sql} THEN '1' WHEN NOT {x.sql} THEN '0' END)"


def truth(x: S) -> str:
    if x.kind == "bool":
        return x.sql
    if x.kind in ("num", "ts"):
        return f"({x.sql} <> 0)"
    t = txt(x)
    return f"(CASE WHEN {t} IS NULL THEN NULL WHEN {num(x)} IS NOT NULL THEN {num(x)} <> 0 ELSE {t} <> '' END)"


def natkey(sql: str) -> str:
    """values.natural_key in SQL: digit runs become '0' + their length (3 digits) + the digits."""
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
    na, nb, ta, tb = num(a), num(b), txt(a), txt(b)
    return S(
        f"(CASE WHEN {ta} IS NULL OR {tb} IS NULL THEN NULL "
        f"WHEN {na} IS NOT NULL AND {nb} IS NOT NULL THEN {na} {sql_op} {nb} "
        f"WHEN {na} IS NULL AND {nb} IS NULL THEN {ta} {sql_op} {tb} ELSE {fallback} END)",
        "bool",
    )


def _compare_literal(sql_op: str, value: S, literal: S, fallback: str) -> S:
    """`value OP literal`, with the literal's numeric-ness known while compiling (the common case)."""
    number = as_number(literal.literal)
    n = num(value)
    t = txt(value)
    if number is not None:
        if numeric_kind(value):
            return S(f"({n} {sql_op} {float(number)!r})", "bool")
        return S(
            f"(CASE WHEN {n} IS NOT NULL THEN {n} {sql_op} {float(number)!r} WHEN {t} IS NULL THEN NULL ELSE {fallback} END)",
            "bool",
        )
    text = q(str(literal.literal))
    if numeric_kind(value):
        return S(f"(CASE WHEN {value.sql} IS NULL THEN NULL ELSE {fallback} END)", "bool")
    if sql_op in ("=", "<>"):
        # A numeric value's text never equals a non-numeric literal, so plain text
        # (in)equality already gives the documented answer (= false, != true).
        return S(f"({t} {sql_op} {text})", "bool")
    return S(f"(CASE WHEN {n} IS NOT NULL THEN {fallback} ELSE {t} {sql_op} {text} END)", "bool")


def floor_sql(base: str, unit: str, millis: int) -> str:
    if unit in ("mo", "q", "y"):
        part = {"mo": "month", "q": "quarter", "y": "year"}[unit]
        return f"epoch_ms(date_trunc('{part}', make_timestamp({base} * 1000)))"
    return f"({base} - ((({base}) % {millis}) + {millis}) % {millis})"
