"""The function registry: one entry per Logs Insights function, read by the parser (arity),
both backends (Python implementation, SQL builder) and the docs (`opskit insights functions`).

The table follows the current Logs Insights documentation ("Boolean, comparison, numeric,
datetime, and other functions", "stats", "unnest"). A new function is one `register` call;
tests/opskit/insights/test_functions.py asserts every entry has both implementations and a
conformance case.

Python implementations take evaluated argument values (None: the field is missing; a
period argument arrives as its `ast.Duration`). SQL builders take compiled arguments
(`sql.S`) and a context giving the current row's @timestamp.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from opskit.insights import ast
from opskit.insights.backends.sql import NULL, S, floor_sql, natkey, num, q, txt
from opskit.insights.backends.sql import truth as sql_truth
from opskit.insights.values import (
    EXACT_INT_LIMIT,
    Timestamp,
    as_number,
    as_text,
    json_text,
    sort_key,
    truth,
)


class SqlContext(Protocol):
    def timestamp(self) -> S: ...


SqlBuilder = Callable[[SqlContext, list[S], tuple[ast.Expr, ...]], S]


@dataclass(frozen=True)
class Function:
    name: str  # as documented (case-insensitive in queries)
    category: str  # numeric | datetime | general | json | ip | string | aggregate | stats
    min_args: int
    max_args: int | None
    signature: str
    description: str
    python: Any  # scalar: callable(*values); aggregate: Accumulator subclass
    sql: Any  # scalar: SqlBuilder; aggregate: callable(arg S | None, call) -> S
    period_args: tuple[int, ...] = ()  # arguments that must be a time period such as 5m
    uses_timestamp: bool = False  # reads the row's @timestamp (bin)
    differs: str = ""  # how the local engine differs from CloudWatch, and why

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def aggregate(self) -> bool:
        return self.category in ("aggregate", "stats")


REGISTRY: dict[str, Function] = {}
ALIASES = {"percentile": "pct"}


def register(function: Function) -> Function:
    REGISTRY[function.key] = function
    return function


def lookup(name: str) -> Function | None:
    key = name.lower()
    return REGISTRY.get(ALIASES.get(key, key))


def is_aggregate(name: str) -> bool:
    function = lookup(name)
    return function is not None and function.aggregate


# ---- small helpers for Python implementations -------------------------------------------


def _text(fn: Callable[..., Any]) -> Callable[..., Any]:
    def apply(*values: Any) -> Any:
        texts = [as_text(v) for v in values]
        return None if texts[0] is None else fn(*texts)

    return apply


def _number(fn: Callable[[float], Any]) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        number = as_number(value)
        if number is None:
            return None
        try:
            return fn(number)
        except (ValueError, OverflowError):
            return None

    return apply


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def apply(*values: Any) -> Any:
        numbers = [n for n in (as_number(v) for v in values) if n is not None]
        return pick(numbers) if numbers else None

    return apply


def _strip(which: str) -> Callable[..., Any]:
    def apply(text: str, chars: str | None = None) -> str:
        method = {"trim": str.strip, "ltrim": str.lstrip, "rtrim": str.rstrip}[which]
        # Without a second argument: white space (documented); with one: those characters.
        return method(text) if chars is None else method(text, chars)

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


def _replace(text: Any, old: Any, new: Any) -> Any:
    text, old, new = as_text(text), as_text(old), as_text(new)
    if text is None or old is None:
        return None
    return text.replace(old, new or "") if old else text


def _strcontains(text: Any, needle: Any) -> Any:
    text, needle = as_text(text), as_text(needle)
    if text is None or needle is None:
        return None
    return 1 if needle in text else 0


def floor_time(millis: int, period: ast.Duration) -> int:
    if period.unit in ("mo", "q", "y"):
        moment = datetime.fromtimestamp(millis / 1000, UTC)
        if period.unit == "y":
            month = 1
        elif period.unit == "q":
            month = moment.month - (moment.month - 1) % 3
        else:
            month = moment.month
        return int(datetime(moment.year, month, 1, tzinfo=UTC).timestamp() * 1000)
    return millis - millis % period.millis


def ceil_time(millis: int, period: ast.Duration) -> int:
    floor = floor_time(millis, period)
    if floor == millis:
        return millis
    if period.unit in ("mo", "q", "y"):
        moment = datetime.fromtimestamp(floor / 1000, UTC)
        step = {"mo": 1, "q": 3, "y": 12}[period.unit]
        index = moment.year * 12 + moment.month - 1 + step
        return int(datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC).timestamp() * 1000)
    return floor + period.millis


def _round_time(rounder: Callable[[int, ast.Duration], int]) -> Callable[..., Any]:
    def apply(value: Any, period: ast.Duration) -> Any:
        number = as_number(value)
        return None if number is None else Timestamp(rounder(int(number), period))

    return apply


def _if(condition: Any, then: Any, otherwise: Any = None) -> Any:
    return then if truth(condition) is True else otherwise


def _ip(value: Any, version: int | None) -> Any:
    text = as_text(value)
    if text is None:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return version is None or address.version == version


def _in_subnet(value: Any, subnet: Any, version: int | None) -> Any:
    text, cidr = as_text(value), as_text(subnet)
    if text is None or cidr is None:
        return None
    try:
        address = ipaddress.ip_address(text)
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    if version is not None and (address.version != version or network.version != version):
        return False
    return address.version == network.version and address in network


def _json_parse(value: Any) -> Any:
    import orjson

    if isinstance(value, dict | list):
        return value
    text = as_text(value)
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _json_stringify(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict | list):
        return json_text(value)
    return json_text(value) if isinstance(value, int | float) else json_text(as_text(value))


def _now() -> Timestamp:
    return Timestamp(int(time.time() * 1000))


# ---- SQL builders -----------------------------------------------------------------------


def _s(template: str, kind: str = "any", text_args: bool = True) -> SqlBuilder:
    """A builder from a template: {0}, {1} ... are the arguments as text (or as numbers)."""

    def build(ctx: SqlContext, args: list[S], nodes: tuple[ast.Expr, ...]) -> S:
        parts = [txt(a) if text_args else num(a) for a in args]
        return S(template.format(*parts), kind)

    return build


def _sql_trim(which: str) -> SqlBuilder:
    def build(ctx: SqlContext, args: list[S], nodes: tuple[ast.Expr, ...]) -> S:
        value = txt(args[0])
        if len(args) == 1:
            pattern = {"trim": "^\\s+|\\s+$", "ltrim": "^\\s+", "rtrim": "\\s+$"}[which]
            return S(f"regexp_replace({value}, {q(pattern)}, '', 'g')", "any")
        return S(f"{which}({value}, COALESCE({txt(args[1])}, ''))", "any")

    return build


def _sql_substr(ctx: SqlContext, args: list[S], nodes: tuple[ast.Expr, ...]) -> S:
    start = f"(greatest(CAST(trunc({num(args[1])}) AS BIGINT), 0) + 1)"
    if len(args) == 2:
        return S(f"substring({txt(args[0])}, {start})", "any")
    length = f"greatest(CAST(trunc({num(args[2])}) AS BIGINT), 0)"
    return S(f"substring({txt(args[0])}, {start}, {length})", "any")


def _sql_replace(ctx: SqlContext, args: list[S], nodes: tuple[ast.Expr, ...]) -> S:
    s, old, new = (txt(a) for a in args)
    return S(
        f"(CASE WHEN {s} IS NULL OR {old} IS NULL THEN NULL WHEN {old} = '' THEN {s} "
        f"ELSE replace({s}, {old}, COALESCE({new}, '')) END)",
        "any",
    )


def _sql_coalesce(ctx: SqlContext, args: list[S], nodes: tuple[ast.Expr, ...]) -> S:
    kinds = {a.kind for a in args}
    if len(kinds) == 1 and kinds <= {"num", "ts", "bool"}:
        return S(f"COALESCE({', '.join(a.sql for a in args)})", args[0].kind)
    return S(f"COALESCE({', '.join(txt(a) for a in args)})", "any")


def _sql_bin(ctx: SqlContext, args: list[S], nodes: tuple[ast.Expr, ...]) -> S:
    period = nodes[0]
    assert isinstance(period, ast.Duration)
    return S(floor_sql(ctx.timestamp().sql, period.unit, period.millis), "ts")


def _sql_round_time(ceil: bool) -> SqlBuilder:
    def build(ctx: SqlContext, args: list[S], nodes: tuple[ast.Expr, ...]) -> S:
        period = nodes[1]
        assert isinstance(period, ast.Duration)
        base = f"CAST(trunc({num(args[0])}) AS BIGINT)"
        floor = floor_sql(base, period.unit, period.millis)
        if not ceil:
            return S(floor, "ts")
        if period.unit in ("mo", "q", "y"):
            step = {"mo": "1 month", "q": "3 months", "y": "1 year"}[period.unit]
            up = f"epoch_ms(make_timestamp({floor} * 1000) + INTERVAL '{step}')"
        else:
            up = f"({floor} + {period.millis})"
        return S(f"(CASE WHEN {floor} = {base} THEN {base} ELSE {up} END)", "ts")

    return build


def _sql_extreme(fn: str) -> SqlBuilder:
    def build(ctx: SqlContext, args: list[S], nodes: tuple[ast.Expr, ...]) -> S:
        # DuckDB's greatest/least skip NULLs, as the Python implementation does.
        return S(f"{fn}({', '.join(num(a) for a in args)})", "num")

    return build


def _sql_if(ctx: SqlContext, args: list[S], nodes: tuple[ast.Expr, ...]) -> S:
    then, otherwise = args[1], args[2] if len(args) > 2 else NULL
    if then.kind == otherwise.kind or otherwise is NULL:
        kind = then.kind
        a, b = then.sql, otherwise.sql if otherwise is not NULL else "NULL"
    else:
        kind, a, b = "any", txt(then), txt(otherwise)
    return S(f"(CASE WHEN {sql_truth(args[0])} THEN {a} ELSE {b} END)", kind)


_IPV4 = r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$"


def _ipv4_number(text: str) -> str:
    parts = [f"CAST(split_part({text}, '.', {i}) AS UBIGINT)" for i in range(1, 5)]
    return f"(({parts[0]} << 24) + ({parts[1]} << 16) + ({parts[2]} << 8) + {parts[3]})"


def _sql_is_ipv4(text: str) -> str:
    return f"COALESCE(regexp_full_match({text}, {q(_IPV4)}), FALSE)"


def _sql_ipv4_in(text: str, cidr: str) -> str:
    """IPv4 subnet membership in plain SQL: compare the masked 32-bit numbers."""
    address, bits = f"split_part({cidr}, '/', 1)", f"split_part({cidr}, '/', 2)"
    valid_bits = f"(regexp_full_match({bits}, '[0-9]{{1,2}}') AND CAST({bits} AS INTEGER) <= 32)"
    mask = f"(CAST(4294967295 AS UBIGINT) - ((CAST(1 AS UBIGINT) << (32 - CAST({bits} AS INTEGER))) - 1))"
    return (
        f"(CASE WHEN NOT {_sql_is_ipv4(text)} OR NOT {_sql_is_ipv4(address)} OR NOT {valid_bits} THEN FALSE "
        f"ELSE ({_ipv4_number(text)} & {mask}) = ({_ipv4_number(address)} & {mask}) END)"
    )


def _sql_ip(version: int | None) -> SqlBuilder:
    def build(ctx: SqlContext, args: list[S], nodes: tuple[ast.Expr, ...]) -> S:
        text = txt(args[0])
        v4 = _sql_is_ipv4(text)
        if version == 4:
            test = v4
        else:
            # IPv6 has too many spellings for a faithful regex; DuckDB calls the same
            # Python check (ipaddress) the Python backend uses, registered as a UDF.
            v6 = f"opskit_is_ipv6({text})"
            test = v6 if version == 6 else f"({v4} OR {v6})"
        return S(f"(CASE WHEN {text} IS NULL THEN NULL ELSE {test} END)", "bool")

    return build


def _sql_in_subnet(version: int | None) -> SqlBuilder:
    def build(ctx: SqlContext, args: list[S], nodes: tuple[ast.Expr, ...]) -> S:
        text, cidr = txt(args[0]), txt(args[1])
        v4 = _sql_ipv4_in(text, cidr)
        v6 = f"opskit_ipv6_in_subnet({text}, {cidr})"
        test = v4 if version == 4 else v6 if version == 6 else f"({v4} OR {v6})"
        return S(f"(CASE WHEN {text} IS NULL OR {cidr} IS NULL THEN NULL ELSE {test} END)", "bool")

    return build


def is_ipv6(text: str | None) -> bool | None:
    """The UDF behind the SQL builders' IPv6 checks (same code as the Python backend)."""
    return None if text is None else bool(_ip(text, 6))


def ipv6_in_subnet(text: str | None, cidr: str | None) -> bool | None:
    return None if text is None or cidr is None else bool(_in_subnet(text, cidr, 6))


def _sql_json_parse(ctx: SqlContext, args: list[S], nodes: tuple[ast.Expr, ...]) -> S:
    if args[0].kind == "json":
        return args[0]
    return S(f"try(json({txt(args[0])}))", "json")


def _sql_json_stringify(ctx: SqlContext, args: list[S], nodes: tuple[ast.Expr, ...]) -> S:
    value = args[0]
    if value.kind == "json":
        return S(f"CAST({value.sql} AS VARCHAR)", "any")
    if value.kind in ("num", "bool"):
        return S(f"CAST(to_json({num(value)}) AS VARCHAR)", "any")  # rendered like JSON numbers
    return S(f"CAST(to_json({txt(value)}) AS VARCHAR)", "any")


# ---- aggregates -------------------------------------------------------------------------


class Accumulator:
    """One group's running state for one aggregate call (the Python backend)."""

    def __init__(self, call: ast.Call):
        self.call = call

    def add(self, value: Any, timestamp: int) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError


class Count(Accumulator):
    def __init__(self, call: ast.Call):
        super().__init__(call)
        self.count = 0

    def add(self, value: Any, timestamp: int) -> None:
        if value is not None or self.call.star:
            self.count += 1

    def result(self) -> Any:
        return self.count


class CountDistinct(Accumulator):
    def __init__(self, call: ast.Call):
        super().__init__(call)
        self.values: set[str | None] = set()

    def add(self, value: Any, timestamp: int) -> None:
        if value is not None:
            self.values.add(as_text(value))

    def result(self) -> Any:
        return len(self.values)


class Numbers(Accumulator):
    """Aggregates over the numeric values of a field (non-numbers are ignored)."""

    def __init__(self, call: ast.Call):
        super().__init__(call)
        self.numbers: list[float | int] = []

    def add(self, value: Any, timestamp: int) -> None:
        number = as_number(value)
        if number is not None:
            self.numbers.append(number)

    def result(self) -> Any:
        if not self.numbers:
            return None
        return self.finish(self.numbers)

    def finish(self, numbers: list[float | int]) -> Any:
        raise NotImplementedError


class Sum(Numbers):
    def finish(self, numbers: list[float | int]) -> Any:
        total = sum(numbers)
        return float(total) if abs(total) >= EXACT_INT_LIMIT else total


class Avg(Numbers):
    def finish(self, numbers: list[float | int]) -> Any:
        return sum(numbers) / len(numbers)


class Min(Numbers):
    def finish(self, numbers: list[float | int]) -> Any:
        return min(numbers)


class Max(Numbers):
    def finish(self, numbers: list[float | int]) -> Any:
        return max(numbers)


class Stddev(Numbers):
    def finish(self, numbers: list[float | int]) -> Any:
        if len(numbers) < 2:
            return None
        mean = sum(numbers) / len(numbers)
        return math.sqrt(sum((x - mean) ** 2 for x in numbers) / (len(numbers) - 1))


class Pct(Numbers):
    def finish(self, numbers: list[float | int]) -> Any:
        return percentile(sorted(numbers), percent_of(self.call))


def percent_of(call: ast.Call) -> float:
    """pct()'s second argument: a number literal (the parser checks it)."""
    literal = call.args[1]
    assert isinstance(literal, ast.Literal)
    return float(literal.value)  # type: ignore[arg-type]


def percentile(ordered: list[float | int], percent: float) -> float | None:
    """Linear interpolation between closest ranks (DuckDB's quantile_cont, numpy's default)."""
    if not ordered:
        return None
    percent = min(max(percent, 0.0), 100.0)
    rank = percent / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class Pick(Accumulator):
    """earliest/latest/sortsFirst/sortsLast: the value of one event, chosen by a key."""

    def __init__(self, call: ast.Call):
        super().__init__(call)
        self.best: Any = None
        self.best_key: Any = None

    def key(self, value: Any, timestamp: int) -> Any:
        raise NotImplementedError

    def add(self, value: Any, timestamp: int) -> None:
        if value is None:
            return
        key = self.key(value, timestamp)
        if self.best_key is None or key < self.best_key:
            self.best, self.best_key = value, key

    def result(self) -> Any:
        return self.best


class Earliest(Pick):
    def key(self, value: Any, timestamp: int) -> Any:
        return timestamp


class Latest(Pick):
    def key(self, value: Any, timestamp: int) -> Any:
        return -timestamp


class SortsFirst(Pick):
    def key(self, value: Any, timestamp: int) -> Any:
        return sort_key(value)


class SortsLast(Pick):
    def key(self, value: Any, timestamp: int) -> Any:
        kind, number, text = sort_key(value)
        return (-kind, Descending(number if kind == 1 else text))


class Descending:
    """Inverts the order of a wrapped value (a descending key inside a tuple)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __lt__(self, other: Descending) -> bool:
        return other.value < self.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Descending) and other.value == self.value


def _agg_sql(fn: str) -> Callable[[S | None, ast.Call], S]:
    def build(arg: S | None, call: ast.Call) -> S:
        assert arg is not None
        return S(f"{fn}({num(arg)})", "num")

    return build


def _sql_count(arg: S | None, call: ast.Call) -> S:
    return S("count(*)" if arg is None else f"count({txt(arg)})", "num")


def _sql_pct(arg: S | None, call: ast.Call) -> S:
    assert arg is not None
    percent = min(max(percent_of(call), 0.0), 100.0) / 100
    return S(f"quantile_cont({num(arg)}, {percent!r})", "num")


def _sql_pick(which: str) -> Callable[[S | None, ast.Call], S]:
    def build(arg: S | None, call: ast.Call) -> S:
        assert arg is not None
        present = f"FILTER (WHERE {txt(arg)} IS NOT NULL)"
        if which in ("earliest", "latest"):
            fn = "arg_min" if which == "earliest" else "arg_max"
            return S(f"{fn}({arg.sql}, __ts) {present}", arg.kind)
        n = num(arg)
        # The documented sort order as one comparable key: non-numbers (natural order) first.
        key = (
            f"struct_pack(r := CASE WHEN {n} IS NULL THEN 0 ELSE 1 END, n := COALESCE({n}, 0), "
            f"t := COALESCE(CASE WHEN {n} IS NULL THEN {natkey(txt(arg))} END, ''))"
        )
        fn = "arg_min" if which == "sortsFirst" else "arg_max"
        return S(f"{fn}({arg.sql}, {key}) {present}", arg.kind)

    return build


# ---- the table --------------------------------------------------------------------------

F = Function
for _f in (
    # numeric
    F("abs", "numeric", 1, 1, "abs(a: number)", "Absolute value", _number(abs), _s("abs({0})", "num", False)),
    F("ceil", "numeric", 1, 1, "ceil(a: number)", "Round to ceiling", _number(math.ceil), _s("ceil({0})", "num", False)),
    F("floor", "numeric", 1, 1, "floor(a: number)", "Round to floor", _number(math.floor), _s("floor({0})", "num", False)),
    F("greatest", "numeric", 1, None, "greatest(a: number, ...numbers: number[])", "Returns the largest value", _extreme(max), _sql_extreme("greatest")),
    F("least", "numeric", 1, None, "least(a: number, ...numbers: number[])", "Returns the smallest value", _extreme(min), _sql_extreme("least")),
    F("log", "numeric", 1, 1, "log(a: number)", "Natural log", _number(lambda x: math.log(x) if x > 0 else None), _s("(CASE WHEN {0} > 0 THEN ln({0}) END)", "num", False)),
    F("sqrt", "numeric", 1, 1, "sqrt(a: number)", "Square root", _number(lambda x: math.sqrt(x) if x >= 0 else None), _s("(CASE WHEN {0} >= 0 THEN sqrt({0}) END)", "num", False)),
    # datetime
    F("bin", "datetime", 1, 1, "bin(period: Period)", "Rounds @timestamp down to the period", lambda ts, period: None if ts is None else Timestamp(floor_time(int(ts), period)), _sql_bin, period_args=(0,), uses_timestamp=True),
    F("datefloor", "datetime", 2, 2, "datefloor(timestamp: Timestamp, period: Period)", "Truncates the timestamp to the period", _round_time(floor_time), _sql_round_time(False), period_args=(1,)),
    F("dateceil", "datetime", 2, 2, "dateceil(timestamp: Timestamp, period: Period)", "Rounds the timestamp up to the period", _round_time(ceil_time), _sql_round_time(True), period_args=(1,)),
    F("fromMillis", "datetime", 1, 1, "fromMillis(fieldName: number)", "Epoch milliseconds to a timestamp", _number(lambda x: Timestamp(int(x))), _s("CAST(trunc({0}) AS BIGINT)", "ts", False)),
    F("toMillis", "datetime", 1, 1, "toMillis(fieldName: Timestamp)", "A timestamp to epoch milliseconds", _number(lambda x: int(x)), _s("trunc({0})", "num", False)),
    F("now", "datetime", 0, 0, "now()", "The time the query runs", _now, lambda ctx, args, nodes: S(f"CAST({int(time.time() * 1000)} AS BIGINT)", "ts"), differs="the local engine's clock at compile time (CloudWatch: the query's start)"),
    # general
    F("ispresent", "general", 1, 1, "ispresent(fieldName: LogField)", "True if the field exists", lambda v: v is not None, lambda ctx, a, n: S(f"({txt(a[0])} IS NOT NULL)", "bool")),
    F("coalesce", "general", 1, None, "coalesce(fieldName: LogField, ...fieldNames: LogField[])", "The first non-null value", lambda *v: next((x for x in v if x is not None), None), _sql_coalesce),
    F("if", "general", 2, 3, "if(condition: Boolean, then: LogField, else?: LogField)", "then when the condition holds, else the third argument (missing without one)", _if, _sql_if),
    # JSON and structures
    F("jsonParse", "json", 1, 1, "jsonParse(fieldName: string)", "Parses a JSON string into a map or list (access with map.key, list[index])", _json_parse, _sql_json_parse),
    F("jsonStringify", "json", 1, 1, "jsonStringify(fieldName: LogField)", "A map or list (or value) as a JSON string", _json_stringify, _sql_json_stringify),
    # IP address string functions
    F("isValidIp", "ip", 1, 1, "isValidIp(fieldName: string)", "True if the field is a valid v4 or v6 address", lambda v: _ip(v, None), _sql_ip(None)),
    F("isValidIpV4", "ip", 1, 1, "isValidIpV4(fieldName: string)", "True if the field is a valid v4 address", lambda v: _ip(v, 4), _sql_ip(4)),
    F("isValidIpV6", "ip", 1, 1, "isValidIpV6(fieldName: string)", "True if the field is a valid v6 address", lambda v: _ip(v, 6), _sql_ip(6)),
    F("isIpInSubnet", "ip", 2, 2, "isIpInSubnet(fieldName: string, subnet: string)", "True if a valid v4 or v6 address is in the CIDR subnet", lambda v, s: _in_subnet(v, s, None), _sql_in_subnet(None)),
    F("isIpv4InSubnet", "ip", 2, 2, "isIpv4InSubnet(fieldName: string, subnet: string)", "True if a valid v4 address is in the v4 subnet", lambda v, s: _in_subnet(v, s, 4), _sql_in_subnet(4)),
    F("isIpv6InSubnet", "ip", 2, 2, "isIpv6InSubnet(fieldName: string, subnet: string)", "True if a valid v6 address is in the v6 subnet", lambda v, s: _in_subnet(v, s, 6), _sql_in_subnet(6)),
    # strings
    F("isempty", "string", 1, 1, "isempty(fieldName: string)", "True if the field is missing or empty", lambda v: (as_text(v) or "") == "", lambda ctx, a, n: S(f"(COALESCE({txt(a[0])}, '') = '')", "bool")),
    F("isblank", "string", 1, 1, "isblank(fieldName: string)", "True if missing, empty or only white space", lambda v: (as_text(v) or "").strip() == "", lambda ctx, a, n: S(f"regexp_full_match(COALESCE({txt(a[0])}, ''), '\\s*')", "bool")),
    F("concat", "string", 1, None, "concat(str: string, ...strings: string[])", "Concatenates the strings", lambda *v: "".join(as_text(x) or "" for x in v), lambda ctx, a, n: S(f"concat({', '.join(f'COALESCE({txt(x)}, {q(str())})' for x in a)})", "any")),
    F("ltrim", "string", 1, 2, "ltrim(str: string[, trimChars: string])", "Removes white space (or trimChars) from the left", _text(_strip("ltrim")), _sql_trim("ltrim")),
    F("rtrim", "string", 1, 2, "rtrim(str: string[, trimChars: string])", "Removes white space (or trimChars) from the right", _text(_strip("rtrim")), _sql_trim("rtrim")),
    F("trim", "string", 1, 2, "trim(str: string[, trimChars: string])", "Removes white space (or trimChars) from both ends", _text(_strip("trim")), _sql_trim("trim")),
    F("strlen", "string", 1, 1, "strlen(str: string)", "Length in Unicode code points", _text(len), _s("length({0})", "num")),
    F("toupper", "string", 1, 1, "toupper(str: string)", "Upper case", _text(str.upper), _s("upper({0})")),
    F("tolower", "string", 1, 1, "tolower(str: string)", "Lower case", _text(str.lower), _s("lower({0})")),
    F("substr", "string", 2, 3, "substr(str: string, startIndex: number[, length: number])", "A substring (0-based start)", _substr, _sql_substr),
    F("replace", "string", 3, 3, "replace(fieldName: string, searchValue: string, replaceValue: string)", "Replaces every searchValue", _replace, _sql_replace),
    F("strcontains", "string", 2, 2, "strcontains(str: string, searchValue: string)", "1 if str contains searchValue, else 0", _strcontains, _s("CAST(contains({0}, {1}) AS INTEGER)", "num")),
    # stats aggregation functions
    F("avg", "aggregate", 1, 1, "avg(fieldName: NumericLogField)", "The average of the values", Avg, _agg_sql("avg")),
    F("count", "aggregate", 0, 1, "count() | count(*) | count(fieldName: LogField)", "Counts events (or those with the field)", Count, _sql_count),
    F("count_distinct", "aggregate", 1, 1, "count_distinct(fieldName: LogField)", "The number of unique values", CountDistinct, lambda arg, call: S(f"count(DISTINCT {txt(arg)})", "num"), differs="exact (CloudWatch estimates above 10,000 distinct values)"),
    F("max", "aggregate", 1, 1, "max(fieldName: LogField)", "The largest numeric value", Max, _agg_sql("max")),
    F("min", "aggregate", 1, 1, "min(fieldName: LogField)", "The smallest numeric value", Min, _agg_sql("min")),
    F("pct", "aggregate", 2, 2, "pct(fieldName: LogFieldValue, percent: number)", "A percentile (linear interpolation)", Pct, _sql_pct, differs="exact percentiles (CloudWatch approximates)"),
    F("stddev", "aggregate", 1, 1, "stddev(fieldName: NumericLogField)", "The sample standard deviation", Stddev, _agg_sql("stddev_samp")),
    F("sum", "aggregate", 1, 1, "sum(fieldName: NumericLogField)", "The sum of the values", Sum, _agg_sql("sum")),
    # stats non-aggregation functions
    F("earliest", "stats", 1, 1, "earliest(fieldName: LogField)", "The value from the event with the earliest timestamp", Earliest, _sql_pick("earliest")),
    F("latest", "stats", 1, 1, "latest(fieldName: LogField)", "The value from the event with the latest timestamp", Latest, _sql_pick("latest")),
    F("sortsFirst", "stats", 1, 1, "sortsFirst(fieldName: LogField)", "The value that sorts first", SortsFirst, _sql_pick("sortsFirst")),
    F("sortsLast", "stats", 1, 1, "sortsLast(fieldName: LogField)", "The value that sorts last", SortsLast, _sql_pick("sortsLast")),
):  # fmt: skip
    register(_f)


def markdown_table() -> str:
    """The docs table of the local subset (docs/insights.md embeds it; a test keeps it current)."""
    lines = [
        "| Function | Kind | What it does | Differs from CloudWatch |",
        "| --- | --- | --- | --- |",
    ]
    for function in REGISTRY.values():
        signature = function.signature.replace("|", "\\|")
        lines.append(
            f"| `{signature}` | {function.category} | {function.description} | {function.differs or '-'} |"
        )
    return "\n".join(lines) + "\n"
