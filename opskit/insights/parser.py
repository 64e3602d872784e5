"""Tokenizer and recursive-descent parser for the Logs Insights subset opskit runs locally.

Every token and node carries its offset in the query text, so errors can say where
(`line 2, column 9`) and what was expected. Commands or functions outside the subset
are named in the error, never silently ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opskit.errors import QueryFailed
from opskit.insights import ast, walk
from opskit.insights.functions import lookup
from opskit.insights.regex import to_python, to_re2, unmangle

COMMANDS = ("fields", "display", "filter", "stats", "sort", "limit", "parse", "dedup", "unnest")
# Documented Logs Insights commands we do not run locally: named in the error.
KNOWN_UNSUPPORTED_COMMANDS = {
    "lookup", "join", "pattern", "anomaly", "diff", "unmask", "filterindex",
    "source", "fieldindex", "union", "subquery",
}  # fmt: skip
KEYWORDS = {"and", "or", "not", "like", "in", "as", "by", "asc", "desc", "into"}

# Units for bin()/datefloor()/dateceil(), as documented for `stats ... bin()`.
UNIT_MILLIS = {
    "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000,
}  # fmt: skip
UNIT_ALIASES = {
    "ms": "ms", "msec": "ms", "msecs": "ms", "millisecond": "ms", "milliseconds": "ms",
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "d": "d", "day": "d", "days": "d", "w": "w", "week": "w", "weeks": "w",
    "mo": "mo", "mos": "mo", "mon": "mo", "mons": "mo", "month": "mo", "months": "mo",
    "q": "q", "qtr": "q", "qtrs": "q", "quarter": "q", "quarters": "q",
    "y": "y", "yr": "y", "yrs": "y", "year": "y", "years": "y",
}  # fmt: skip


def parse_time_period(text: str) -> tuple[int, str]:
    """`5m` -> (300000, "m"): a time period as bin() and datefloor() take it; ValueError says why."""
    match = re.fullmatch(r"(\d+)([A-Za-z]+)", text)
    unit = UNIT_ALIASES.get(match.group(2).lower()) if match else None
    if not match or unit is None:
        raise ValueError(f"invalid time period '{text}' (use e.g. 5m, 1h, 1d)")
    amount = int(match.group(1))
    if amount < 1:
        raise ValueError("a time period must be at least 1")
    if unit in ("mo", "q", "y") and amount != 1:
        raise ValueError(f"unsupported time period '{text}' (calendar units only as 1mo, 1q, 1y)")
    return amount * UNIT_MILLIS.get(unit, 0), unit


class QuerySyntaxError(QueryFailed):
    """A query the local engine cannot run: where, and what it expected."""

    def __init__(self, text: str, pos: int, message: str):
        line, column = position(text, pos)
        self.pos, self.line, self.column = pos, line, column
        super().__init__(
            f"query error at line {line}, column {column}",
            message,
            "fix the query (see `opskit insights show NAME` for working examples)",
        )


def position(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, column


@dataclass(frozen=True)
class Token:
    kind: str  # ident, number, duration, string, op, eof
    text: str  # the value (unquoted for strings/backticked identifiers)
    pos: int
    end: int

    def describe(self) -> str:
        if self.kind == "eof":
            return "end of query"
        if self.kind == "string":
            return f'string "{self.text}"'
        return f"'{self.text}'"


_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_UNIT = re.compile(r"[A-Za-z]+")
_IDENT = re.compile(r"[A-Za-z_@$][A-Za-z0-9_@$.\-]*")
_OPERATORS = (
    "!=",
    "<=",
    ">=",
    "=~",
    "==",
    "|",
    ",",
    "(",
    ")",
    "[",
    "]",
    "=",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
)


class Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    # ---- lexing -------------------------------------------------------------

    def _skip(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text):
            char = text[pos]
            if char in " \t\r\n":
                pos += 1
            elif char == "#":
                newline = text.find("\n", pos)
                pos = len(text) if newline < 0 else newline + 1
            else:
                break
        self.pos = pos

    def peek(self) -> Token:
        self._skip()
        text, pos = self.text, self.pos
        if pos >= len(text):
            return Token("eof", "", pos, pos)
        char = text[pos]
        if char in "\"'":
            return self._string(pos, char)
        if char == "`":
            end = text.find("`", pos + 1)
            if end < 0:
                raise QuerySyntaxError(text, pos, "unterminated `quoted` field name")
            return Token("ident", text[pos + 1 : end], pos, end + 1)
        if char.isdigit():
            match = _NUMBER.match(text, pos)
            assert match is not None
            unit = _UNIT.match(text, match.end())
            if unit:
                return Token("duration", text[pos : unit.end()], pos, unit.end())
            return Token("number", match.group(), pos, match.end())
        match = _IDENT.match(text, pos)
        if match:
            word = match.group()
            # `a-b` is subtraction unless it is a field name like `x-request-id`; a field name
            # never ends with '-' and we only keep dashes followed by a letter.
            word = re.match(
                r"[A-Za-z_@$][A-Za-z0-9_@$.]*(?:-[A-Za-z][A-Za-z0-9_@$.]*)*", word
            ).group()  # type: ignore[union-attr]
            return Token("ident", word, pos, pos + len(word))
        for op in _OPERATORS:
            if text.startswith(op, pos):
                return Token("op", "=" if op == "==" else op, pos, pos + len(op))
        raise QuerySyntaxError(text, pos, f"unexpected character {char!r}")

    def _string(self, pos: int, quote: str) -> Token:
        text, i, out = self.text, pos + 1, []
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text):
                nxt = text[i + 1]
                out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
                i += 2
                continue
            if char == quote:
                return Token("string", "".join(out), pos, i + 1)
            out.append(char)
            i += 1
        raise QuerySyntaxError(text, pos, f"unterminated string starting with {quote}")

    def regex(self) -> ast.Regex:
        self._skip()
        text, start = self.text, self.pos
        if not text.startswith("/", start):
            raise self.error(self.peek(), "a regular expression /.../")
        i = start + 1
        while i < len(text):
            if text[i] == "\\":
                i += 2
                continue
            if text[i] == "/":
                break
            i += 1
        else:
            raise QuerySyntaxError(
                text, start, "unterminated regular expression (missing closing /)"
            )
        pattern = text[start + 1 : i]
        flags_match = re.match(r"[a-z]*", text[i + 1 :])
        flags = flags_match.group() if flags_match else ""
        if set(flags) - {"i"}:
            raise QuerySyntaxError(
                text, i + 1, f"unsupported regular expression flag(s) '{flags}' (only i)"
            )
        self.pos = i + 1 + len(flags)
        try:
            py = to_python(pattern)
            re.compile(py)
        except re.error as exc:
            raise QuerySyntaxError(text, start, f"invalid regular expression: {exc}") from None
        return ast.Regex(start, py, flags, to_re2(pattern))

    def advance(self) -> Token:
        token = self.peek()
        self.pos = token.end
        return token

    def error(self, token: Token, expected: str) -> QuerySyntaxError:
        return QuerySyntaxError(
            self.text, token.pos, f"expected {expected}, found {token.describe()}"
        )

    def is_op(self, text: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.text == text

    def is_word(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "ident" and token.text.lower() in words

    def accept_op(self, text: str) -> bool:
        if self.is_op(text):
            self.advance()
            return True
        return False

    def accept_word(self, *words: str) -> bool:
        if self.is_word(*words):
            self.advance()
            return True
        return False

    def expect_op(self, text: str) -> Token:
        token = self.peek()
        if token.kind != "op" or token.text != text:
            raise self.error(token, f"'{text}'")
        return self.advance()

    # ---- commands -------------------------------------------------------------

    def parse(self) -> ast.Query:
        commands: list[ast.Command] = []
        if self.peek().kind == "eof":
            raise QuerySyntaxError(self.text, 0, "the query is empty")
        while True:
            commands.append(self.command())
            token = self.peek()
            if token.kind == "eof":
                break
            if not self.accept_op("|"):
                raise self.error(token, "'|' or end of query")
        return ast.Query(self.text, tuple(commands))

    def command(self) -> ast.Command:
        token = self.peek()
        if token.kind != "ident":
            raise self.error(token, f"a command ({', '.join(COMMANDS)})")
        name = token.text.lower()
        if name not in COMMANDS:
            kind = "unsupported" if name in KNOWN_UNSUPPORTED_COMMANDS else "unknown"
            raise QuerySyntaxError(
                self.text,
                token.pos,
                f"{kind} command '{token.text}' (the local engine runs: {', '.join(COMMANDS)})",
            )
        self.advance()
        if name in ("fields", "display"):
            items = self.projections(allow_aggregates=False)
            return (ast.Fields if name == "fields" else ast.Display)(token.pos, items)
        if name == "filter":
            return ast.Filter(token.pos, self.expression(allow_aggregates=False))
        if name == "stats":
            return self.stats(token)
        if name == "sort":
            return self.sort(token)
        if name == "limit":
            number = self.peek()
            if number.kind != "number" or not number.text.isdigit() or int(number.text) < 1:
                raise self.error(number, "a positive whole number after limit")
            self.advance()
            return ast.Limit(token.pos, int(number.text))
        if name == "parse":
            return self.parse_command(token)
        if name == "unnest":
            source = self.primary()
            if not self.accept_word("into"):
                raise self.error(self.peek(), "'into' and a field name after the unnest field")
            return ast.Unnest(token.pos, source, self.field_name())
        return self.dedup(token)

    def projections(self, allow_aggregates: bool) -> tuple[ast.Projection, ...]:
        items = [self.projection(allow_aggregates)]
        while self.accept_op(","):
            items.append(self.projection(allow_aggregates))
        return tuple(items)

    def projection(self, allow_aggregates: bool) -> ast.Projection:
        start_token = self.peek()
        expr = self.expression(allow_aggregates=allow_aggregates)
        source = self.text[start_token.pos : self.pos].strip()
        name = expr.name if isinstance(expr, ast.Field) else source
        if self.accept_word("as"):
            alias = self.peek()
            if alias.kind != "ident" or alias.text.lower() in KEYWORDS:
                raise self.error(alias, "a field name after 'as'")
            self.advance()
            name = alias.text
        return ast.Projection(expr, name)

    def stats(self, token: Token) -> ast.Stats:
        aggregates = self.projections(allow_aggregates=True)
        earlier: set[str] = set()
        for item in aggregates:
            # An item may also combine earlier aggregates by alias (`max_mb - avg_mb as spare`).
            names = walk.field_names(item.expr)
            combines_earlier = names and names <= earlier
            earlier.add(item.name)
            if not walk.contains_aggregate(item.expr) and not combines_earlier:
                raise QuerySyntaxError(
                    self.text,
                    item.expr.pos,
                    f"expected an aggregate function (count, sum, avg, ...) in stats, found '{item.name}'",
                )
        groups: tuple[ast.Projection, ...] = ()
        if self.accept_word("by"):
            groups = self.projections(allow_aggregates=False)
        return ast.Stats(token.pos, aggregates, groups)

    def sort(self, token: Token) -> ast.Sort:
        self.accept_word("by")
        keys = []
        while True:
            expr = self.expression(allow_aggregates=False)
            descending = False
            if self.accept_word("desc"):
                descending = True
            else:
                self.accept_word("asc")
            keys.append(ast.SortKey(expr, descending))
            if not self.accept_op(","):
                break
        return ast.Sort(token.pos, tuple(keys))

    def parse_command(self, token: Token) -> ast.Parse:
        self._skip()
        source: ast.Expr = ast.Field(token.pos, "@message")
        nxt = self.peek()
        if nxt.kind == "ident" and not self.text.startswith("/", self.pos):
            self.advance()
            source = ast.Field(nxt.pos, nxt.text)
        self._skip()
        if self.text.startswith("/", self.pos):
            regex = self.regex()
            names = tuple(re.compile(regex.pattern).groupindex)
            if not names:
                raise QuerySyntaxError(
                    self.text,
                    regex.pos,
                    "a parse regular expression needs named groups, e.g. (?<status>\\d+)",
                )
            prefix = "(?i)" if regex.flags else ""
            return ast.Parse(
                token.pos,
                source,
                prefix + regex.pattern,
                tuple(unmangle(n) for n in names),
                glob=False,
                sql_regex=prefix + regex.sql_pattern,
            )
        glob = self.peek()
        if glob.kind != "string":
            raise self.error(glob, 'a glob pattern "..." or a regular expression /.../ after parse')
        self.advance()
        if not self.accept_word("as"):
            raise self.error(self.peek(), "'as' and field names after the parse pattern")
        fields = [self.field_name()]
        while self.accept_op(","):
            fields.append(self.field_name())
        names = tuple(fields)
        stars = glob.text.count("*")
        if stars != len(names):
            raise QuerySyntaxError(
                self.text,
                glob.pos,
                f"the parse pattern has {stars} '*' but {len(names)} field name(s) follow 'as'",
            )
        parts = [re.escape(part) for part in glob.text.split("*")]
        regex_text = parts[0]
        for index, part in enumerate(parts[1:]):
            regex_text += f"(?P<g{index}>.*?)" + part
        # The last wildcard, if the pattern ends with it, takes the rest of the value.
        if glob.text.endswith("*"):
            regex_text = (
                regex_text[: -len(f"(?P<g{len(names) - 1}>.*?)")] + f"(?P<g{len(names) - 1}>.*)"
            )
        return ast.Parse(
            token.pos, source, regex_text, tuple(names), glob=True, sql_regex=regex_text
        )

    def field_name(self) -> str:
        token = self.peek()
        if token.kind != "ident" or token.text.lower() in KEYWORDS:
            raise self.error(token, "a field name")
        self.advance()
        return token.text

    def dedup(self, token: Token) -> ast.Dedup:
        names = [self.field_name()]
        while self.accept_op(","):
            names.append(self.field_name())
        return ast.Dedup(token.pos, tuple(names))

    # ---- expressions ------------------------------------------------------------

    def expression(self, allow_aggregates: bool) -> ast.Expr:
        self._aggregates_ok = allow_aggregates
        return self.or_expr()

    def or_expr(self) -> ast.Expr:
        left = self.and_expr()
        while self.is_word("or"):
            token = self.advance()
            left = ast.Binary(token.pos, "or", left, self.and_expr())
        return left

    def and_expr(self) -> ast.Expr:
        left = self.not_expr()
        while self.is_word("and"):
            token = self.advance()
            left = ast.Binary(token.pos, "and", left, self.not_expr())
        return left

    def not_expr(self) -> ast.Expr:
        if self.is_word("not"):
            token = self.advance()
            return ast.Unary(token.pos, "not", self.not_expr())
        return self.comparison()

    def comparison(self) -> ast.Expr:
        left = self.additive()
        token = self.peek()
        if token.kind == "op" and token.text in ("=", "!=", "<", "<=", ">", ">="):
            self.advance()
            return ast.Binary(token.pos, token.text, left, self.additive())
        if token.kind == "op" and token.text == "=~":
            self.advance()
            return ast.Binary(token.pos, "like", left, self.regex())
        negated = False
        if token.kind == "ident" and token.text.lower() == "not":
            # `x not like ...` / `x not in [...]`
            save = self.pos
            self.advance()
            if self.is_word("like", "in"):
                negated = True
                token = self.peek()
            else:
                self.pos = save
                return left
        if self.is_word("like"):
            self.advance()
            self._skip()
            if self.text.startswith("/", self.pos):
                pattern: ast.Expr = self.regex()
            else:
                pattern_token = self.peek()
                if pattern_token.kind != "string":
                    raise self.error(
                        pattern_token, 'a string "..." or a regular expression /.../ after like'
                    )
                self.advance()
                pattern = ast.Literal(pattern_token.pos, pattern_token.text)
            return ast.Binary(token.pos, "notlike" if negated else "like", left, pattern)
        if self.is_word("in"):
            self.advance()
            self.expect_op("[")
            items = [self.additive()]
            while self.accept_op(","):
                items.append(self.additive())
            self.expect_op("]")
            return ast.InList(token.pos, left, tuple(items), negated)
        if negated:
            raise self.error(self.peek(), "'like' or 'in' after 'not'")
        return left

    def additive(self) -> ast.Expr:
        left = self.multiplicative()
        while self.is_op("+") or self.is_op("-"):
            token = self.advance()
            left = ast.Binary(token.pos, token.text, left, self.multiplicative())
        return left

    def multiplicative(self) -> ast.Expr:
        left = self.power()
        while self.is_op("*") or self.is_op("/") or self.is_op("%"):
            token = self.advance()
            left = ast.Binary(token.pos, token.text, left, self.power())
        return left

    def power(self) -> ast.Expr:
        base = self.unary()
        if self.is_op("^"):
            token = self.advance()
            return ast.Binary(token.pos, "^", base, self.power())
        return base

    def unary(self) -> ast.Expr:
        if self.is_op("-"):
            token = self.advance()
            operand = self.unary()
            if isinstance(operand, ast.Literal) and isinstance(operand.value, int | float):
                return ast.Literal(token.pos, -operand.value)
            return ast.Unary(token.pos, "-", operand)
        return self.primary()

    def primary(self) -> ast.Expr:
        token = self.peek()
        if token.kind == "number":
            self.advance()
            text = token.text
            value: int | float = int(text) if text.isdigit() else float(text)
            return ast.Literal(token.pos, value)
        if token.kind == "string":
            self.advance()
            return ast.Literal(token.pos, token.text)
        if token.kind == "duration":
            self.advance()
            return self.duration(token)
        if token.kind == "op" and token.text == "(":
            self.advance()
            inner = self.or_expr()
            self.expect_op(")")
            return inner
        if token.kind == "ident":
            if token.text.lower() in KEYWORDS and self.text[token.pos] != "`":
                raise self.error(token, "a field, a value or a function call")
            self.advance()
            if self.is_op("(") and self.text[token.pos] != "`":
                return self.call(token)
            return ast.Field(token.pos, self.access(token.text))
        raise self.error(token, "a field, a value or a function call")

    def duration(self, token: Token) -> ast.Duration:
        try:
            millis, unit = parse_time_period(token.text)
        except ValueError as exc:
            raise QuerySyntaxError(self.text, token.pos, str(exc)) from None
        return ast.Duration(token.pos, millis, token.text, unit)

    def access(self, name: str) -> str:
        """`list[0]`, `map.key`, `list[0].key`: one path, spelled like flattened fields (`list.0.key`)."""
        while self.text.startswith("[", self.pos):
            self.advance()
            index = self.peek()
            if index.kind != "number" or not index.text.isdigit():
                raise self.error(index, "a list index such as [0]")
            self.advance()
            self.expect_op("]")
            name += "." + index.text
            key = re.match(r"\.(`[^`]+`|[A-Za-z_@$][A-Za-z0-9_@$]*)", self.text[self.pos :])
            while key:
                name += "." + key.group(1).strip("`")
                self.pos += key.end()
                key = re.match(r"\.(`[^`]+`|[A-Za-z_@$][A-Za-z0-9_@$]*)", self.text[self.pos :])
        return name

    def call(self, token: Token) -> ast.Call:
        function = lookup(token.text)
        if function is None:
            raise QuerySyntaxError(
                self.text,
                token.pos,
                f"unsupported function '{token.text}' (`opskit insights functions` lists the supported ones)",
            )
        name = function.key
        if function.aggregate and not self._aggregates_ok:
            raise QuerySyntaxError(
                self.text, token.pos, f"aggregate function '{token.text}' is only allowed in stats"
            )
        self.expect_op("(")
        args: list[ast.Expr] = []
        star = False
        if name == "count" and self.is_op("*"):
            self.advance()
            star = True
        elif not self.is_op(")"):
            outer = self._aggregates_ok
            self._aggregates_ok = False  # no aggregates inside aggregates
            try:
                args.append(self.or_expr())
                while self.accept_op(","):
                    args.append(self.or_expr())
            finally:
                self._aggregates_ok = outer
        self.expect_op(")")
        low, high = function.min_args, function.max_args
        if name == "count":
            star = star or not args
        elif len(args) < low or (high is not None and len(args) > high):
            wanted = f"{low}" if low == high else f"{low} to {high}" if high else f"at least {low}"
            raise QuerySyntaxError(
                self.text,
                token.pos,
                f"function '{token.text}' takes {wanted} argument(s), got {len(args)}",
            )
        for index in function.period_args:
            if not isinstance(args[index], ast.Duration):
                raise QuerySyntaxError(
                    self.text,
                    args[index].pos,
                    f"expected a time period such as 5m as argument {index + 1} of {function.name}()",
                )
        if name == "pct" and not isinstance(args[1], ast.Literal):
            raise QuerySyntaxError(
                self.text,
                args[1].pos,
                "expected a number (the percentile) as the second argument of pct()",
            )
        return ast.Call(token.pos, name, tuple(args), star)


def parse_query(text: str) -> ast.Query:
    """Parse `text` or raise QuerySyntaxError naming the position and what was expected."""
    return Parser(text).parse()
