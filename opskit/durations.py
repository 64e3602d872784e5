"""Durations as users type them (`90s`, `15m`, `1h30m`, `1.5d`, `2w`): the one parser.

Every `--since`, `--period`-like option and the `cost` commands read durations here, so the
same text means the same span everywhere.
"""

from __future__ import annotations

import re
from datetime import timedelta

UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1,
    "sec": 1,
    "m": 60,
    "min": 60,
    "h": 3600,
    "hr": 3600,
    "d": 86400,
    "w": 604800,
}
# Longest unit spellings first, so `ms` is not read as `m` followed by garbage.
_UNITS = "|".join(sorted(UNIT_SECONDS, key=len, reverse=True))
_PART = re.compile(rf"(\d+(?:\.\d+)?)\s*({_UNITS})(?![a-z])")
MAX_DAYS = 3650  # also keeps timedelta and date arithmetic from overflowing
EXAMPLES = "e.g. 15m, 1h, 1h30m, 7d"


class DurationError(ValueError):
    """`str(error)` says why, for the option's own message."""


def parse_duration(text: str) -> timedelta:
    """A positive duration, at most MAX_DAYS; DurationError otherwise."""
    cleaned = str(text).strip().lower()
    parts = _PART.findall(cleaned)
    if not parts or _PART.sub("", cleaned).strip():
        raise DurationError(
            f"{text!r} is not a duration (a number and a unit: ms, s, m, h, d, w; {EXAMPLES})"
        )
    units = [UNIT_SECONDS[unit] for _, unit in parts]
    if len(set(units)) != len(units):  # `1h1h`, `5m10min`: a typo, not a sum
        raise DurationError(f"{text!r} names a unit twice ({EXAMPLES})")
    seconds = sum(float(number) * UNIT_SECONDS[unit] for number, unit in parts)
    if seconds < 0.001:  # timedelta keeps microseconds; below a millisecond is no window
        raise DurationError(f"{text!r} must be at least 1ms")
    if seconds > MAX_DAYS * 86400:
        raise DurationError(f"{text!r} is longer than {MAX_DAYS} days")
    return timedelta(seconds=seconds)


def format_duration(span: timedelta) -> str:
    """The short form users type: 90 s -> `1m30s`, 1 day -> `1d`."""
    seconds = round(span.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or f"{round(span.total_seconds() * 1000)}ms"
