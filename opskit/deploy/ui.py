"""How deploy/destroy progress reaches the user: a Rich live view when interactive, lines otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.live import Live
from rich.table import Table

from opskit.deploy.changeset import ChangeSet
from opskit.deploy.diff import ParameterChange, PropertyChange
from opskit.terminal import Terminal

LIVE_ROWS = 15
FAILED_STYLE = "red"


class TerminalUI:
    """Implements the DeployUI protocol on top of the Terminal. Use as a context manager."""

    def __init__(self, terminal: Terminal):
        self.terminal = terminal
        self.live: Live | None = None
        self.rows: list[tuple[str, str, str, str, str]] = []
        self._last_wait_print = -1e9

    def __enter__(self) -> TerminalUI:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    @property
    def interactive(self) -> bool:
        return self.terminal.interactive and self.terminal.err_console.is_terminal

    def note(self, message: str) -> None:
        self.terminal.info(message)

    def confirm(self, question: str) -> bool:
        return self.terminal.confirm(question, assume_yes=False)

    def waiting(self, status: str, elapsed: float) -> None:
        if self.interactive:
            self.terminal.err_console.print(
                f"  waiting: {status} ({elapsed:.0f} s elapsed)", end="\r"
            )
        elif elapsed - self._last_wait_print >= 15:
            self._last_wait_print = elapsed
            self.terminal.info(f"  waiting: {status} ({elapsed:.0f} s elapsed)")

    def plan(
        self,
        change_set: ChangeSet,
        parameters: list[ParameterChange],
        properties: list[PropertyChange],
    ) -> None:
        if self.terminal.machine_readable:
            return  # json, yaml, csv: the command prints the one document at the end
        rows = change_set.rows()
        title = f"Change set {change_set.name} ({change_set.change_set_type})"
        if rows:
            self.terminal.render_rows(
                rows, columns=["action", "logical_id", "type", "replacement"], title=title
            )
        else:
            self.terminal.out(f"{title}: no resource-level changes listed")
        if parameters:
            self.terminal.out("Parameters:")
            for change in parameters:
                self.terminal.out(f"  {change.render()}")
        if properties:
            self.terminal.out("Property changes:")
            for prop in properties:
                self.terminal.out(f"  {prop.render()}")

    def event(self, event: Mapping[str, Any], elapsed: float) -> None:
        status = str(event.get("ResourceStatus", ""))
        row = (
            f"{elapsed:6.1f}s",
            str(event.get("LogicalResourceId", "")),
            str(event.get("ResourceType", "")),
            status,
            str(event.get("ResourceStatusReason", "") or ""),
        )
        self.rows.append(row)
        if not self.interactive:
            self.terminal.info("  ".join(part for part in row if part))
            return
        if self.live is None:
            self.live = Live(
                self._table(),
                console=self.terminal.err_console,
                refresh_per_second=8,
                transient=False,
            )
            self.live.start()
        self.live.update(self._table())

    def _table(self) -> Table:
        table = Table(header_style="bold", show_lines=False)
        for column in ("elapsed", "resource", "type", "status", "reason"):
            table.add_column(column)
        for row in self.rows[-LIVE_ROWS:]:
            style = FAILED_STYLE if row[3].endswith("FAILED") else None
            table.add_row(*row, style=style)
        return table
