"""Run a query in CloudWatch Logs Insights: StartQuery, poll GetQueryResults, StopQuery on Ctrl-C.

Takes a `logs` client, a sleep function and a status callback; never builds clients or prints.
GetQueryResults has no pagination token: it returns every row (at most 10,000, CloudWatch's
cap), so a full page is reported as `truncated` and the caller suggests a narrower range.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from opskit.aws import aws_error
from opskit.errors import QueryFailed

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import ResultFieldTypeDef

PRICE_PER_GB_SCANNED = 0.005  # USD per GB scanned (Logs Insights, us-east-1 list price)
GB = 1024**3
MAX_RESULTS = 10_000
TERMINAL_FAILURES = {
    "Failed": "CloudWatch could not run the query",
    "Cancelled": "the query was cancelled",
    "Timeout": "the query ran longer than CloudWatch's 60-minute limit",
    "Unknown": "CloudWatch lost track of the query",
}


@dataclass
class InsightsResult:
    query_id: str
    status: str
    columns: list[str]
    rows: list[dict[str, str]]
    records_matched: float = 0.0
    records_scanned: float = 0.0
    bytes_scanned: float = 0.0
    truncated: bool = False
    polls: int = 0
    log_groups: list[str] = field(default_factory=list)

    @property
    def cost_usd(self) -> float:
        return self.bytes_scanned / GB * PRICE_PER_GB_SCANNED

    def statistics(self) -> dict[str, float]:
        return {
            "records_matched": self.records_matched,
            "records_scanned": self.records_scanned,
            "bytes_scanned": self.bytes_scanned,
            "cost_usd": round(self.cost_usd, 6),
        }


def rows_from_results(
    results: Sequence[Sequence[ResultFieldTypeDef]],
) -> tuple[list[str], list[dict[str, str]]]:
    """GetQueryResults rows ([{field, value}, ...]) -> (columns, dict rows). @ptr is dropped."""
    columns: dict[str, None] = {}
    rows = []
    for result in results:
        row = {}
        for cell in result:
            name = cell.get("field")
            if not name or name == "@ptr" or "value" not in cell:
                continue
            columns.setdefault(name, None)
            row[name] = cell["value"]
        rows.append(row)
    return list(columns), rows


def start_query(
    logs: CloudWatchLogsClient,
    log_groups: list[str],
    query: str,
    start: datetime,
    end: datetime,
    limit: int | None = None,
) -> str:
    params: dict[str, Any] = {
        "logGroupNames": log_groups,
        "startTime": int(start.timestamp()),
        "endTime": int(end.timestamp()),
        "queryString": query,
    }
    if limit is not None:
        params["limit"] = limit
    try:
        return logs.start_query(**params)["queryId"]
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code == "MalformedQueryException":
            raise QueryFailed(
                "CloudWatch rejected the query",
                message or code,
                "fix the query syntax (`opskit insights show NAME`)",
            ) from None
        if code == "ResourceNotFoundException":
            raise QueryFailed(
                f"log group not found: {', '.join(log_groups)}",
                message or code,
                "deploy the stack first, or pass --log-group",
                exit_code=5,
            ) from None
        if code == "LimitExceededException":
            raise QueryFailed(
                "too many concurrent Logs Insights queries",
                message,
                "wait for running queries to finish and retry",
            ) from None
        raise aws_error("starting the Logs Insights query", exc) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise aws_error("starting the Logs Insights query", exc) from None


def wait_for_results(
    logs: CloudWatchLogsClient,
    query_id: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_status: Callable[[str, int, dict[str, float]], None] | None = None,
    first_delay: float = 0.5,
    max_delay: float = 5.0,
    max_wait: float = 900.0,
) -> InsightsResult:
    """Poll GetQueryResults with exponential backoff until the query ends.

    Ctrl-C stops the query in CloudWatch (StopQuery) before re-raising KeyboardInterrupt.
    """
    delay, waited, polls = first_delay, 0.0, 0
    try:
        while True:
            try:
                response = logs.get_query_results(queryId=query_id)
            except botocore.exceptions.ClientError as exc:
                raise aws_error("reading the Logs Insights results", exc) from None
            polls += 1
            status = response.get("status", "Unknown")
            raw = response.get("statistics") or {}
            stats = {k: float(v) for k, v in raw.items() if isinstance(v, int | float)}
            if on_status is not None:
                on_status(status, polls, stats)
            if status == "Complete":
                columns, rows = rows_from_results(response.get("results") or [])
                return InsightsResult(
                    query_id=query_id,
                    status=status,
                    columns=columns,
                    rows=rows,
                    records_matched=float(stats.get("recordsMatched", 0.0)),
                    records_scanned=float(stats.get("recordsScanned", 0.0)),
                    bytes_scanned=float(stats.get("bytesScanned", 0.0)),
                    truncated=len(rows) >= MAX_RESULTS,
                    polls=polls,
                )
            if status in TERMINAL_FAILURES:
                raise QueryFailed(
                    f"Logs Insights query {query_id} ended {status}",
                    TERMINAL_FAILURES[status],
                    "narrow the time range (--since) or the log groups and run it again"
                    if status in ("Timeout", "Failed")
                    else "run it again",
                )
            if waited >= max_wait:
                _stop(logs, query_id)
                raise QueryFailed(
                    f"Logs Insights query {query_id} still {status} after {int(waited)} s",
                    "gave up waiting",
                    "narrow the time range and retry",
                )
            sleep(delay)
            waited += delay
            delay = min(delay * 2, max_delay)
    except KeyboardInterrupt:
        _stop(logs, query_id)
        raise


def _stop(logs: CloudWatchLogsClient, query_id: str) -> None:
    # Already finished, or unreachable: nothing more we can do.
    with contextlib.suppress(botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
        logs.stop_query(queryId=query_id)


def run_query(
    logs: CloudWatchLogsClient,
    log_groups: list[str],
    query: str,
    start: datetime,
    end: datetime,
    *,
    limit: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_status: Callable[[str, int, dict[str, float]], None] | None = None,
) -> InsightsResult:
    query_id = start_query(logs, log_groups, query, start, end, limit)
    try:
        result = wait_for_results(logs, query_id, sleep=sleep, on_status=on_status)
    except KeyboardInterrupt:
        raise
    result.log_groups = list(log_groups)
    return result
