"""The parsed form of a Logs Insights query: a pipeline of commands over expressions."""

from __future__ import annotations

from dataclasses import dataclass, field

# ---- expressions -------------------------------------------------------------


@dataclass(frozen=True)
class Expr:
    pos: int  # offset in the query text, for error messages


@dataclass(frozen=True)
class Literal(Expr):
    value: object  # str | int | float


@dataclass(frozen=True)
class Duration(Expr):
    """A time period such as `5m` (bin, datefloor, dateceil): stored in milliseconds."""

    millis: int
    text: str
    unit: str  # normalised unit: ms s m h d w mo q y


@dataclass(frozen=True)
class Regex(Expr):
    pattern: str  # Python `re` dialect (regex.to_python): what the Python backend runs
    flags: str = ""
    sql_pattern: str = ""  # RE2 dialect (regex.to_re2): what DuckDB runs


@dataclass(frozen=True)
class Field(Expr):
    name: str


@dataclass(frozen=True)
class Unary(Expr):
    op: str  # "-" | "not"
    operand: Expr


@dataclass(frozen=True)
class Binary(Expr):
    op: str  # + - * / % ^ = != < <= > >= and or like notlike =~
    left: Expr
    right: Expr


@dataclass(frozen=True)
class InList(Expr):
    operand: Expr
    items: tuple[Expr, ...]
    negated: bool = False


@dataclass(frozen=True)
class Call(Expr):
    name: str  # lower-cased
    args: tuple[Expr, ...]
    star: bool = False  # count(*)


# ---- commands ----------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    expr: Expr
    name: str  # `as` alias, or the expression's source text


@dataclass(frozen=True)
class Command:
    pos: int


@dataclass(frozen=True)
class Fields(Command):
    items: tuple[Projection, ...]


@dataclass(frozen=True)
class Display(Command):
    items: tuple[Projection, ...]


@dataclass(frozen=True)
class Filter(Command):
    condition: Expr


@dataclass(frozen=True)
class Stats(Command):
    aggregates: tuple[Projection, ...]
    groups: tuple[Projection, ...] = ()


@dataclass(frozen=True)
class SortKey:
    expr: Expr
    descending: bool


@dataclass(frozen=True)
class Sort(Command):
    keys: tuple[SortKey, ...]


@dataclass(frozen=True)
class Limit(Command):
    count: int


@dataclass(frozen=True)
class Parse(Command):
    source: Expr
    regex: str  # Python `re` syntax, named groups `(?P<name>...)`
    names: tuple[str, ...]
    glob: bool
    sql_regex: str = ""  # the same pattern in RE2 syntax (DuckDB)


@dataclass(frozen=True)
class Unnest(Command):
    source: Expr
    into: str


@dataclass(frozen=True)
class Dedup(Command):
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Query:
    text: str
    commands: tuple[Command, ...] = field(default_factory=tuple)
