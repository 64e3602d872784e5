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
