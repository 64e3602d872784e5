"""The query library: `queries/*.insights`, one Logs Insights query per file.

Metadata lives in the leading `#` comment lines (valid Insights comments):

    # name: slow-requests
    # description: Requests slower than a threshold
    # log-group: gateway            (gateway | access | lambda)
    # param: threshold_ms=1000 (milliseconds)
    # source: where the pattern comes from

Parameters are substituted as `{name}`; a value must be a number or a plain word so
substitution cannot change the query's structure.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from opskit import envvars
from opskit.errors import ConfigError, NotFoundError

LOG_GROUPS = ("gateway", "access", "lambda")
SUFFIX = ".insights"
_SAFE_VALUE = re.compile(r"[A-Za-z0-9_.:/@-]+")


@dataclass(frozen=True)
class Param:
    name: str
    default: str
    help: str = ""


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
            value = str(values.get(param.name, param.default))
            if not _SAFE_VALUE.fullmatch(value):
                raise ConfigError(
                    f"invalid value for parameter {param.name}: {value!r}",
                    "use a number or a plain word",
                    f"e.g. --param {param.name}={param.default}",
                )
            text = text.replace("{" + param.name + "}", value)
        return text


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
            pm = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\S+)\s*(?:\((.*)\))?", value)
            if not pm:
                raise ConfigError(
                    f"{path}: bad param line", value, "write `# param: name=default (help)`"
                )
            params.append(Param(pm.group(1), pm.group(2), pm.group(3) or ""))
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
