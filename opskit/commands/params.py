"""Click types for option values: every number bounded and finite, no empty text.

A bad value is Click's usage error (exit 2, one line) before the command runs; the range is
printed in the option's help (Click does that for range types), so it is documented where
it is used. `opskit.commands.options` holds the global options' types (`--env`, `--region`,
durations); these are the commands' own.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from opskit import values


class Number(click.FloatRange):
    """A finite float in [min, max] (no nan, no inf, no 1e400)."""

    name = "number"

    def __init__(
        self, min: float, max: float, *, min_open: bool = False, max_open: bool = False
    ) -> None:
        super().__init__(min, max, min_open=min_open, max_open=max_open)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("an empty value is not a number", param, ctx)
        number = self.to_float(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)

    def to_float(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        return float(click.FLOAT.convert(value, param, ctx))


class Quantity(Number):
    """A Number that may carry a k, M or B suffix: `1M`, `250k`, `1.5B` (opskit.cost.model)."""

    name = "quantity"

    def to_float(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        from opskit.cost.model import parse_quantity
        from opskit.errors import OpsError

        opt = param.opts[0] if param is not None and getattr(param, "opts", None) else "value"
        try:
            return parse_quantity(value, opt)
        except OpsError:
            self.fail(f"{value!r} is not a number (k, M or B suffixes: 250k, 1.5M)", param, ctx)


class Count(click.IntRange):
    """A whole number in [min, max]; `multiple_of` for steps such as CloudWatch periods."""

    def __init__(self, min: int, max: int, *, multiple_of: int = 1) -> None:
        super().__init__(min, max)
        self.multiple_of = multiple_of

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number % self.multiple_of:
            self.fail(f"{number} is not a multiple of {self.multiple_of}", param, ctx)
        return number


class Text(click.ParamType):
    """Text that is not empty or only spaces (an empty value is never "the default")."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("the value is empty", param, ctx)
        return value


NAME_MAX, PATH_MAX = 255, 4096  # Linux's limits (macOS: 255 and 1024; the OS then says so)


class FilePath(click.Path):
    """click.Path that refuses an empty value (Click takes `''` as the current directory)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("the path is empty", param, ctx)
        text = os.fsdecode(value) if isinstance(value, bytes | os.PathLike) else str(value)
        if len(text) > PATH_MAX or any(len(part) > NAME_MAX for part in text.split(os.sep)):
            self.fail(f"the path is too long ({len(text)} characters)", param, ctx)
        return super().convert(value, param, ctx)


class Instant(click.ParamType):
    """An ISO 8601 time (UTC when it has no offset) -> an aware datetime."""

    name = "time"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        from opskit.errors import OpsError
        from opskit.insights.sources import parse_instant

        if isinstance(value, datetime):
            return value
        try:
            moment = parse_instant(str(value).strip(), "value")
        except OpsError:
            moment = None
        if moment is None or not 1970 <= moment.year <= 9000:
            self.fail(f"{value!r} is not an ISO 8601 time (e.g. 2026-11-24T10:00:00Z)", param, ctx)
        return moment


class HttpStatus(click.ParamType):
    """A status code (503) or a class (5xx)."""

    name = "status"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value).strip().lower()
        if not re.fullmatch(r"[1-5](\d\d|xx)", text):
            self.fail(f"{value!r} is not a status code (503) or a class (5xx)", param, ctx)
        return text


TEXT = Text()
HTTP_STATUS = HttpStatus()
INSTANT = Instant()
# Seconds between refreshes of a --watch: at least a second (no busy loop), at most a day.
INTERVAL = Number(1, 86400)


class CheckedValue(click.ParamType):
    """An option value checked by a rule from `opskit.values`, the one opskit.toml uses too."""

    def __init__(self, name: str, check: Callable[[str], Any], example: str):
        self.name, self.check, self.example = name, check, example

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value  # already converted (a default, or a prompt's second pass)
        try:
            return self.check(value.strip())  # an answer typed with a trailing space
        except values.BadValue as exc:
            self.fail(f"{exc.why} (e.g. {self.example})", param, ctx)


# An SNS topic and an email address, the same on alarms, budget, deploy and init.
TOPIC_ARN = CheckedValue("ARN", values.topic_arn, "arn:aws:sns:us-east-1:123456789012:alerts")
EMAIL = CheckedValue("ADDR", values.email, "ops@example.com")
