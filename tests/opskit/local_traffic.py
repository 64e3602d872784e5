"""Gateway-shaped traffic for local-account tests, shipped as the local shipper ships it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from opskit.local.metrics import FilterMetrics, RawStore, Target, raw_metrics_path
from opskit.local.shipper import MetricSink, PlatformLines, Sink, run


def access(
    at: datetime,
    status: int,
    upstream: str | None,
    upstream_status: int | None,
    latency: float = 12.5,
) -> str:
    return json.dumps(
        {
            "level": "INFO",
            "location": "gateway.access",
            "message": "request",
            "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "route": "/api/users",
            "status": status,
            "latency_ms": latency,
            "upstream": upstream,
            "upstream_status": upstream_status,
            "rate_limited": status == 429 and upstream is None,
        }
    )


def traffic(now: datetime, minutes: int = 4) -> list[str]:
    """`minutes` complete minutes: 30 upstream calls (10 fail with 502) and 20 rate-limited
    429s each; latencies vary from 10 to 400 ms."""
    lines = []
    minute = now.replace(second=0, microsecond=0)
    for back in range(minutes, 0, -1):
        start = minute - timedelta(minutes=back)
        for i in range(50):
            at = start + timedelta(seconds=i)
            if i < 10:
                lines.append(access(at, 502, "users", None))
            elif i < 30:
                lines.append(access(at, 200, "users", 200, 10.0 + (i * 37 + back * 11) % 390))
            else:
                lines.append(access(at, 429, None, None))
    return lines


def ship(
    clients: Any, state_dir: Path, group: str, target: Target, lines: list[str], now: datetime
) -> int:
    """Run the shipper's loop over `lines`: log events, metric-filter and derived metrics, raw values."""
    logs, cw = clients.client("logs"), clients.client("cloudwatch")
    metrics = MetricSink(
        cw, target, filters=FilterMetrics(logs, group), store=RawStore(raw_metrics_path(state_dir))
    )
    platform = PlatformLines(512, 0, started=now.timestamp() - 600)
    return run(iter(lines), Sink(logs, group, "s"), platform, metrics=metrics)
