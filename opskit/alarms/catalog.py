"""Metric names that exist per AWS namespace (used to validate alarms and dashboards).

From the CloudWatch metric lists in the Lambda, API Gateway (HTTP API) and DynamoDB
developer guides. A name not listed here is almost certainly a typo (`5XXError` is
the REST API name; HTTP APIs publish `5xx`).
"""

from __future__ import annotations

import re

KNOWN_METRICS: dict[str, frozenset[str]] = {
    "AWS/Lambda": frozenset(
        {
            "Invocations",
            "Errors",
            "Throttles",
            "Duration",
            "ConcurrentExecutions",
            "UnreservedConcurrentExecutions",
            "ClaimedAccountConcurrency",
            "DeadLetterErrors",
            "DestinationDeliveryFailures",
            "IteratorAge",
            "PostRuntimeExtensionsDuration",
            "ProvisionedConcurrencyInvocations",
            "ProvisionedConcurrencySpilloverInvocations",
            "ProvisionedConcurrencyUtilization",
            "ProvisionedConcurrentExecutions",
            "RecursiveInvocationsDropped",
            "AsyncEventsReceived",
            "AsyncEventAge",
            "AsyncEventsDropped",
        }
    ),
    # HTTP API (v2) metrics; dimensions ApiId, Stage, Route, Resource, Method.
    "AWS/ApiGateway": frozenset(
        {"Count", "4xx", "5xx", "Latency", "IntegrationLatency", "DataProcessed"}
    ),
    "AWS/CertificateManager": frozenset({"DaysToExpiry"}),
    "AWS/DynamoDB": frozenset(
        {
            "ConsumedReadCapacityUnits",
            "ConsumedWriteCapacityUnits",
            "ProvisionedReadCapacityUnits",
            "ProvisionedWriteCapacityUnits",
            "ReadThrottleEvents",
            "WriteThrottleEvents",
            "ThrottledRequests",
            "SystemErrors",
            "UserErrors",
            "SuccessfulRequestLatency",
            "ReturnedItemCount",
            "ConditionalCheckFailedRequests",
            "TimeToLiveDeletedItemCount",
            "AccountMaxReads",
            "AccountMaxWrites",
            "AccountProvisionedReadCapacityUtilization",
            "AccountProvisionedWriteCapacityUtilization",
            "MaxProvisionedTableReadCapacityUtilization",
            "MaxProvisionedTableWriteCapacityUtilization",
            "OnlineIndexPercentageProgress",
            "ReplicationLatency",
        }
    ),
}

SIMPLE_STATISTICS = frozenset({"SampleCount", "Average", "Sum", "Minimum", "Maximum"})
# Extended statistics: percentiles (p99, p99.9), trimmed mean/count/sum, winsorized mean, ranges.
_EXTENDED = re.compile(
    r"^(p\d{1,2}(\.\d+)?|p100|(tm|tc|ts|wm)\d{1,2}(\.\d+)?|(TM|TC|TS|WM|PR)\(.+\))$"
)


def is_extended_statistic(stat: str) -> bool:
    return bool(_EXTENDED.match(stat))


def is_valid_statistic(stat: str) -> bool:
    return stat in SIMPLE_STATISTICS or is_extended_statistic(stat)


def unknown_metric(namespace: str, metric: str, custom: dict[str, set[str]] | None = None) -> bool:
    """True when `metric` is not a metric of `namespace` (custom namespaces given explicitly).

    Namespaces we know nothing about (neither AWS ones listed above nor `custom`) pass.
    """
    if custom and namespace in custom:
        return metric not in custom[namespace]
    known = KNOWN_METRICS.get(namespace)
    return known is not None and metric not in known
