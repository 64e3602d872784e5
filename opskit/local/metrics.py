"""The metrics AWS would derive from the gateway's requests, for the local account.

In AWS, API Gateway and Lambda publish these themselves; locally nothing would, and
`opskit top`, the alarms and the dashboard would show no data. The log shipper hands
every access line it ships (as (epoch ms, record) pairs) to `metric_data`, which turns
them into put_metric_data calls: one statistic set per metric per minute, at most
MAX_DATUMS per call. DERIVED BY OPSKIT, from what an access line says:

AWS/ApiGateway, ApiId = the stack's ApiId output ("local"), Stage = $default
  Count                 1 per request
  4xx, 5xx              1 if the status is 400-499 / 500-599, else 0
  Latency               latency_ms (the gateway's handling time; no API Gateway in front)
  IntegrationLatency    latency_ms too: the integration is the function, nothing sits between
AWS/Lambda, FunctionName = the function's name
  Invocations           1 per request
  Errors                1 if the gateway itself answered 500 (its last-resort answer to an
                        unhandled exception), not when it passed on an upstream's 500: 502,
                        503 and 504 are answers the function chose to give, which Lambda counts
                        as successful invocations
  Duration              latency_ms (as in the synthesized REPORT line)
Not derived: Throttles and ConcurrentExecutions (nothing throttles locally), DataProcessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_DATUMS = 1000  # put_metric_data: at most 1000 datums per call
API_NAMESPACE = "AWS/ApiGateway"
LAMBDA_NAMESPACE = "AWS/Lambda"
COUNT, MS = "Count", "Milliseconds"


@dataclass(frozen=True)
class Target:
    """Whose metrics: the dimensions AWS would put on them."""

    api_id: str
    stage: str
    function_name: str


def _values(record: Mapping[str, Any]) -> list[tuple[str, str, str, float]]:
    """(namespace, metric, unit, value) for one access record."""
    try:
        status = int(record.get("status") or 0)
    except (TypeError, ValueError):
        status = 0
    values = [
        (API_NAMESPACE, "Count", COUNT, 1.0),
        (API_NAMESPACE, "4xx", COUNT, float(400 <= status < 500)),
        (API_NAMESPACE, "5xx", COUNT, float(500 <= status < 600)),
        (LAMBDA_NAMESPACE, "Invocations", COUNT, 1.0),
        (
            LAMBDA_NAMESPACE,
            "Errors",
            COUNT,
            float(status == 500 and record.get("upstream_status") != 500),
        ),
    ]
    latency = record.get("latency_ms")
    if isinstance(latency, int | float) and not isinstance(latency, bool):
        values += [
            (API_NAMESPACE, "Latency", MS, float(latency)),
            (API_NAMESPACE, "IntegrationLatency", MS, float(latency)),
            (LAMBDA_NAMESPACE, "Duration", MS, float(latency)),
        ]
    return values


def metric_data(
    accesses: Iterable[tuple[int, Mapping[str, Any]]], target: Target
) -> list[tuple[str, list[dict[str, Any]]]]:
    """(epoch ms, access record) pairs -> [(namespace, MetricData of at most MAX_DATUMS)].

    One datum per (namespace, metric, minute) with StatisticValues (SampleCount, Sum,
    Minimum, Maximum) over that minute's requests; its Timestamp is the minute's start.
    """
    dimensions = {
        API_NAMESPACE: [
            {"Name": "ApiId", "Value": target.api_id},
            {"Name": "Stage", "Value": target.stage},
        ],
        LAMBDA_NAMESPACE: [{"Name": "FunctionName", "Value": target.function_name}],
    }
    # (namespace, metric, unit, minute) -> [SampleCount, Sum, Minimum, Maximum]
    buckets: dict[tuple[str, str, str, int], list[float]] = {}
    for epoch_ms, record in accesses:
        minute = epoch_ms // 60_000 * 60
        for namespace, name, unit, value in _values(record):
            stats = buckets.get((namespace, name, unit, minute))
            if stats is None:
                buckets[(namespace, name, unit, minute)] = [1.0, value, value, value]
            else:
                stats[0] += 1
                stats[1] += value
                stats[2] = min(stats[2], value)
                stats[3] = max(stats[3], value)
    per_namespace: dict[str, list[dict[str, Any]]] = {}
    for (namespace, name, unit, minute), (count, total, low, high) in sorted(buckets.items()):
        per_namespace.setdefault(namespace, []).append(
            {
                "MetricName": name,
                "Dimensions": dimensions[namespace],
                "Timestamp": datetime.fromtimestamp(minute, tz=UTC),
                "StatisticValues": {
                    "SampleCount": count,
                    "Sum": total,
                    "Minimum": low,
                    "Maximum": high,
                },
                "Unit": unit,
            }
        )
    return [
        (namespace, data[i : i + MAX_DATUMS])
        for namespace, data in per_namespace.items()
        for i in range(0, len(data), MAX_DATUMS)
    ]
