"""The Terminal owns the Rich console: tables, spinners (only when interactive), json/csv."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

OUTPUT_FORMATS = ("table", "json", "csv")


class Terminal:
    def __init__(
        self,
        output: str = "table",
        console: Console | None = None,
        err_console: Console | None = None,
    ):
        self.output = output
        self.console = console or Console(highlight=False, soft_wrap=False)
        self.err = err_console or Console(stderr=True, highlight=False)

    @property
    def interactive(self) -> bool:
        return self.console.is_terminal and sys.stdin.isatty()

    def print(self, *objects: Any, **kwargs: Any) -> None:
        self.console.print(*objects, **kwargs)

    def info(self, message: str) -> None:
        """Progress and notes go to stderr so stdout stays machine-readable."""
        self.err.print(message)

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {message}")

    @contextlib.contextmanager
    def status(self, message: str) -> Iterator[Any]:
        if self.err.is_terminal:
            with self.err.status(message) as status:
                yield status
        else:
            yield None

    def confirm(self, question: str, assume_yes: bool = False) -> bool:
        """Ask before doing something destructive. Non-interactive without --yes means no."""
        if assume_yes:
            return True
        if not sys.stdin.isatty():
            return False
        import click

        return click.confirm(question, default=False, err=True)

    def render_rows(
        self,
        rows: Sequence[dict[str, Any]],
        columns: Sequence[str] | None = None,
        title: str | None = None,
        output: str | None = None,
        styles: dict[str, str] | None = None,
    ) -> None:
        """Render a list of dicts as a table, a JSON array, or CSV, per --output/--format."""
        output = output or self.output
        columns = list(columns) if columns else _columns_of(rows)
        if output == "json":
            self.write(json.dumps(list(rows), indent=2, default=str) + "\n")
        elif output == "csv":
            buffer = io.StringIO()
            writer = csv.DictWriter(
                buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n"
            )
            writer.writeheader()
            for row in rows:
                writer.writerow({c: _plain(row.get(c)) for c in columns})
            self.write(buffer.getvalue())
        else:
            table = Table(title=title, show_lines=False, header_style="bold")
            for column in columns:
                table.add_column(column, style=(styles or {}).get(column))
            for row in rows:
                table.add_row(*(_plain(row.get(c)) for c in columns))
            self.console.print(table)

    def write(self, text: str) -> None:
        """Raw text to stdout (no markup, no wrapping): for JSON and CSV."""
        self.console.file.write(text)
        self.console.file.flush()


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
