"""X-Ray sampling as Lambda active tracing does it: a reservoir, then a fixed rate.

The template turns on active tracing (`TracingConfig: Mode: Active`) and sets no sampling rule
of its own, so X-Ray's default rule applies: the first request in each second (reservoir 1)
plus 5 % of the rest (fixed rate 0.05). Docs: "By default, the X-Ray SDK records the first
request each second, and five percent of any additional requests" (X-Ray developer guide,
sampling; Lambda: "Lambda ... sampling rate is 1 request per second and 5 percent of
additional requests"). So at low traffic nearly every request is traced, not 5 %.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

MONTH_SECONDS = 730 * 3600


@dataclass(frozen=True)
class SamplingRule:
    reservoir_per_second: float = 1.0
    fixed_rate: float = 0.05

    def traced_in_second(self, requests: float) -> float:
        """Expected traces among `requests` arriving in one second."""
        if requests <= 0:
            return 0.0
        taken = min(requests, self.reservoir_per_second)
        return taken + (requests - taken) * self.fixed_rate

    def traced_evenly(self, requests: float, seconds: float = MONTH_SECONDS) -> float:
        """Expected traces of `requests` spread evenly over `seconds` (the estimate's assumption)."""
        if requests <= 0 or seconds <= 0:
            return 0.0
        return seconds * self.traced_in_second(requests / seconds)

    def traced_per_second(self, counts: Iterable[int]) -> float:
        """Expected traces given the requests seen in each (non-empty) second."""
        return sum(self.traced_in_second(n) for n in counts)

    def label(self) -> str:
        return (
            f"{self.reservoir_per_second:g} request/s + {self.fixed_rate:.0%} of the rest, "
            "X-Ray's default rule: the template sets none"
        )


DEFAULT_RULE = SamplingRule()


class Sampler:
    """Decides, request by request, as the rule would (the local shipper's XRAY lines)."""

    def __init__(self, rule: SamplingRule = DEFAULT_RULE, seed: int | None = None):
        self.rule = rule
        self.random = random.Random(seed)
        self.second: int | None = None
        self.used = 0

    def sampled(self, timestamp_ms: int) -> bool:
        second = timestamp_ms // 1000
        if second != self.second:
            self.second, self.used = second, 0
        if self.used < self.rule.reservoir_per_second:
            self.used += 1
            return True
        return self.random.random() < self.rule.fixed_rate
