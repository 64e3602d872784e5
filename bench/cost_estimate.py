"""`cost estimate --from-logs` throughput over a generated log export.

Generates N invocations (START, JSON access line, END, REPORT: 4 CloudWatch events
each) as JSON lines, then measures in the same run:
- baseline: a plain `json.loads` loop over the same file (parse every event, nothing else);
- from_logs: iter_file_events + aggregate + project + estimate (what the command does).
Prints name=value lines; ratio = from_logs time / baseline time (lower is better).

    .venv/bin/python bench/cost_estimate.py [--invocations 50000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opskit.cost.estimate import estimate_from_events
from opskit.cost.logs import iter_file_events
from opskit.cost.model import Usage, estimate
from opskit.pricing import load_prices

ROUTES = ("/api/users", "/api/products", "/api/orders", "/auth/sessions", "/health/live")


def generate(path: Path, invocations: int) -> int:
    t0 = 1_795_000_000_000
    count = 0
    with path.open("w") as out:
        for i in range(invocations):
            rid = f"{i:08x}-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
            ts = t0 + i * 50
            route = ROUTES[i % len(ROUTES)]
            access = {
                "level": "INFO",
                "location": "gateway.middleware:log_request:42",
                "message": "request",
                "timestamp": "2026-11-17T10:00:00.123Z",
                "service": "gateway",
                "cold_start": i % 500 == 0,
                "function_name": "opskit-dev-gateway",
                "function_memory_size": 512,
                "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:opskit-dev-gateway",
                "function_request_id": rid,
                "xray_trace_id": "1-5759e988-bd862e3fe1be46a994272793",
                "correlation_id": rid,
                "method": "GET",
                "path": route,
                "route": route,
                "status": 200,
                "latency_ms": 23.4,
                "upstream": "users",
                "upstream_latency_ms": 12.1,
                "upstream_status": 200,
                "user_id": f"user-{i % 977}",
                "client_ip": "203.0.113.9",
                "rate_limited": i % 50 == 0,
                "request_bytes": 320,
                "response_bytes": 1800,
            }
            report = f"REPORT RequestId: {rid}\tDuration: 24.51 ms\tBilled Duration: 25 ms\tMemory Size: 512 MB\tMax Memory Used: 88 MB"
            if i % 500 == 0:
                report += "\tInit Duration: 312.45 ms"
            for offset, message in enumerate(
                (
                    f"START RequestId: {rid} Version: $LATEST\n",
                    json.dumps(access) + "\n",
                    f"END RequestId: {rid}\n",
                    report + "\t\n",
                )
            ):
                out.write(
                    json.dumps(
                        {
                            "timestamp": ts + offset,
                            "message": message,
                            "logStreamName": "2026/11/17/[$LATEST]abc",
                        }
                    )
                    + "\n"
                )
                count += 1
    return count


def baseline(path: Path) -> float:
    started = time.perf_counter()
    with path.open() as handle:
        for line in handle:
            json.loads(line)
    return time.perf_counter() - started


def from_logs(path: Path) -> tuple[float, float]:
    prices = load_prices()
    started = time.perf_counter()
    result = estimate_from_events(iter_file_events(path), Usage(), prices, "none", None, {})
    return time.perf_counter() - started, result.result.total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invocations", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        events = generate(path, args.invocations)
        size_mb = path.stat().st_size / 1e6
        baseline(path)  # warm the page cache
        base = min(baseline(path) for _ in range(2))
        runs = [from_logs(path) for _ in range(2)]
        ours = min(r[0] for r in runs)
    prices = load_prices()
    n = 2000
    started = time.perf_counter()
    for i in range(n):
        estimate(Usage(requests=1e6 + i), prices, "none")
    model_s = (time.perf_counter() - started) / n
    print(f"cost_estimate.events={events}")
    print(f"cost_estimate.file_mb={size_mb:.1f}")
    print(f"cost_estimate.baseline_json_loads_events_per_s={events / base:.0f}")
    print(f"cost_estimate.from_logs_events_per_s={events / ours:.0f}")
    print(f"cost_estimate.from_logs_vs_json_loads_time_ratio={ours / base:.2f}")
    print(f"cost_estimate.projected_month_usd={runs[0][1]:.2f}")
    print(f"cost_estimate.model_estimate_us={model_s * 1e6:.1f}")


if __name__ == "__main__":
    main()
