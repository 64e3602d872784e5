"""Values as Logs Insights sees them: loosely typed, rendered as GetQueryResults renders them.

A field value is a string, an int, a float or a `Timestamp` (epoch milliseconds); a
missing field is None. Semantics shared by both engines (see docs in engine.py):

* a value is *numeric* if it is a number, or a string that is only a number
  (`-12`, `3.5`, `1e3`); comparisons are numeric when both sides are numeric,
  textual when neither is, and false (`!=`: true) when exactly one is;
* anything involving a missing field is missing (SQL-like), so a filter on it drops the event;
* JSON booleans are ingested as 1 / 0, JSON null as a missing field.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
# The same test in DuckDB's RE2 dialect (kept next to the Python one on purpose).
NUMBER_SQL_RE = r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"
# Integral numbers below this print exactly on both engines; above it DuckDB's DOUBLE
# cannot hold every integer, so both print 12 significant digits.
EXACT_INT_LIMIT = 2**53


class Timestamp(int):
    """Epoch milliseconds that render as `YYYY-MM-DD HH:MM:SS.mmm` (UTC)."""

    __slots__ = ()


def as_number(value: object) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if abs(value) < EXACT_INT_LIMIT else float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, str) and NUMBER_RE.fullmatch(value):
        number = float(value)
        if (
            number.is_integer()
            and "." not in value
            and "e" not in value.lower()
            and abs(number) < EXACT_INT_LIMIT
        ):
            return int(value)
        return number
    return None


def truth(value: object) -> bool | None:
    """A value as a condition: numbers are true unless 0, text unless empty; missing is None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    number = as_number(value)
    if number is not None:
        return number != 0
    return as_text(value) != ""


def as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return render(value)


def render(value: object) -> str | None:
    """How GetQueryResults shows a value: always a string (None: the field is left out)."""
    if value is None:
        return None
    if isinstance(value, Timestamp):
        return format_timestamp(int(value))
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        if value.is_integer() and abs(value) < EXACT_INT_LIMIT:
            return str(int(value))
        return format(value, ".12g")  # 12 digits: hides float noise such as 359.594000000001
    if isinstance(value, dict | list):
        return json_text(value)
    return str(value)


def json_text(value: object) -> str:
    """A structure (jsonParse) as compact JSON text, as jsonStringify and DuckDB print it."""
    import orjson

    return orjson.dumps(value).decode()


def format_timestamp(millis: int) -> str:
    moment = datetime.fromtimestamp(millis / 1000, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{millis % 1000:03d}"


_CHUNKS = re.compile(r"\d+|\D+")


def natural_key(text: str) -> str:
    """The documented Insights string order: digit runs compare by length, then value.

    Each run of digits becomes '0' + its length (3 digits) + the digits: digits still
    sort against other characters as digits do, and runs compare by length first.
    DuckDB computes the same key in SQL (duck.py), so both engines order alike.
    """
    return "".join(
        f"0{len(chunk):03d}{chunk}" if chunk[0].isdigit() else chunk
        for chunk in _CHUNKS.findall(text)
    )


def sort_key(value: object) -> tuple:
    """Ascending order as documented for `sort`: non-numbers (natural order) before numbers.

    Missing values sort after everything (documented choice; CloudWatch does not say).
    """
    if value is None:
        return (2, 0, "")
    number = as_number(value)
    if number is not None:
        return (1, number, "")
    return (0, 0, natural_key(as_text(value) or ""))
