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

METRIC FILTERS: the log group's metric filters (moto stores them and never runs them) are
applied to every shipped event by opskit.local.filter_patterns, and their metrics published
as CloudWatch Logs would (FilterMetrics). Every published value is also kept in a RawStore,
which the local GetMetricData reads for percentiles and metric math.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from opskit.local.filter_patterns import FilterPatternError, MetricFilter

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.literals import StandardUnitType
    from mypy_boto3_cloudwatch.type_defs import MetricDatumTypeDef
    from mypy_boto3_logs import CloudWatchLogsClient

MAX_DATUMS = 1000  # put_metric_data: at most 1000 datums per call
API_NAMESPACE = "AWS/ApiGateway"
LAMBDA_NAMESPACE = "AWS/Lambda"
COUNT: StandardUnitType = "Count"
MS: StandardUnitType = "Milliseconds"


@dataclass(frozen=True)
class Target:
    """Whose metrics: the dimensions AWS would put on them."""

    api_id: str
    stage: str
    function_name: str


def _values(record: Mapping[str, Any]) -> list[tuple[str, str, StandardUnitType, float]]:
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


# (namespace, metric name, dimensions as sorted (name, value) pairs, unit, minute epoch s)
BucketKey = tuple[str, str, tuple[tuple[str, str], ...], "StandardUnitType", int]
Buckets = dict[BucketKey, list[float]]


def derived_buckets(accesses: Iterable[tuple[int, Mapping[str, Any]]], target: Target) -> Buckets:
    """The raw values of the AWS-derived metrics, per metric and minute."""
    dimensions = {
        API_NAMESPACE: (("ApiId", target.api_id), ("Stage", target.stage)),
        LAMBDA_NAMESPACE: (("FunctionName", target.function_name),),
    }
    buckets: Buckets = {}
    for epoch_ms, record in accesses:
        minute = epoch_ms // 60_000 * 60
        for namespace, name, unit, value in _values(record):
            buckets.setdefault((namespace, name, dimensions[namespace], unit, minute), []).append(
                value
            )
    return buckets


def put_calls(buckets: Buckets) -> list[tuple[str, list[MetricDatumTypeDef]]]:
    """[(namespace, MetricData of at most MAX_DATUMS)]: one datum per metric per minute with
    StatisticValues (SampleCount, Sum, Minimum, Maximum); its Timestamp is the minute's start."""
    per_namespace: dict[str, list[MetricDatumTypeDef]] = {}
    for (namespace, name, dims, unit, minute), values in sorted(buckets.items()):
        per_namespace.setdefault(namespace, []).append(
            {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                "Timestamp": datetime.fromtimestamp(minute, tz=UTC),
                "StatisticValues": {
                    "SampleCount": float(len(values)),
                    "Sum": float(sum(values)),
                    "Minimum": float(min(values)),
                    "Maximum": float(max(values)),
                },
                "Unit": unit,
            }
        )
    return [
        (namespace, data[i : i + MAX_DATUMS])
        for namespace, data in per_namespace.items()
        for i in range(0, len(data), MAX_DATUMS)
    ]


def metric_data(
    accesses: Iterable[tuple[int, Mapping[str, Any]]], target: Target
) -> list[tuple[str, list[MetricDatumTypeDef]]]:
    """(epoch ms, access record) pairs -> [(namespace, MetricData of at most MAX_DATUMS)]."""
    return put_calls(derived_buckets(accesses, target))


# ---- metric filters, published as CloudWatch Logs would


class FilterMetrics:
    """The metric filters of one log group, applied to the events the shipper ships.

    As CloudWatch Logs does: each matching event adds its transformation's value (a number,
    or the event's `$.field`; an event whose field is missing or not a number adds nothing)
    with the transformation's dimensions and unit; a minute in which events were ingested and
    none matched gets the default value once (CloudWatch: "the value reported to the metric
    filter during a period when logs are ingested but no matching logs are found"); a filter
    with dimensions has no default value. The filters are re-read every REFRESH_SECONDS
    (`opskit alarms apply` creates them while the shipper runs).
    """

    REFRESH_SECONDS = 15.0

    def __init__(
        self,
        logs: CloudWatchLogsClient,
        log_group: str,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.logs, self.log_group, self.clock = logs, log_group, clock
        self.filters: list[MetricFilter] = []
        self._read_at: float | None = None

    def refresh(self) -> None:
        now = self.clock()
        if self._read_at is not None and now - self._read_at < self.REFRESH_SECONDS:
            return
        self._read_at = now
        found: list[MetricFilter] = []
        try:
            pages = list(
                self.logs.get_paginator("describe_metric_filters").paginate(
                    logGroupName=self.log_group
                )
            )
        except Exception as exc:  # keep the filters we had; the derived metrics still go out
            sys.stderr.write(f"shipper: warning: cannot read the metric filters: {exc}\n")
            return
        for page in pages:
            for raw in page.get("metricFilters", []):
                try:
                    found.append(MetricFilter.from_api(raw, self.log_group))
                except FilterPatternError as exc:  # CloudWatch would have refused it
                    sys.stderr.write(
                        f"shipper: warning: metric filter {raw.get('filterName')}: {exc}\n"
                    )
        self.filters = found

    def buckets(self, events: Iterable[tuple[int, str]]) -> Buckets:
        return filter_buckets(events, self.filters)


def filter_buckets(events: Iterable[tuple[int, str]], filters: list[MetricFilter]) -> Buckets:
    """The values the metric filters publish for `events` ((epoch ms, message) pairs)."""
    buckets: Buckets = {}
    minutes: set[int] = set()
    matched: set[tuple[int, int, int]] = set()  # (filter, transformation, minute)
    for epoch_ms, message in events:
        minute = epoch_ms // 60_000 * 60
        minutes.add(minute)
        for fi, flt in enumerate(filters):
            found = flt.pattern.match(message)
            if found is None:
                continue
            for ti, transform in enumerate(flt.transformations):
                emitted = transform.emit(found)
                if emitted is None:
                    continue
                value, dims = emitted
                matched.add((fi, ti, minute))
                key = (transform.namespace, transform.name, dims, transform.unit or "None", minute)
                buckets.setdefault(key, []).append(value)
    for fi, flt in enumerate(filters):
        for ti, transform in enumerate(flt.transformations):
            if transform.default is None or transform.dimensions:
                continue
            for minute in minutes:
                if (fi, ti, minute) not in matched:
                    key = (
                        transform.namespace,
                        transform.name,
                        (),
                        transform.unit or "None",
                        minute,
                    )
                    buckets.setdefault(key, []).append(transform.default)
    return buckets


def local_metrics_dir(state_dir: Path) -> Path:
    """Where the local account keeps its raw metric values and opskit's alarm evaluation."""
    return state_dir / "metrics"


def raw_metrics_path(state_dir: Path) -> Path:
    return local_metrics_dir(state_dir) / "raw.jsonl"


def forget_local_metrics(state_dir: Path) -> None:
    """A new emulator has no metrics and no alarms: drop what the last one's shipper kept."""
    import shutil

    shutil.rmtree(local_metrics_dir(state_dir), ignore_errors=True)


# ---- the raw values opskit published (percentiles and metric math need them; moto has neither)


class RawStore:
    """Append-only JSON lines of every value the shipper published, one line per metric-minute.

    The local account's GetMetricData (opskit.local.metric_query) reads it: moto keeps no
    percentiles and evaluates no metric math, so statistics are computed from these values.
    """

    def __init__(self, path: Path):
        self.path = path

    def append(self, buckets: Buckets) -> None:
        if not buckets:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            orjson.dumps(
                {"ns": ns, "name": name, "dims": dims, "unit": unit, "t": minute, "v": values}
            )
            for (ns, name, dims, unit, minute), values in buckets.items()
        ]
        with self.path.open("a+b") as handle:
            # A line cut short (the shipper was killed mid-write) must not swallow this one.
            if handle.tell() and (handle.seek(-1, 2), handle.read(1))[1] != b"\n":
                handle.write(b"\n")
            handle.write(b"\n".join(lines) + b"\n")

    def read(self) -> Buckets:
        """Everything stored, merged per metric and minute."""
        buckets: Buckets = {}
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return buckets
        for line in text.splitlines():
            try:
                row = orjson.loads(line)
                values = row["v"]
                key = (
                    row["ns"],
                    row["name"],
                    tuple(map(tuple, row["dims"])),
                    row["unit"],
                    row["t"],
                )
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short by a crash: the rest still counts
            if isinstance(values, list) and isinstance(key[4], int):
                buckets.setdefault(key, []).extend(values)
        return buckets
