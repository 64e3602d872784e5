"""`cost estimate --from-logs` throughput over a generated log export, and the paid requests
of a Cost Explorer report.

Generates N invocations (START, JSON access line, END, REPORT with its XRAY line, written by
opskit.logs.platform as Lambda writes them today: 4 CloudWatch events each) as JSON lines,
then measures in the same run:
- baseline: a plain `json.loads` loop over the same file (parse every event, nothing else);
- from_logs: iter_file_events + aggregate + project + estimate (what the command does),
  with per-user attribution (--by user --top 10).
- report: `opskit cost` for the current month against a botocore Stubber (no network):
  the paid requests a cold report makes, and a warm (cached) one (must be 0).
Prints name=value lines (CPU time); ratio = from_logs time / baseline time (lower is better).

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
from opskit.logs import platform
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
            init = 312.45 if i % 500 == 0 else None
            report = platform.Report(
                rid,
                24.51,
                platform.billed_duration(24.51, init),
                512,
                88,
                init,
                xray=platform.Xray(access["xray_trace_id"], f"{i:016x}", i % 20 == 0),
            )
            for offset, message in enumerate(
                (
                    platform.format_start(rid),
                    json.dumps(access) + "\n",
                    platform.format_end(rid),
                    platform.format_report(report),
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


# CPU time of this process: on a shared machine (2 cores, many jobs) wall time swings several
# fold between runs; CPU time compares the two measurements of one run fairly.
clock = time.process_time


def baseline(path: Path) -> float:
    started = clock()
    with path.open() as handle:
        for line in handle:
            json.loads(line)
    return clock() - started


def from_logs(path: Path) -> tuple[float, float]:
    prices = load_prices()
    started = clock()
    result = estimate_from_events(iter_file_events(path), Usage(), prices, "none", None, {}, top=10)
    return clock() - started, result.result.total


def report_requests(state: Path) -> tuple[int, int]:
    """Paid requests of a current-month report: cold, then warm from the cache."""
    from datetime import UTC, date, datetime

    import boto3
    from botocore.stub import Stubber

    from opskit.config import Environment
    from opskit.cost.explorer import CostExplorer, DiskCache
    from opskit.cost.periods import current_month
    from opskit.cost.report import ReportRequest, build_report

    today = date(2026, 11, 24)
    now = datetime(2026, 11, 24, 9, tzinfo=UTC)
    env = Environment(name="dev", stack_name="opskit-dev", region="us-east-1", root=state)
    ce = boto3.client(
        "ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    stub = Stubber(ce)
    tags = [
        {"TagKey": k, "Type": "UserDefined", "Status": "Active"} for k in ("Environment", "Project")
    ]
    day = {
        "TimePeriod": {"Start": "2026-11-01", "End": "2026-11-02"},
        "Groups": [
            {
                "Keys": ["AWS Lambda", "Usage"],
                "Metrics": {"UnblendedCost": {"Amount": "1", "Unit": "USD"}},
            }
        ],
    }
    stub.add_response("list_cost_allocation_tags", {"CostAllocationTags": tags})
    stub.add_response("get_cost_and_usage", {"ResultsByTime": [day]})
    stub.add_response("get_cost_and_usage", {"ResultsByTime": []})
    stub.add_response("get_cost_forecast", {"Total": {"Amount": "3", "Unit": "USD"}})
    cache = DiskCache(state / "ce", lambda: now)
    counts = []
    with stub:
        for _ in range(2):
            explorer = CostExplorer(ce, cache, today, account_id="111111111111")
            build_report(explorer, env, ReportRequest(current_month(today)), today)
            counts.append(explorer.counter.requests)
    return counts[0], counts[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invocations", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        events = generate(path, args.invocations)
        size_mb = path.stat().st_size / 1e6
        baseline(path)  # warm the page cache
        base = min(baseline(path) for _ in range(3))
        runs = [from_logs(path) for _ in range(3)]
        ours = min(r[0] for r in runs)
    prices = load_prices()
    n = 2000
    started = clock()
    for i in range(n):
        estimate(Usage(requests=1e6 + i), prices, "none")
    model_s = (clock() - started) / n
    print(f"cost_estimate.events={events}")
    print(f"cost_estimate.file_mb={size_mb:.1f}")
    print(f"cost_estimate.baseline_json_loads_events_per_s={events / base:.0f}")
    print(f"cost_estimate.from_logs_events_per_s={events / ours:.0f}")
    print(f"cost_estimate.from_logs_vs_json_loads_time_ratio={ours / base:.2f}")
    print(f"cost_estimate.projected_month_usd={runs[0][1]:.2f}")
    print(f"cost_estimate.model_estimate_us={model_s * 1e6:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        cold, warm = report_requests(Path(tmp))
    print(f"cost_report.paid_requests_cold={cold}")
    print(f"cost_report.paid_requests_warm={warm}")


if __name__ == "__main__":
    main()
