"""`opskit top`: the gateway's key series from get_metric_data, ready to draw.

Request rate (HTTP API Count / period), error rate (5xx / Count), p99 latency (HTTP API
Latency p99) and cost so far (an estimate: requests x the HTTP API and Lambda request
prices + Lambda Duration x memory x the GB-second price, list prices, no free tier).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from opskit.aws import aws_error

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient


@dataclass(frozen=True)
class UnitPrices:
    http_api_per_million: float
    lambda_requests_per_million: float
    lambda_gb_second: float
    memory_gb: float
    as_of: str = ""


@dataclass
class TopSeries:
    timestamps: list[datetime]
    period: int
    request_rate: list[float | None] = field(default_factory=list)  # requests per second
    error_rate: list[float | None] = field(default_factory=list)  # % 5xx
    p99_latency: list[float | None] = field(default_factory=list)  # ms
    cost_so_far: list[float | None] = field(default_factory=list)  # USD, cumulative
    totals: dict[str, float] = field(default_factory=dict)


def aligned_window(end: datetime, hours: float, period: int) -> tuple[datetime, datetime]:
    """[start, end) on period boundaries, as CloudWatch prefers (and returns aligned points for)."""
    end_epoch = (int(end.timestamp()) // period + 1) * period
    start_epoch = (int((end - timedelta(hours=hours)).timestamp()) // period + 1) * period
    return (
        datetime.fromtimestamp(start_epoch, tz=end.tzinfo),
        datetime.fromtimestamp(end_epoch, tz=end.tzinfo),
    )


def metric_queries(
    api_id: str, stage: str, function_name: str, period: int, latency_stat: str = "p99"
) -> list[dict[str, Any]]:
    """The five series `top` reads. `latency_stat` "Maximum" where percentiles are not
    computed (the local emulator answers a p99 query over data with HTTP 500)."""
    api = [{"Name": "ApiId", "Value": api_id}, {"Name": "Stage", "Value": stage}]
    fn = [{"Name": "FunctionName", "Value": function_name}]

    def q(
        qid: str, namespace: str, name: str, dims: list[dict[str, str]], stat: str
    ) -> dict[str, Any]:
        metric = {"Namespace": namespace, "MetricName": name, "Dimensions": dims}
        return {
            "Id": qid,
            "MetricStat": {"Metric": metric, "Period": period, "Stat": stat},
            "ReturnData": True,
        }

    return [
        q("requests", "AWS/ApiGateway", "Count", api, "Sum"),
        q("errors5xx", "AWS/ApiGateway", "5xx", api, "Sum"),
        q("latencyp99", "AWS/ApiGateway", "Latency", api, latency_stat),
        q("invocations", "AWS/Lambda", "Invocations", fn, "Sum"),
        q("durationms", "AWS/Lambda", "Duration", fn, "Sum"),
    ]


def fetch(
    cw: CloudWatchClient, queries: list[dict[str, Any]], start: datetime, end: datetime
) -> dict[str, dict[datetime, float]]:
    """{query id: {timestamp: value}} over all pages."""
    out: dict[str, dict[datetime, float]] = {q["Id"]: {} for q in queries}
    kwargs: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    try:
        while True:
            response = cw.get_metric_data(**kwargs)
            for result in response.get("MetricDataResults", []):
                series = out.setdefault(result["Id"], {})
                for ts, value in zip(
                    result.get("Timestamps", []), result.get("Values", []), strict=False
                ):
                    series[ts] = value
            token = response.get("NextToken")
            if not token:
                return out
            kwargs["NextToken"] = token
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise aws_error("cannot read metrics (get_metric_data)", exc) from None


def build_series(
    data: dict[str, dict[datetime, float]],
    *,
    start: datetime,
    end: datetime,
    period: int,
    prices: UnitPrices,
) -> TopSeries:
    """Align the raw series on the period grid and derive the four charts."""
    first = datetime.fromtimestamp(int(start.timestamp()) // period * period, tz=start.tzinfo)
    steps = max(1, int((end - first).total_seconds()) // period)
    grid = [first + timedelta(seconds=period * i) for i in range(steps)]
    origin = int(first.timestamp())
    # Each datapoint lands in the grid slot its timestamp falls in (points of one slot add up).
    slots: dict[str, dict[int, float]] = {}
    for name, points in data.items():
        for ts, value in points.items():
            slot = (int(ts.timestamp()) - origin) // period
            bucket = slots.setdefault(name, {})
            if name == "latencyp99":  # a percentile does not add up: keep the worst
                bucket[slot] = max(bucket.get(slot, value), value)
            else:
                bucket[slot] = bucket.get(slot, 0.0) + value

    def at(name: str, ts: datetime) -> float | None:
        return slots.get(name, {}).get((int(ts.timestamp()) - origin) // period)

    series = TopSeries(timestamps=grid, period=period)
    cost = 0.0
    totals = {"requests": 0.0, "errors5xx": 0.0, "invocations": 0.0, "duration_ms": 0.0}
    for ts in grid:
        requests = at("requests", ts)
        errors = at("errors5xx", ts)
        invocations = at("invocations", ts)
        duration = at("durationms", ts)
        series.request_rate.append(None if requests is None else requests / period)
        series.error_rate.append(100.0 * (errors or 0.0) / requests if requests else None)
        series.p99_latency.append(at("latencyp99", ts))
        totals["requests"] += requests or 0.0
        totals["errors5xx"] += errors or 0.0
        totals["invocations"] += invocations or 0.0
        totals["duration_ms"] += duration or 0.0
        cost += (requests or 0.0) * prices.http_api_per_million / 1e6
        cost += (invocations or 0.0) * prices.lambda_requests_per_million / 1e6
        cost += (duration or 0.0) / 1000.0 * prices.memory_gb * prices.lambda_gb_second
        series.cost_so_far.append(cost)
    totals["cost"] = cost
    series.totals = totals
    return series
