"""The one FilterLogEvents paginator (insights --env local, logs export/tail, cost --from-logs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from opskit.errors import NotFoundError

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import FilteredLogEventTypeDef


def filter_events(
    logs: CloudWatchLogsClient,
    log_group: str,
    start_ms: int | None = None,
    end_ms: int | None = None,
    *,
    page_size: int | None = None,
    **extra: Any,
) -> Iterator[FilteredLogEventTypeDef]:
    """Every event of a log group in [start_ms, end_ms] (FilterLogEvents, every page).

    A missing group is a NotFoundError; any other failure one AwsError line.
    """
    from opskit.aws import aws_error, error_code  # botocore only when reading CloudWatch

    params: dict[str, Any] = {"logGroupName": log_group, **extra}
    if start_ms is not None:
        params["startTime"] = start_ms
    if end_ms is not None:
        params["endTime"] = end_ms
    if page_size:
        params["limit"] = page_size
    while True:
        try:
            page = logs.filter_log_events(**params)
        except Exception as exc:  # botocore errors -> one line
            if error_code(exc) == "ResourceNotFoundException":
                raise NotFoundError(
                    f"log group {log_group} not found",
                    "nothing has logged there yet, or the stack is not deployed",
                    "deploy the stack (`opskit deploy`), pass --log-group, or --file with exported events",
                ) from None
            raise aws_error(
                f"reading log group {log_group}", exc, "grant logs:FilterLogEvents"
            ) from None
        yield from page.get("events", [])
        token = page.get("nextToken")
        # moto (and AWS on an idle group) can hand back the same token with no events: stop.
        if not token or token == params.get("nextToken"):
            return
        params["nextToken"] = token
