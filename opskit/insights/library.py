"""The query library: `queries/*.insights`, one Logs Insights query per file.

Metadata lives in the leading `#` comment lines (valid Insights comments):

    # name: slow-requests
    # description: Requests slower than a threshold
    # log-group: gateway            (gateway | access | lambda)
    # param: threshold_ms: int 0..900000 = 1000 (milliseconds)
    # source: where the pattern comes from

Parameters are substituted as `{name}`. A parameter declares its type: `int LOW..HIGH`
(bounds optional), `number LOW..HIGH`, `period` (a time period as bin() takes it: 5m, 1h)
or `word` (a plain word); without one the type follows the default (`limit=20` is an
int 1..10000). A value is checked against its type before substitution, so it cannot change
the query's structure, and the CLI checks `--NAME`/`--param` values the same way (exit 2).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from opskit import envvars
from opskit.errors import ConfigError, NotFoundError

LOG_GROUPS = ("gateway", "access", "lambda")
SUFFIX = ".insights"
_SAFE_VALUE = re.compile(r"[A-Za-z0-9_.:/@-]+")


TYPES = ("int", "number", "period", "word")
MAX_INT = 2**31 - 1
MAX_NUMBER = 1e15
MAX_PERIOD_MS = 366 * 86_400_000


class ParamValueError(ValueError):
    """`str(error)` says why a value does not fit the parameter's type."""


@dataclass(frozen=True)
class Param:
    name: str
    default: str
    help: str = ""
    type: str = "word"
    low: float | None = None
    high: float | None = None

    @classmethod
    def declared(
        cls, name: str, default: str, help: str = "", type: str | None = None, bounds: str = ""
    ) -> Param:
        """A parameter from its `# param:` line; the type follows the default when not given."""
        if type is None:
            type = _inferred_type(name, default)
            if name == "limit" and type == "int" and not bounds:
                bounds = "1..10000"  # CloudWatch's row cap
        if type not in TYPES:
            raise ValueError(f"unknown type '{type}' (use {', '.join(TYPES)})")
        low, high = _bounds(bounds, type)
        param = cls(name, default, help, type, low, high)
        param.check(default)  # a library file's default must fit its own type
        return param

    @property
    def declaration(self) -> str:
        """The `# param:` text that declares it (what `insights show` prints)."""
        bounds = ""
        if self.type in ("int", "number") and (self.low, self.high) != _DEFAULT_BOUNDS[self.type]:
            bounds = f" {self.low:g}..{self.high:g}"
        text = f"{self.name}: {self.type}{bounds} = {self.default}"
        return text + (f" ({self.help})" if self.help else "")

    def describe(self) -> str:
        """What a value must be, for help text and errors: `an integer 0..900000`."""
        if self.type == "int":
            return f"an integer {self.low:g}..{self.high:g}"
        if self.type == "number":
            return f"a number {self.low:g}..{self.high:g}"
        if self.type == "period":
            return "a time period (e.g. 5m, 1h, 1d)"
        return "a plain word (letters, digits, _.:/@-)"

    def check(self, value: str) -> str:
        """The value as it is substituted; ParamValueError if it does not fit the type."""
        text = str(value).strip()
        if self.type in ("int", "number"):
            try:
                number = int(text) if self.type == "int" else float(text)
            except ValueError:
                raise ParamValueError(f"{value!r} is not {self.describe()}") from None
            assert self.low is not None and self.high is not None
            if not (math.isfinite(number) and self.low <= number <= self.high):
                raise ParamValueError(f"{value!r} is not {self.describe()}")
            return str(number) if self.type == "int" else f"{number:f}".rstrip("0").rstrip(".")
        if self.type == "period":
            from opskit.insights.parser import parse_time_period

            try:
                millis, _ = parse_time_period(text)
            except ValueError as exc:
                raise ParamValueError(str(exc)) from None
            if millis > MAX_PERIOD_MS:
                raise ParamValueError(f"{value!r} is longer than 366 days")
            return text
        if not _SAFE_VALUE.fullmatch(text):
            raise ParamValueError(f"{value!r} is not {self.describe()}")
        return text


_DEFAULT_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "int": (0, MAX_INT),
    "number": (0, MAX_NUMBER),
    "period": (None, None),
    "word": (None, None),
}


def _inferred_type(name: str, default: str) -> str:
    for kind, convert in (("int", int), ("number", float)):
        try:
            convert(default)
        except ValueError:
            continue
        return kind
    return "word"


def _bounds(text: str, type: str) -> tuple[float | None, float | None]:
    low, high = _DEFAULT_BOUNDS[type]
    if not text:
        return low, high
    if type not in ("int", "number"):
        raise ValueError(f"a {type} parameter takes no bounds")
    first, _, second = text.partition("..")
    convert = int if type == "int" else float
    try:
        low, high = convert(first), convert(second)
    except ValueError:
        raise ValueError(f"bad bounds '{text}' (write LOW..HIGH, e.g. 1..10000)") from None
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ValueError(f"bad bounds '{text}' (write LOW..HIGH, e.g. 1..10000)")
    return low, high


@dataclass(frozen=True)
class LibraryQuery:
    name: str
    description: str
    log_group: str
    body: str  # the query text without the metadata lines
    params: tuple[Param, ...] = ()
    source: str = ""
    path: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def render(self, values: dict[str, str] | None = None) -> str:
        values = dict(values or {})
        known = {p.name for p in self.params}
        unknown = sorted(set(values) - known)
        if unknown:
            allowed = ", ".join(sorted(known)) or "none"
            raise ConfigError(
                f"query '{self.name}' has no parameter {', '.join(unknown)}",
                f"its parameters: {allowed}",
                "check `opskit insights show NAME`",
            )
        text = self.body
        for param in self.params:
            try:
                value = param.check(values.get(param.name, param.default))
            except ParamValueError as exc:
                raise ConfigError(
                    f"invalid value for parameter {param.name}",
                    str(exc),
                    f"e.g. --param {param.name}={param.default}",
                ) from None
            text = text.replace("{" + param.name + "}", value)
        return text

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


def default_dir(root: Path | None = None) -> Path:
    override = os.environ.get(envvars.QUERIES_DIR)
    if override:
        return Path(override)
    if root is not None and (root / "queries").is_dir():
        return root / "queries"
    return Path(__file__).resolve().parents[2] / "queries"


def parse_file(path: Path) -> LibraryQuery:
    meta: dict[str, str] = {}
    params: list[Param] = []
    lines = path.read_text().splitlines()
    body_start = 0
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("#"):
            body_start = index
            break
        match = re.match(r"#\s*([A-Za-z-]+)\s*:\s*(.*)", stripped)
        if not match:
            continue
        key, value = match.group(1).lower(), match.group(2).strip()
        if key == "param":
            params.append(_param_line(path, value))
        else:
            meta[key] = value
    else:
        body_start = len(lines)
    name = meta.pop("name", path.stem)
    log_group = meta.pop("log-group", "gateway")
    if log_group not in LOG_GROUPS:
        raise ConfigError(
            f"{path}: unknown log-group '{log_group}'",
            f"use one of {', '.join(LOG_GROUPS)}",
            "fix the file's `# log-group:` line",
        )
    body = "\n".join(lines[body_start:]).strip() + "\n"
    return LibraryQuery(
        name=name,
        description=meta.pop("description", ""),
        log_group=log_group,
        body=body,
        params=tuple(params),
        source=meta.pop("source", ""),
        path=path,
        extra=meta,
    )


_PARAM_LINE = re.compile(
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*"
    r"(?::\s*(?P<type>[a-z]+)(?:\s+(?P<bounds>\S+\.\.\S+))?\s*)?"
    r"=\s*(?P<default>\S+)\s*(?:\((?P<help>.*)\))?$"
)


def _param_line(path: Path, text: str) -> Param:
    """`threshold_ms: int 0..900000 = 1000 (milliseconds)`, or the short `limit=20 (rows)`."""
    match = _PARAM_LINE.match(text)
    fix = "write `# param: name: int 0..100 = default (help)` (type int, number, period, word)"
    if not match:
        raise ConfigError(f"{path}: bad param line", text, fix)
    try:
        return Param.declared(
            match["name"],
            match["default"],
            match["help"] or "",
            match["type"],
            match["bounds"] or "",
        )
    except ValueError as exc:
        raise ConfigError(f"{path}: bad param line", f"{text}: {exc}", fix) from None


def load_library(directory: Path | None = None) -> dict[str, LibraryQuery]:
    directory = directory or default_dir()
    if not directory.is_dir():
        raise NotFoundError(
            f"no query library at {directory}",
            "it is a file, not a directory"
            if directory.exists()
            else "the directory does not exist",
            "set OPSKIT_QUERIES_DIR or run from the project",
        )
    queries = {}
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        query = parse_file(path)
        queries[query.name] = query
    return queries


def get_query(name: str, directory: Path | None = None) -> LibraryQuery:
    library = load_library(directory)
    if name not in library:
        raise NotFoundError(
            f"no query named '{name}'",
            f"the library has: {', '.join(sorted(library))}",
            "run `opskit insights list`",
        )
    return library[name]
