"""Period arithmetic: half-open [start, end), month/year boundaries, leap days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opskit.cost import periods
from opskit.errors import UsageError


@pytest.mark.parametrize(
    ("text", "start", "end", "days"),
    [
        ("2026-01", date(2026, 1, 1), date(2026, 2, 1), 31),
        ("2026-02", date(2026, 2, 1), date(2026, 3, 1), 28),
        ("2028-02", date(2028, 2, 1), date(2028, 3, 1), 29),  # leap year
        ("2100-02", date(2100, 2, 1), date(2100, 3, 1), 28),  # century, not leap
        ("2000-02", date(2000, 2, 1), date(2000, 3, 1), 29),  # 400-year rule
        ("2026-12", date(2026, 12, 1), date(2027, 1, 1), 31),  # year boundary
    ],
)
def test_month_period_is_half_open(text, start, end, days):
    period = periods.month_period(text)
    assert (period.start, period.end, period.days) == (start, end, days)
    assert period.is_whole_month()
    assert period.label() == text
    assert period.contains(start) and not period.contains(end)
    assert list(period.iter_days())[-1] == end - timedelta(days=1)


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "26-01", "2026/01", "", "january"])
def test_bad_month(bad):
    with pytest.raises(UsageError, match="bad month"):
        periods.month_period(bad)


def test_previous_period_of_months_crosses_years_and_leap_days():
    assert periods.previous_period(periods.month_period("2026-01")) == periods.Period(
        date(2025, 12, 1), date(2026, 1, 1)
    )
    assert periods.previous_period(periods.month_period("2028-03")) == periods.Period(
        date(2028, 2, 1), date(2028, 3, 1)
    )
    assert periods.previous_period(periods.month_period("2028-03")).days == 29


def test_previous_period_of_day_ranges_has_the_same_length():
    period = periods.Period(date(2026, 3, 1), date(2026, 3, 8))
    assert periods.previous_period(period) == periods.Period(date(2026, 2, 22), date(2026, 3, 1))


def test_yesterday_is_keyed_by_its_start_not_today():
    # The classic off-by-one: on 2026-03-01, "the last day" is 2026-02-28 (2026 is not leap).
    period = periods.last_days(1, date(2026, 3, 1))
    assert period.as_ce() == {"Start": "2026-02-28", "End": "2026-03-01"}
    assert list(period.iter_days()) == [date(2026, 2, 28)]
    leap = periods.last_days(1, date(2028, 3, 1))
    assert list(leap.iter_days()) == [date(2028, 2, 29)]


def test_last_days_across_a_year_boundary_and_including_today():
    period = periods.last_days(7, date(2027, 1, 3))
    assert (period.start, period.end) == (date(2026, 12, 27), date(2027, 1, 3))
    with_today = periods.last_days(7, date(2027, 1, 3), include_today=True)
    assert with_today.end == date(2027, 1, 4) and with_today.days == 7
    with pytest.raises(UsageError):
        periods.last_days(0, date(2027, 1, 3))


def test_add_months_clamps_to_month_end():
    assert periods.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert periods.add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert periods.add_months(date(2028, 2, 29), 12) == date(2029, 2, 28)
    assert periods.add_months(date(2026, 1, 15), -1) == date(2025, 12, 15)
    assert periods.add_months(date(2026, 3, 31), -13) == date(2025, 2, 28)


def test_since_until_and_empty_periods():
    today = date(2026, 11, 24)
    period = periods.since_until("2026-11-01", None, today)
    assert period.end == date(2026, 11, 25)  # default end is tomorrow: today included
    assert periods.since_until("2026-10-01", "2026-11-01", today).days == 31
    with pytest.raises(UsageError, match="empty period"):
        periods.since_until("2026-11-01", "2026-11-01", today)
    with pytest.raises(UsageError, match="--since"):
        periods.since_until("2026-11-31", None, today)


def test_month_remainder_and_clip():
    assert periods.month_remainder(date(2026, 12, 31)) == periods.Period(
        date(2026, 12, 31), date(2027, 1, 1)
    )
    assert periods.month_remainder(date(2028, 2, 29)).days == 1
    month = periods.current_month(date(2026, 11, 24))
    assert month.clip(date(2026, 11, 25)) == periods.Period(date(2026, 11, 1), date(2026, 11, 25))
    assert month.clip(date(2027, 1, 1)) == month


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    st.one_of(
        st.none(), st.text(max_size=10), st.from_regex(r"20[0-9]{2}-[0-9]{2}", fullmatch=True)
    ),
    st.one_of(st.none(), st.integers(-5, 200_000)),
)
def test_every_period_choice_is_valid_or_a_config_error(today, month, days):
    """Any --month/--days either gives a period Cost Explorer accepts, or a UsageError, before
    any request; never an exception of another kind."""
    from opskit.cost.periods import choose_period, comparison_period, validate_for_cost_explorer

    try:
        period = choose_period(today, month=month, days=days)
        validate_for_cost_explorer(period, today)
    except UsageError:  # bad or conflicting options: exit 2
        return
    assert period.start < period.end and period.start <= today
    previous, full = comparison_period(period, today)
    assert previous.end <= period.start and previous.days >= 1
    if full is not None:  # month to date: never longer than the days elapsed
        assert previous.days <= (min(period.end, today + timedelta(days=1)) - period.start).days
