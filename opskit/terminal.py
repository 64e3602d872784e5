"""The Terminal owns all output: results on stdout, notes on stderr, in one of four formats.

Rules every command gets by using it:
- Markup is off: user data (paths, messages, query text) prints literally; style goes through
  `style=` or Rich renderables, never through `[tags]` in strings.
- One result document per invocation: `document()` / `render_rows()` write one JSON/YAML
  document or one CSV table; streams (`logs tail`) write JSON lines with `record()`.
- Tables are never truncated when stdout is not a terminal: they print at their full width.
- Notes and progress go to stderr, so stdout stays machine-readable; `--quiet` hides them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

OUTPUT_FORMATS = ("table", "json", "csv", "yaml")
QUIET, NORMAL, VERBOSE = -1, 0, 1
# Wide enough for any table a command prints; a table only takes the width its cells need.
UNBOUNDED_WIDTH = 100_000


class Status(Protocol):
    def update(self, status: str) -> None: ...


class NullStatus:
    """What `Terminal.status()` yields when nothing is shown: `update()` does nothing."""

    def update(self, status: str) -> None:
        return None


class Terminal:
    def __init__(
        self,
        output: str = "table",
        console: Console | None = None,
        err_console: Console | None = None,
        verbosity: int = NORMAL,
    ):
        self.output = output
        self.verbosity = verbosity
        self.console = console or Console(highlight=False, soft_wrap=False)
        self.err_console = err_console or Console(stderr=True, highlight=False)
        self.documents = 0  # JSON/YAML documents and CSV tables written so far
        self.env_name: str | None = None  # warnings' `opskit ...` hints name it (App sets it)

    @property
    def interactive(self) -> bool:
        return self.console.is_terminal and sys.stdin.isatty()

    @property
    def machine_readable(self) -> bool:
        return self.output != "table"

    # -- lines -------------------------------------------------------------------------------

    def out(self, message: str | Text, style: str | None = None) -> None:
        """One line of human output on stdout, printed literally (no markup, no wrapping)."""
        self.console.print(
            message, style=style, markup=False, highlight=False, soft_wrap=True, emoji=False
        )

    def err(self, message: str | Text, style: str | None = None) -> None:
        """One line on stderr, printed literally; shown even with --quiet (use for problems)."""
        self.err_console.print(
            message, style=style, markup=False, highlight=False, soft_wrap=True, emoji=False
        )

    def info(self, message: str | Text, style: str | None = None) -> None:
        """Progress and notes: stderr, hidden by --quiet."""
        if self.verbosity > QUIET:
            self.err(message, style=style)

    def debug(self, message: str | Text) -> None:
        """Details shown only with --verbose."""
        if self.verbosity >= VERBOSE:
            self.err(message, style="dim")

    def warn(self, message: str) -> None:
        """A warning on stderr; an `opskit ...` hint in it names the environment in use."""
        if self.env_name:
            from opskit.errors import name_environment

            message = name_environment(message, self.env_name)
        self.err(Text.assemble(("warning: ", "yellow"), message))

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """Rich renderables (tables, charts, Text) on stdout; plain strings print literally."""
        kwargs.setdefault("markup", False)
        kwargs.setdefault("emoji", False)
        if all(isinstance(o, str | Text) for o in objects):
            kwargs.setdefault("soft_wrap", True)  # lines are never hard-wrapped at 80 in a pipe
        console = self.console
        if not console.is_terminal and "width" not in kwargs:
            width = _natural_width(console, objects)
            if width is not None and width > console.width:
                # A pipe is 80 columns to Rich: print tables at the width their cells need.
                console = Console(
                    file=console.file,
                    width=width,
                    color_system=console.color_system,  # type: ignore[arg-type]
                    no_color=console.no_color,
                    highlight=False,
                )
        console.print(*objects, **kwargs)

    def write(self, text: str) -> None:
        """Raw text to stdout (no markup, no wrapping)."""
        self.console.file.write(text)
        self.console.file.flush()

    # -- waits and questions -----------------------------------------------------------------

    @contextlib.contextmanager
    def status(self, message: str) -> Iterator[Status]:
        """A spinner on an interactive stderr; otherwise a NullStatus (`update()` is a no-op)."""
        if self.err_console.is_terminal and self.verbosity > QUIET:
            with self.err_console.status(Text(message)) as status:
                yield _TextStatus(status)
        else:
            yield NullStatus()

    @contextlib.contextmanager
    def progress(self, message: str, after: float = 1.0) -> Iterator[Status]:
        """A long wait: a spinner with the elapsed time on a terminal; otherwise (a pipe, CI) a
        line once it has lasted `after` seconds and one with the time it took. Waits that end
        sooner print nothing, so a quick failure stays one line. stderr; hidden by --quiet."""
        started = time.monotonic()
        if self.err_console.is_terminal and self.verbosity > QUIET:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
            with Progress(*columns, console=self.err_console, transient=True) as bar:
                task = bar.add_task(message, total=None)
                yield _ProgressStatus(bar, task)
            self.info(f"{message}: done in {time.monotonic() - started:.1f} s")
            return
        import threading

        announced = threading.Event()

        def announce() -> None:
            announced.set()
            self.info(f"{message} ...")

        timer = threading.Timer(after, announce)
        timer.daemon = True
        timer.start()
        try:
            yield NullStatus()
        finally:
            timer.cancel()
        if announced.is_set():
            self.info(f"{message}: done in {time.monotonic() - started:.1f} s")

    def prompt(self, question: str, kind: Any = None, default: Any = None, **kwargs: Any) -> Any:
        """Ask on stderr (stdout stays for results); `kind` (a Click type) validates and re-asks."""
        import click

        return click.prompt(question, default=default, type=kind, err=True, **kwargs)

    def confirm(self, question: str, assume_yes: bool = False) -> bool:
        """Ask before doing something destructive. Non-interactive without --yes means no."""
        if assume_yes:
            return True
        if not sys.stdin.isatty():
            return False
        import click

        return click.confirm(question, default=False, err=True)

    # -- results -----------------------------------------------------------------------------

    def document(
        self,
        data: Any,
        output: str | None = None,
        rows: Sequence[dict[str, Any]] | None = None,
        columns: Sequence[str] | None = None,
    ) -> None:
        """The invocation's one result: a JSON or YAML document, or one CSV table.

        For CSV, `rows` (with `columns`) is the table; without them the document is flattened
        to `key,value` rows with dotted keys (`outputs.ApiUrl`, `resources.0.status`).
        """
        output = output or self.output
        self._count_document()
        if output == "yaml":
            self.write(to_yaml(data))
        elif output == "csv":
            if rows is None:
                rows, columns = [{"key": k, "value": v} for k, v in flatten(data)], ["key", "value"]
            self.write(to_csv(rows, columns))
        else:
            self.write(to_json(data) + "\n")

    def record(self, data: dict[str, Any]) -> None:
        """One JSON line of a stream (`logs tail --output json`): one object per line, flushed."""
        self.write(json.dumps(data, default=_json_default, separators=(",", ":")) + "\n")

    def render_rows(
        self,
        rows: Sequence[dict[str, Any]],
        columns: Sequence[str] | None = None,
        title: str | None = None,
        output: str | None = None,
        styles: dict[str, str] | None = None,
    ) -> None:
        """Render a list of dicts as a table, a JSON/YAML array, or one CSV table."""
        output = output or self.output
        columns = list(columns) if columns else _columns_of(rows)
        if output in ("json", "yaml"):
            self.document(list(rows), output=output)
        elif output == "csv":
            self._count_document()
            self.write(to_csv(rows, columns))
        else:
            table = Table(title=title, show_lines=False, header_style="bold")
            for column in columns:
                table.add_column(column, style=(styles or {}).get(column), overflow="fold")
            for row in rows:
                table.add_row(*(_plain(row.get(c)) for c in columns))
            self.print(table)

    def _count_document(self) -> None:
        # More than one per invocation makes stdout unparseable; tests check `documents`.
        self.documents += 1


class _TextStatus:
    def __init__(self, status: Any):
        self._status = status

    def update(self, status: str) -> None:
        self._status.update(Text(status))


class _ProgressStatus:
    def __init__(self, bar: Any, task: Any):
        self._bar, self._task = bar, task

    def update(self, status: str) -> None:
        self._bar.update(self._task, description=status)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, default=_json_default)


def to_yaml(data: Any) -> str:
    import yaml

    plain = json.loads(json.dumps(data, default=_json_default))
    return yaml.safe_dump(plain, sort_keys=False, allow_unicode=True, default_flow_style=False)


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    columns = list(columns) if columns else _columns_of(rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _plain(row.get(c)) for c in columns})
    return buffer.getvalue()


def flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """`{"a": {"b": 1}, "c": [2]}` -> [("a.b", 1), ("c.0", 2)] (JSON-compatible values first)."""
    data = json.loads(json.dumps(data, default=_json_default))
    out: list[tuple[str, Any]] = []

    def walk(value: Any, key: str) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(value, list) and value:
            for i, v in enumerate(value):
                walk(v, f"{key}.{i}" if key else str(i))
        else:
            out.append((key, "" if value in ({}, []) else value))

    walk(data, prefix)
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(value)
    return str(value)


def _natural_width(console: Console, objects: Sequence[Any]) -> int | None:
    """The width tables need to print unsquashed (None when there is no table)."""
    tables: list[RenderableType] = [o for o in objects if isinstance(o, Table)]
    if not tables:
        return None
    options = console.options.update(max_width=UNBOUNDED_WIDTH)
    return max(Measurement.get(console, options, t).maximum for t in tables)


def _columns_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
