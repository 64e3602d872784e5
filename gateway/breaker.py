"""A per-upstream circuit breaker: closed -> open after N consecutive failures -> half-open
after a cooldown (one trial request) -> closed on success, open again on failure.

``allow()`` grants a request; a granted half-open trial holds the one trial slot until
``success()``, ``failure()`` or ``release()``. Callers release in a ``finally`` so that a trial
ending any other way (an encoding error, a cancelled request, an answer that says nothing about
the upstream's health) frees the slot instead of keeping the circuit open until restart.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

CLOSED, TRIAL = "closed", "trial"


class CircuitBreaker:
    def __init__(
        self, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.cooldown else "open"

    def allow(self) -> str | None:
        """``"closed"`` (go ahead), ``"trial"`` (go ahead, holding the trial slot) or None."""
        state = self.state
        if state == "closed":
            return CLOSED
        if state == "half-open" and not self._trial_in_flight:
            self._trial_in_flight = True
            return TRIAL
        return None

    def retry_after(self) -> int:
        if self.opened_at is None:
            return 0
        return max(1, math.ceil(self.cooldown - (self.clock() - self.opened_at)))

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._trial_in_flight = False

    def failure(self) -> None:
        self._trial_in_flight = False
        self.failures += 1
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = self.clock()

    def release(self, grant: str | None) -> None:
        """End a granted request that recorded neither success nor failure."""
        if grant == TRIAL:
            self._trial_in_flight = False
