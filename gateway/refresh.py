"""Refreshing shared state safely: one refresh at a time, and a pause after a failure.

Used for credentials (``gateway.aws``), the JWKS and the JWT secret (``gateway.auth``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

_BACKOFF_FIRST = 1.0
_BACKOFF_MAX = 60.0


class SingleFlight:
    """At most one run of a coroutine at a time; callers that come while it runs share it.

    The run is shielded: a caller that gives up (its request was cancelled) does not cancel it
    for the others. A run belongs to its event loop; a new loop starts a new run."""

    def __init__(self) -> None:
        self._task: asyncio.Task[Any] | None = None

    def running(self) -> bool:
        return self._current() is not None

    def _current(self) -> asyncio.Task[Any] | None:
        task = self._task
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            return None
        return task

    async def run(self, factory: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        """Join the run under way, or start one, and wait for its result."""
        task = self._current() or self.start(factory)
        return await asyncio.shield(task)

    def start(self, factory: Callable[[], Coroutine[Any, Any, Any]]) -> asyncio.Task[Any]:
        """Start a run in the background unless one is under way."""
        task = self._current()
        if task is None:
            task = self._task = asyncio.get_running_loop().create_task(factory())
            task.add_done_callback(lambda t: t.cancelled() or t.exception())  # mark retrieved
        return task


class Backoff:
    """Negative cache: after a failure, no new attempt before ``first`` seconds (1), doubling
    up to ``most`` (60)."""

    def __init__(self, first: float = _BACKOFF_FIRST, most: float = _BACKOFF_MAX) -> None:
        self.first = first
        self.most = most
        self.failures = 0
        self.not_before = 0.0

    def ready(self) -> bool:
        return time.monotonic() >= self.not_before

    def failed(self) -> None:
        self.failures += 1
        self.not_before = time.monotonic() + min(self.first * 2 ** (self.failures - 1), self.most)

    def succeeded(self) -> None:
        self.failures = 0
        self.not_before = 0.0
