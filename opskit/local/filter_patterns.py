"""CloudWatch Logs filter patterns, evaluated locally (moto stores metric filters, never runs them).

The three forms of the CloudWatch Logs filter-pattern syntax
(docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html):

- terms: ``ERROR``, ``"exact phrase"``, ``?ERROR ?WARN`` (any of), ``ERROR -ARGUMENTS``
  (exclude); case-sensitive; the empty pattern matches every event;
- JSON: ``{ $.a = "x" && ($.b >= 500 || $.c IS NULL) }`` with ``=``, ``!=``, ``<``, ``<=``,
  ``>``, ``>=``, ``*`` wildcards in values, ``%regex%``, ``IS TRUE``, ``IS FALSE``,
  ``IS NULL``, ``NOT EXISTS``, ``EXISTS``; selectors ``$.a.b``, ``$.list[0]``, ``$.a[1].b``;
  ``&&`` binds tighter than ``||``;
- space-delimited: ``[ip, user, ..., status_code = 4*, bytes > 1000]``: fields split on
  spaces, text in ``"..."`` or ``[...]`` is one field, ``...`` stands for any number of fields.

Where the documentation is silent, these rules hold (and are tested): a comparison only
matches a field that exists and holds a value of the compared kind (a JSON ``null`` only
matches ``IS NULL``, a missing field only ``NOT EXISTS``; ``!=`` needs the field present),
a number literal compares numerically with numbers, a quoted literal with strings.

`MetricFilter` adds what a metric filter publishes for a matching event: the value
(a number or a ``$.field`` / ``$field`` reference), dimensions and unit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.literals import StandardUnitType

_MISSING = object()
_NUMBER = re.compile(r"^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


class FilterPatternError(ValueError):
    """The pattern is not valid filter-pattern syntax (CloudWatch answers InvalidParameterException)."""


# ---- values and comparisons shared by the JSON and space-delimited forms


@dataclass(frozen=True)
class Literal:
    text: str
    quoted: bool = False
    regex: bool = False

    def number(self) -> float | None:
        if self.quoted or self.regex or not _NUMBER.match(self.text):
            return None
        return float(self.text)


def _wildcard(text: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in text.split("*")) + "$", re.S)


def _comparer(op: str, literal: Literal) -> Callable[[Any], bool]:
    """A test of one value (a JSON value, or a space-delimited field's text)."""
    number = literal.number()
    if op in ("<", "<=", ">", ">="):
        if number is None:
            raise FilterPatternError(f"{op} needs a number, got {literal.text!r}")
        bound = number

        def numeric(value: Any) -> bool:
            got = _as_number(value)
            if got is None:
                return False
            return {"<": got < bound, "<=": got <= bound, ">": got > bound, ">=": got >= bound}[op]

        return numeric
    if literal.regex:
        try:
            pattern = re.compile(literal.text)
        except re.error as exc:
            raise FilterPatternError(f"invalid regex %{literal.text}%: {exc}") from None

        def matches(value: Any) -> bool:
            return isinstance(value, str) and pattern.search(value) is not None

    elif number is not None:

        def matches(value: Any) -> bool:
            got = _as_number(value)
            return got is not None and got == number

    else:
        wanted = _wildcard(literal.text) if "*" in literal.text else None

        def matches(value: Any) -> bool:
            if not isinstance(value, str):
                return False
            return wanted.match(value) is not None if wanted else value == literal.text

    if op == "=":
        return matches
    if op == "!=":
        return lambda value: _present(value) and not matches(value)
    raise FilterPatternError(f"unknown operator {op!r}")


def _present(value: Any) -> bool:
    return value is not _MISSING and value is not None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value is _MISSING:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    return None


# ---- a small tokenizer for the JSON and space-delimited forms

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<regex>%(?:[^%\\]|\\.)*%)
    | (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\)|,)
    | (?P<word>[^\s"%&|!=<>(),]+)
    )""",
    re.X,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise FilterPatternError(f"unexpected {text[pos : pos + 10]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _literal(kind: str, value: str) -> Literal:
    if kind == "string":
        return Literal(json.loads(value), quoted=True)
    if kind == "regex":
        return Literal(value[1:-1].replace("\\%", "%"), regex=True)
    return Literal(value)


# ---- JSON form


_SELECTOR_PART = re.compile(r"\.([A-Za-z0-9_@\-]+)|\[(\d+)\]|\.\[\s*'([^']*)'\s*\]|\['([^']*)'\]")


def _selector(text: str) -> tuple[str | int, ...]:
    if not text.startswith("$"):
        raise FilterPatternError(f"a JSON selector starts with $, got {text!r}")
    parts: list[str | int] = []
    pos = 1
    while pos < len(text):
        match = _SELECTOR_PART.match(text, pos)
        if match is None:
            raise FilterPatternError(f"invalid selector {text!r}")
        name, index, quoted, bracketed = match.groups()
        if index is not None:
            parts.append(int(index))
        else:
            parts.append(
                name if name is not None else (quoted if quoted is not None else bracketed)
            )
        pos = match.end()
    if not parts:
        raise FilterPatternError("a JSON selector names a field: $.name")
    return tuple(parts)


def select(document: Any, path: tuple[str | int, ...]) -> Any:
    """The value at `path`, or _MISSING."""
    node = document
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return _MISSING
            node = node[part]
        else:
            if not isinstance(node, dict) or part not in node:
                return _MISSING
            node = node[part]
    return node


Test = Callable[[Any], bool]


class _JsonParser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens, self.pos = tokens, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterPatternError("the pattern ends too early")
        self.pos += 1
        return token

    def parse(self) -> Test:
        test = self.or_()
        if self.peek() is not None:
            raise FilterPatternError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return test

    def or_(self) -> Test:
        tests = [self.and_()]
        while self.peek() == ("op", "||"):
            self.take()
            tests.append(self.and_())
        return tests[0] if len(tests) == 1 else (lambda doc: any(t(doc) for t in tests))

    def and_(self) -> Test:
        tests = [self.unary()]
        while self.peek() == ("op", "&&"):
            self.take()
            tests.append(self.unary())
        return tests[0] if len(tests) == 1 else (lambda doc: all(t(doc) for t in tests))

    def unary(self) -> Test:
        if self.peek() == ("op", "("):
            self.take()
            test = self.or_()
            if self.take() != ("op", ")"):
                raise FilterPatternError("missing )")
            return test
        kind, text = self.take()
        if kind != "word":
            raise FilterPatternError(f"expected a $.selector, got {text!r}")
        path = _selector(text)
        nxt = self.take()
        if nxt[0] == "word" and nxt[1].upper() == "IS":
            what = self.take()[1].upper()
            checks: dict[str, Test] = {
                "NULL": lambda v: v is None,
                "TRUE": lambda v: v is True,
                "FALSE": lambda v: v is False,
            }
            if what not in checks:
                raise FilterPatternError(f"IS {what}: use IS NULL, IS TRUE or IS FALSE")
            check = checks[what]
            return lambda doc: check(select(doc, path))
        if nxt[0] == "word" and nxt[1].upper() == "NOT":
            if self.take()[1].upper() != "EXISTS":
                raise FilterPatternError("NOT must be followed by EXISTS")
            return lambda doc: select(doc, path) is _MISSING
        if nxt[0] == "word" and nxt[1].upper() == "EXISTS":
            return lambda doc: select(doc, path) is not _MISSING
        if nxt[0] != "op" or nxt[1] not in ("=", "!=", "<", "<=", ">", ">="):
            raise FilterPatternError(f"expected an operator after {text}, got {nxt[1]!r}")
        kind, value = self.take()
        if kind not in ("string", "regex", "word"):
            raise FilterPatternError(f"expected a value after {nxt[1]}, got {value!r}")
        compare = _comparer(nxt[1], _literal(kind, value))
        return lambda doc: compare(select(doc, path))


# ---- space-delimited form


_FIELD = re.compile(r'"([^"]*)"|\[([^\]]*)\]|(\S+)')


def split_fields(message: str) -> list[str]:
    """A space-delimited event's fields: quotes and square brackets group, and are removed."""
    return [next(g for g in m.groups() if g is not None) for m in _FIELD.finditer(message)]


@dataclass(frozen=True)
class _Column:
    name: str  # "..." for the ellipsis
    test: Test | None = None


def _columns(body: str) -> list[_Column]:
    columns: list[_Column] = []
    for raw in _split_top(body):
        tokens = _tokens(raw)
        if not tokens:
            raise FilterPatternError("empty field in [...]")
        kind, name = tokens[0]
        if kind != "word":
            raise FilterPatternError(f"a field needs a name, got {name!r}")
        if name == "...":
            columns.append(_Column("..."))
            continue
        rest = tokens[1:]
        columns.append(_Column(name, _field_test(rest, name) if rest else None))
    return columns


def _split_top(body: str) -> list[str]:
    parts, depth, quote, current = [], 0, False, ""
    for char in body:
        if char == '"':
            quote = not quote
        elif not quote and char == "(":
            depth += 1
        elif not quote and char == ")":
            depth -= 1
        if char == "," and depth == 0 and not quote:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts]


def _field_test(tokens: list[tuple[str, str]], name: str) -> Test:
    """``= 4*``, ``>= 400 && status < 500`` (the name may be repeated after && / ||)."""
    groups: list[list[Test]] = [[]]
    pos = 0
    while pos < len(tokens):
        kind, text = tokens[pos]
        if kind == "word" and text == name:
            pos += 1
            continue
        if (kind, text) == ("op", "||"):
            groups.append([])
            pos += 1
            continue
        if (kind, text) == ("op", "&&"):
            pos += 1
            continue
        if kind != "op" or pos + 1 >= len(tokens):
            raise FilterPatternError(f"invalid condition on {name}: {text!r}")
        vkind, value = tokens[pos + 1]
        groups[-1].append(_comparer(text, _literal(vkind, value)))
        pos += 2
    if any(not g for g in groups):
        raise FilterPatternError(f"empty condition on {name}")
    return lambda value: any(all(t(value) for t in group) for group in groups)


def _match_columns(columns: list[_Column], fields: list[str]) -> dict[str, str] | None:
    """Bind columns to fields (each ``...`` takes any number); None when they cannot match."""

    def walk(ci: int, fi: int) -> dict[str, str] | None:
        if ci == len(columns):
            return {} if fi == len(fields) else None
        column = columns[ci]
        if column.name == "...":
            for take in range(len(fields) - fi, -1, -1):
                found = walk(ci + 1, fi + take)
                if found is not None:
                    return found
            return None
        if fi >= len(fields):
            return None
        if column.test is not None and not column.test(fields[fi]):
            return None
        rest = walk(ci + 1, fi + 1)
        if rest is None:
            return None
        return {column.name: fields[fi], **rest}

    return walk(0, 0)


# ---- terms form


def _terms(text: str) -> tuple[list[str], list[str], list[str]]:
    """(required, any-of, excluded) terms."""
    required: list[str] = []
    optional: list[str] = []
    excluded: list[str] = []
    for match in re.finditer(r'([?-]?)(?:"((?:[^"\\]|\\.)*)"|(\S+))', text):
        prefix, quoted, bare = match.groups()
        term = json.loads(f'"{quoted}"') if quoted is not None else bare
        {"": required, "?": optional, "-": excluded}[prefix].append(term)
    return required, optional, excluded


# ---- the compiled pattern


@dataclass(frozen=True)
class Match:
    """What a matching event offers to metric values and dimensions."""

    document: Any = None  # the JSON event (JSON form)
    fields: Mapping[str, str] = field(default_factory=dict)  # named fields (space-delimited)

    def value(self, reference: str) -> Any:
        """``$.a.b`` (JSON) or ``$name`` (space-delimited); _MISSING if absent."""
        if reference.startswith("$.") or reference.startswith("$["):
            return select(self.document, _selector(reference))
        if reference.startswith("$"):
            return self.fields.get(reference[1:], _MISSING)
        return _MISSING


@dataclass(frozen=True)
class FilterPattern:
    text: str
    kind: str  # "terms" | "json" | "space"
    _test: Callable[[str], Match | None]

    def match(self, message: str) -> Match | None:
        return self._test(message)

    def matches(self, message: str) -> bool:
        return self._test(message) is not None


def compile_pattern(text: str) -> FilterPattern:
    """Parse `text` once; FilterPatternError if CloudWatch would reject it."""
    stripped = text.strip()
    if stripped.startswith("{"):
        if not stripped.endswith("}"):
            raise FilterPatternError("a JSON pattern ends with }")
        test = _JsonParser(_tokens(stripped[1:-1])).parse()

        def json_match(message: str) -> Match | None:
            start = message.find("{")
            if start < 0:
                return None
            try:
                document = json.loads(message[start:])
            except ValueError:
                return None
            return Match(document=document) if test(document) else None

        return FilterPattern(text, "json", json_match)
    if stripped.startswith("["):
        if not stripped.endswith("]"):
            raise FilterPatternError("a space-delimited pattern ends with ]")
        columns = _columns(stripped[1:-1])

        def space_match(message: str) -> Match | None:
            bound = _match_columns(columns, split_fields(message))
            return None if bound is None else Match(fields=bound)

        return FilterPattern(text, "space", space_match)
    required, optional, excluded = _terms(stripped)

    def terms_match(message: str) -> Match | None:
        if any(term not in message for term in required):
            return None
        if optional and not any(term in message for term in optional):
            return None
        if any(term in message for term in excluded):
            return None
        return Match()

    return FilterPattern(text, "terms", terms_match)


# ---- metric filters: what one matching event publishes


@dataclass(frozen=True)
class Transformation:
    """One metricTransformations entry of put_metric_filter."""

    namespace: str
    name: str
    value: str  # "1", "2.5" or a "$.field" / "$field" reference
    default: float | None = None
    unit: StandardUnitType | None = None
    dimensions: Mapping[str, str] = field(default_factory=dict)  # name -> "$.field"

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Transformation:
        default = raw.get("defaultValue")
        return cls(
            namespace=raw["metricNamespace"],
            name=raw["metricName"],
            value=str(raw.get("metricValue", "1")),
            default=None if default is None else float(default),
            unit=raw.get("unit") or None,
            dimensions=dict(raw.get("dimensions") or {}),
        )

    def emit(self, found: Match) -> tuple[float, tuple[tuple[str, str], ...]] | None:
        """(value, dimensions) for a matching event; None when CloudWatch publishes nothing
        (the value field is missing or not a number, or a dimension field is missing)."""
        if self.value.startswith("$"):
            value = _as_number(found.value(self.value))
            if value is None:
                return None
        else:
            value = float(self.value)
        dims: list[tuple[str, str]] = []
        for name, reference in sorted(self.dimensions.items()):
            got = found.value(reference)
            if not _present(got):
                return None
            dims.append((name, got if isinstance(got, str) else json.dumps(got)))
        return value, tuple(dims)


@dataclass(frozen=True)
class MetricFilter:
    name: str
    log_group: str
    pattern: FilterPattern
    transformations: tuple[Transformation, ...]

    @classmethod
    def from_api(cls, raw: Mapping[str, Any], log_group: str | None = None) -> MetricFilter:
        return cls(
            name=raw["filterName"],
            log_group=log_group or raw.get("logGroupName", ""),
            pattern=compile_pattern(raw.get("filterPattern", "")),
            transformations=tuple(
                Transformation.from_api(t) for t in raw.get("metricTransformations") or []
            ),
        )
