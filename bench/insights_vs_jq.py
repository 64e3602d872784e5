"""Local Logs Insights engine vs jq over 1,000,000 gateway access-log events (~300 MB).

Runs `slow-requests` and `stats count(*), avg(latency_ms), pct(latency_ms, 99) by path`
with opskit's local engine and the equivalent jq programs in the same run, checks that
the answers agree, and prints `name=value` lines (speedups are jq time / engine time).
The events file is generated once into bench/.data/ (gitignored) and reused. Each side
is timed as the best of BENCH_INSIGHTS_REPEAT (default 2) interleaved runs: the machine is shared.
"""

from __future__ import annotations

import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opskit.insights.engine import run_file  # noqa: E402
from opskit.insights.library import get_query  # noqa: E402

DATA = ROOT / "bench" / ".data"
EVENTS = int(os.environ.get("BENCH_INSIGHTS_EVENTS", "1000000"))
THRESHOLD = 1000
PATHS = [
    "/api/users",
    "/api/users/42",
    "/api/products",
    "/api/products/7",
    "/api/orders",
    "/api/orders/9",
    "/health/live",
    "/auth/sessions",
]
STATS_QUERY = "stats count(*), avg(latency_ms), pct(latency_ms, 99) by path"


def generate(path: Path, count: int) -> None:
    rng = random.Random(42)
    start = 1_795_000_000_000
    # The contract's access-log fields a query here touches (the rest are left out to keep
    # the file near 300 MB, the size the issue sets).
    tmp = path.with_suffix(".part")
    with tmp.open("wb") as out:
        for i in range(count):
            route = rng.choice(PATHS)
            slow = rng.random() < 0.02
            latency = round(rng.uniform(1000, 5000) if slow else rng.lognormvariate(3.5, 0.6), 2)
            status = rng.choices([200, 201, 404, 429, 502], [80, 8, 6, 4, 2])[0]
            upstream = None if route.startswith(("/health", "/auth")) else route.split("/")[2]
            if status == 429:  # refused by the limiter: no upstream call (docs/access-line.md)
                upstream = None
            message = {
                "level": "INFO",
                "message": "request",
                "cold_start": i % 5000 == 0,
                "correlation_id": f"c{i:07d}",
                "method": "GET",
                "path": route,
                "route": route.rsplit("/", 1)[0] if route[-1].isdigit() else route,
                "status": status,
                "latency_ms": latency,
                "upstream": upstream,
                "upstream_latency_ms": round(latency * 0.8, 2) if upstream else None,
                "user_id": f"user-{rng.randrange(500)}",
                "rate_limited": status == 429,
            }
            event = {
                "timestamp": start + i * 50,
                "message": orjson.dumps(message).decode(),
                "logStreamName": "2026/11/24/[$LATEST]a1",
            }
            out.write(orjson.dumps(event) + b"\n")
    tmp.replace(path)


REPEAT = int(os.environ.get("BENCH_INSIGHTS_REPEAT", "2"))


def timed_pair(engine_fn, jq_fn):
    """Best wall time of REPEAT runs for each side, interleaved (engine, jq, engine, jq, ...)
    so a burst of load from other processes on this shared machine does not hit one side only."""
    best_engine = best_jq = float("inf")
    engine_value = jq_value = None
    for _ in range(REPEAT):
        began = time.perf_counter()
        engine_value = engine_fn()
        best_engine = min(best_engine, time.perf_counter() - began)
        began = time.perf_counter()
        jq_value = jq_fn()
        best_jq = min(best_jq, time.perf_counter() - began)
    return best_engine, engine_value, best_jq, jq_value


def jq(program: str, path: Path, slurp_inputs: bool = False) -> list:
    args = ["/usr/bin/jq", "-c"] + (["-n"] if slurp_inputs else []) + [program, str(path)]
    out = subprocess.run(args, check=True, capture_output=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


JQ_FILTER = (
    f'.timestamp as $t | .message | fromjson | select(.message == "request" and .latency_ms > {THRESHOLD}) '
    "| {t: $t, path, latency_ms}"
)
# Idiomatic jq: collect (path, latency) pairs, group_by, then count/avg and p99 with the same
# linear interpolation the engine uses. (A `reduce ... += [x]` program is quadratic in jq.)
JQ_STATS = (
    "[inputs | .message | fromjson | {path, l: .latency_ms}] | group_by(.path)[] "
    "| (map(.l) | map(select(. != null)) | sort) as $v | {path: .[0].path, count: length, avg: (($v | add) / ($v | length)), "
    "p99: (((($v | length) - 1) * 0.99) as $r | ($r | floor) as $lo | ([$lo + 1, ($v | length) - 1] | min) as $hi "
    "| $v[$lo] + ($v[$hi] - $v[$lo]) * ($r - $lo))}"
)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def main() -> int:
    if not shutil.which("/usr/bin/jq"):
        print("jq_missing=1")
        return 1
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"gateway-events-{EVENTS}.jsonl"
    if not path.exists():
        generate(path, EVENTS)
    print(f"events={EVENTS}")
    print(f"repeat={REPEAT}")
    print(f"file_mb={path.stat().st_size / 1e6:.1f}")

    limit = 100
    slow_query = get_query("slow-requests").render(
        {"threshold_ms": str(THRESHOLD), "limit": str(limit)}
    )
    engine_filter_s, slow, jq_filter_s, jq_rows = timed_pair(
        lambda: run_file(slow_query, path), lambda: jq(JQ_FILTER, path)
    )
    jq_top = sorted(jq_rows, key=lambda r: (-r["latency_ms"], -r["t"]))[:limit]
    got = [(r["path"], float(r["latency_ms"])) for r in slow.rows]
    want = [(r["path"], float(r["latency_ms"])) for r in jq_top]
    filter_agree = [x[1] for x in got] == [x[1] for x in want] and len(got) == limit

    engine_stats_s, stats, jq_stats_s, jq_stats = timed_pair(
        lambda: run_file(STATS_QUERY, path), lambda: jq(JQ_STATS, path, slurp_inputs=True)
    )
    by_path = {r["path"]: r for r in stats.rows}
    stats_agree = len(by_path) == len(jq_stats) and all(
        int(by_path[j["path"]]["count(*)"]) == j["count"]
        and close(float(by_path[j["path"]]["avg(latency_ms)"]), j["avg"])
        and close(float(by_path[j["path"]]["pct(latency_ms, 99)"]), j["p99"])
        for j in jq_stats
    )

    print(f"engine={slow.engine}")
    print(f"engine_filter_s={engine_filter_s:.3f}")
    print(f"jq_filter_s={jq_filter_s:.3f}")
    print(f"engine_stats_s={engine_stats_s:.3f}")
    print(f"jq_stats_s={jq_stats_s:.3f}")
    print(f"answers_agree_filter={int(filter_agree)}")
    print(f"answers_agree_stats={int(stats_agree)}")
    print(f"speedup_vs_jq_filter={jq_filter_s / engine_filter_s:.2f}")
    print(f"speedup_vs_jq_stats={jq_stats_s / engine_stats_s:.2f}")
    print(f"max_rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
    return 0 if filter_agree and stats_agree else 1


if __name__ == "__main__":
    sys.exit(main())
