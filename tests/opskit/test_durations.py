"""The one duration parser every --since reads (opskit/durations.py), and its Click type."""

from __future__ import annotations

from datetime import timedelta

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from opskit.commands.options import DURATION
from opskit.durations import MAX_DAYS, DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7d", 604800),
        ("12h", 43200),
        ("30m", 1800),
        ("2w", 1209600),
        ("1.5h", 5400),
        ("90s", 90),
        ("250ms", 0.25),
        ("1h30m", 5400),
        (" 15 MIN ", 900),
        ("2hr", 7200),
        ("10sec", 10),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize(
    "bad",
    [
        "7",
        "d",
        "-1d",
        "0d",
        "7y",
        "",
        "1h-",
        "h1",
        "1 hour",
        "1mss",
        f"{MAX_DAYS + 1}d",
        "0.0000001s",  # found in review: rounded to timedelta(0), "since 0ms"
        "1h1h",  # found in review: summed silently
        "5m10min",
    ],
)
def test_parse_duration_rejects(bad):
    with pytest.raises(DurationError):
        parse_duration(bad)


@given(st.text(max_size=12))
def test_any_text_is_a_positive_bounded_duration_or_a_duration_error(text):
    try:
        span = parse_duration(text)
    except DurationError as exc:
        assert repr(text) in str(exc)
    else:
        assert timedelta(milliseconds=1) <= span <= timedelta(days=MAX_DAYS)


@given(st.integers(min_value=1, max_value=MAX_DAYS * 86400))
def test_format_duration_round_trips(seconds):
    span = timedelta(seconds=seconds)
    assert parse_duration(format_duration(span)) == span


def test_the_click_type_fails_as_a_usage_error_exit_2():
    @click.command()
    @click.option("--since", type=DURATION, default="10m")
    def show(since):
        click.echo(format_duration(since))

    runner = CliRunner()
    assert runner.invoke(show, []).output == "10m\n"
    assert runner.invoke(show, ["--since", "1h30m"]).output == "1h30m\n"
    bad = runner.invoke(show, ["--since", "soon"])
    assert bad.exit_code == 2
    assert "'soon' is not a duration" in bad.output
