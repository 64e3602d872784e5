"""Refresh a view every N seconds (`--watch`): Rich Live on a terminal, plain reprints otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opskit.terminal import Terminal


def watch(
    terminal: Terminal,
    build: Callable[[], Any],
    *,
    interval: float,
    sleep: Callable[[float], None],
    iterations: int | None = None,
) -> int:
    """Render `build()` until Ctrl-C (or `iterations` renders). Returns how many renders happened.

    Ctrl-C propagates: the CLI exits 130, as for every interrupted command.
    """
    count = 0
    if terminal.console.is_terminal:
        from rich.live import Live

        with Live(build(), console=terminal.console, auto_refresh=False, screen=False) as live:
            count = 1
            while iterations is None or count < iterations:
                sleep(interval)
                live.update(build(), refresh=True)
                count += 1
    else:
        while iterations is None or count < iterations:
            if count:
                sleep(interval)
            terminal.print(build())
            count += 1
    return count


def stream(
    terminal: Terminal,
    document: Callable[[], Any],
    *,
    interval: float,
    sleep: Callable[[float], None],
    iterations: int | None = None,
) -> int:
    """`--watch --output json`: the command's document as one JSON line per refresh, until
    Ctrl-C (exit 130). Other machine formats are one document per invocation: a usage error."""
    if terminal.output != "json":
        from opskit.errors import UsageError

        raise UsageError(
            f"--watch streams JSON lines; --output {terminal.output} is one document",
            "",
            "use --output json with --watch, or drop --watch",
        )
    count = 0
    while iterations is None or count < iterations:
        if count:
            sleep(interval)
        terminal.record(document())
        count += 1
    return count
