"""Half-open date periods [start, end): months, last N days, since/until, previous period.

Cost Explorer's TimePeriod.End is exclusive, and a day is keyed by its start
date: "yesterday" on 2026-03-01 is [2026-02-28, 2026-03-01), never the 1st.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from opskit.durations import DurationError, parse_duration
from opskit.errors import UsageError

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    start: date  # inclusive
    end: date  # exclusive

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise UsageError(
                f"empty period {self.start.isoformat()} .. {self.end.isoformat()}",
                "the end is exclusive and must be after the start",
                "pass an --until later than --since",
            )

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def iter_days(self) -> Iterator[date]:
        day = self.start
        while day < self.end:
            yield day
            day += timedelta(days=1)

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end

    def is_whole_month(self) -> bool:
        return self.start.day == 1 and self.end == add_months(self.start, 1)

    def label(self) -> str:
        if self.is_whole_month():
            return self.start.strftime("%Y-%m")
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def as_ce(self) -> dict[str, str]:
        return {"Start": self.start.isoformat(), "End": self.end.isoformat()}

    def clip(self, end: date) -> Period:
        """This period cut at `end` (exclusive), e.g. a month up to today."""
        return Period(self.start, min(self.end, max(end, self.start + timedelta(days=1))))


def days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def add_months(day: date, months: int) -> date:
    """Same day-of-month `months` later, clamped to the month's last day (Jan 31 + 1 = Feb 28/29)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, days_in_month(year, month)))


def month_period(text: str) -> Period:
    match = MONTH_RE.match((text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise UsageError(f"bad month '{text}'", "expected YYYY-MM", "e.g. --month 2026-02")
    start = date(int(match.group(1)), int(match.group(2)), 1)
    return Period(start, add_months(start, 1))


def current_month(today: date) -> Period:
    start = today.replace(day=1)
    return Period(start, add_months(start, 1))


MAX_DAYS = 1160  # 38 months, Cost Explorer's longest history


def last_days(n: int, today: date, include_today: bool = False) -> Period:
    """The last n whole days before today ([today-n, today)), or ending with today."""
    if not 1 <= n <= MAX_DAYS:
        raise UsageError(
            f"bad --days {n}", f"must be 1 to {MAX_DAYS} (38 months)", "e.g. --days 14"
        )
    end = today + timedelta(days=1) if include_today else today
    return Period(end - timedelta(days=n), end)


def parse_date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"bad {what} '{text}'", "expected YYYY-MM-DD", f"e.g. {what} 2026-02-01"
        ) from None


def since_start(since: str, now: datetime) -> datetime:
    """--since on the cost commands: a date (YYYY-MM-DD, midnight of `now`'s zone) or a
    duration back from now (7d, 12h, 2w). `logs` and `insights` take durations only."""
    try:
        day = date.fromisoformat(since.strip())
    except ValueError as exc:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", since.strip()):  # a date, but not a real one
            raise UsageError(
                f"bad --since '{since}'", str(exc), "e.g. --since 2026-02-01"
            ) from None
    else:
        return datetime.combine(day, datetime.min.time(), tzinfo=now.tzinfo)
    try:
        return now - parse_duration(since)
    except DurationError as exc:
        raise UsageError(
            f"bad --since '{since}'",
            f"expected a date (YYYY-MM-DD) or a duration: {exc}",
            "e.g. --since 2026-02-01 or --since 7d",
        ) from None


def since_until(since: str, until: str | None, today: date) -> Period:
    """--since (inclusive: a date, or a duration back from today, whole days) and --until
    (exclusive, default tomorrow so today is included)."""
    midnight = datetime.combine(today, datetime.min.time())
    start = since_start(since, midnight).date()
    end = parse_date(until, "--until") if until else today + timedelta(days=1)
    return Period(start, end)


def previous_period(period: Period) -> Period:
    """What a period is compared with: the previous calendar month for a whole month,
    else the same number of days immediately before."""
    if period.is_whole_month():
        start = add_months(period.start, -1)
        return Period(start, period.start)
    return Period(period.start - timedelta(days=period.days), period.start)


def month_remainder(today: date) -> Period:
    """[today, first of next month): the forecast window for the current month."""
    return Period(today, add_months(today.replace(day=1), 1))


# --- choosing and checking a report's period (before any paid request) ----------------------

CE_HISTORY_MONTHS = 38  # Cost Explorer's longest history (multi-year data enabled); 14 without
CE_DEFAULT_HISTORY_MONTHS = 14


def choose_period(
    today: date,
    month: str | None = None,
    days: int | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Period:
    """The period `--month`, `--days` or `--since/--until` pick (default: this month)."""
    given = [
        name
        for name, value in (("--month", month), ("--days", days), ("--since", since))
        if value is not None
    ]
    if len(given) > 1:
        raise UsageError(
            f"{' and '.join(given)} together",
            "they pick the period in different ways",
            "use one of --month, --days, --since/--until",
        )
    if until is not None and since is None:
        raise UsageError(
            "--until without --since", "the period needs a start", "add --since YYYY-MM-DD"
        )
    if month is not None:
        return month_period(month)
    if days is not None:
        return last_days(days, today)
    if since is not None:
        return since_until(since, until, today)
    return current_month(today)


def validate_for_cost_explorer(period: Period, today: date) -> None:
    """Refuse periods Cost Explorer would reject or answer with nothing ($0.01 each)."""
    if period.start > today:
        raise UsageError(
            f"period {period.label()} is in the future",
            f"today is {today.isoformat()}",
            "pick a period that has started",
        )
    oldest = add_months(today.replace(day=1), -(CE_HISTORY_MONTHS - 1))
    if period.start < oldest:
        raise UsageError(
            f"period {period.label()} starts before {oldest.isoformat()}",
            f"Cost Explorer keeps at most {CE_HISTORY_MONTHS} months (multi-year data enabled; "
            f"{CE_DEFAULT_HISTORY_MONTHS} otherwise)",
            "pick a later --since, --month or fewer --days",
        )


def comparison_period(period: Period, today: date) -> tuple[Period, Period | None]:
    """What `period` is compared with, like for like, and the whole previous month when only
    part of it is used. A month to date is compared with the same days of the previous month
    (on the 1st: one day with one day), never with the whole previous month."""
    previous = previous_period(period)
    if not period.contains(today):
        return previous, None
    elapsed = (min(period.end, today + timedelta(days=1)) - period.start).days
    if period.is_whole_month():
        end = min(previous.end, previous.start + timedelta(days=elapsed))
        return Period(previous.start, end), previous
    return Period(period.start - timedelta(days=elapsed), period.start), previous


def local_window(period: Period, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) instants of `period` for reading the local account's logs, cut at `now`;
    `--days N` ends today, so today's local traffic counts too."""
    start = datetime.combine(period.start, datetime.min.time(), tzinfo=now.tzinfo)
    end = datetime.combine(period.end, datetime.min.time(), tzinfo=now.tzinfo)
    if period.end == now.date():
        end += timedelta(days=1)
    end = min(now, end)
    if end <= start:
        raise UsageError(
            f"period {period.label()} has not started",
            f"it is {now.isoformat(timespec='seconds')}",
            "pick a past period",
        )
    return start, end
