"""Where events come from: log-group names from the stack, time ranges, FilterLogEvents paging."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from opskit.config import Environment
from opskit.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

OUTPUT_FOR_KIND = {
    "gateway": "FunctionLogGroupName",
    "lambda": "FunctionLogGroupName",
    "access": "AccessLogGroupName",
}


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


def parse_instant(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"invalid {option} value {text!r}",
            "expected an ISO 8601 time",
            f"e.g. {option} 2026-11-24T10:00:00Z",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _instant(value: datetime | str, option: str) -> datetime:
    return value if isinstance(value, datetime) else parse_instant(value, option)


def time_range(
    now: datetime,
    since: timedelta | None,
    start: datetime | str | None,
    end: datetime | str | None,
    default_since: timedelta = timedelta(hours=1),
) -> TimeRange:
    """--since, or --start/--end (datetimes from the options' Instant type, or ISO 8601 text)."""
    if since and (start or end):
        raise UsageError(
            "--since cannot be combined with --start/--end",
            "they both set the time range",
            "use one or the other",
        )
    end_time = _instant(end, "--end") if end is not None else now
    start_time = (
        _instant(start, "--start") if start is not None else end_time - (since or default_since)
    )
    if start_time > end_time:
        raise UsageError(
            "the time range is empty",
            f"--start {start_time.isoformat()} is after --end {end_time.isoformat()}",
            "swap them",
        )
    return TimeRange(start_time, end_time)


def resolve_log_group(
    env: Environment,
    cfn: CloudFormationClient,
    kind_or_name: str,
    warn: Callable[[str], None] | None = None,
) -> str:
    """A log group for a library kind (gateway/access/lambda) or a literal name ('/aws/...').

    Reads the stack outputs; falls back to the names the template gives them.
    """
    if kind_or_name not in OUTPUT_FOR_KIND:
        return kind_or_name
    import botocore.exceptions  # only when reading AWS (a --file query never does)

    from opskit.aws import aws_error

    fallback = env.access_log_group if kind_or_name == "access" else env.function_log_group
    try:
        outputs = _stack_outputs(cfn, env.stack_name)
    except NotFoundError:
        if warn:
            warn(f"stack {env.stack_name} not found; using the default log group name {fallback}")
        return fallback
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise aws_error(f"reading the outputs of stack {env.stack_name}", exc) from None
    return outputs.get(OUTPUT_FOR_KIND[kind_or_name]) or fallback


def _stack_outputs(cfn: CloudFormationClient, stack_name: str) -> dict[str, str]:
    from opskit.stack import stack_outputs

    return stack_outputs(cfn, stack_name)
