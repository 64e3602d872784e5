"""The local engine against hand-written DuckDB SQL over the same export, in the same run.

Prints:
* engine_vs_raw_duckdb_filter= / engine_vs_raw_duckdb_stats=: opskit's DuckDB backend (no
  cache) over its own SQL for the slow-requests filter and a stats-by-path query (<= 1.3);
* repeat_query_speedup=: the second query over the same export (columnar cache warm) against
  the first (cache built), with a fresh cache directory;
* small_query_ratio=: `opskit insights run` over 1,000 events, process start to exit,
  against `python -c "import duckdb; duckdb.sql('select 1')"`.
BENCH_INSIGHTS_EVENTS sets the export size (default 1,000,000; use less while developing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.insights_vs_jq import (  # noqa: E402
    DATA,
    EVENTS,
    STATS_QUERY,
    THRESHOLD,
    generate,
    timed_pair,
)
from opskit.insights.backends.duckdb import connect  # noqa: E402
from opskit.insights.engine import run_file  # noqa: E402
from opskit.insights.library import get_query  # noqa: E402

REPEAT = int(os.environ.get("BENCH_INSIGHTS_REPEAT", "3"))
RAW_SOURCE = (
    "read_ndjson('{path}', columns={{'timestamp': 'BIGINT', 'message': 'VARCHAR', "
    "'logStreamName': 'VARCHAR'}}, maximum_object_size=16777216)"
)
# The same columns slow-requests shows, extracted the way a person would write it.
RAW_FILTER = """
SELECT timestamp, message->>'method', message->>'path' AS path, message->>'route', message->>'status',
       CAST(message->>'latency_ms' AS DOUBLE) AS latency_ms, message->>'upstream',
       message->>'upstream_latency_ms', message->>'correlation_id'
FROM {source}
WHERE message->>'message' = 'request' AND CAST(message->>'latency_ms' AS DOUBLE) > {threshold}
ORDER BY latency_ms DESC, timestamp DESC LIMIT 100
"""
RAW_STATS = """
SELECT message->>'path' AS path, count(*), avg(CAST(message->>'latency_ms' AS DOUBLE)),
       quantile_cont(CAST(message->>'latency_ms' AS DOUBLE), 0.99)
FROM {source} GROUP BY 1 ORDER BY 1
"""


def best(fn, repeat: int = REPEAT) -> tuple[float, object]:
    wall, value = float("inf"), None
    for _ in range(repeat):
        began = time.perf_counter()
        value = fn()
        wall = min(wall, time.perf_counter() - began)
    return wall, value


def raw(sql: str):
    con = connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def interleaved(engine_fn, raw_fn) -> tuple[float, float]:
    """Best of REPEAT interleaved runs each (the jq bench's timing, shared)."""
    engine_s, _, raw_s, _ = timed_pair(engine_fn, raw_fn)
    return engine_s, raw_s


def process_wall(args: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    walls = []
    for _ in range(max(REPEAT, 3)):
        began = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, cwd=cwd, env=env)
        walls.append(time.perf_counter() - began)
    return min(walls)


def main() -> int:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"gateway-events-{EVENTS}.jsonl"
    if not path.exists():
        generate(path, EVENTS)
    print(f"events={EVENTS}")
    print(f"file_mb={path.stat().st_size / 1e6:.1f}")
    source = RAW_SOURCE.format(path=path)
    slow = get_query("slow-requests").render({"threshold_ms": str(THRESHOLD), "limit": "100"})

    engine_s, raw_s = interleaved(
        lambda: run_file(slow, path, engine="duckdb"),
        lambda: raw(RAW_FILTER.format(source=source, threshold=THRESHOLD)),
    )
    print(f"engine_filter_s={engine_s:.3f}")
    print(f"raw_duckdb_filter_s={raw_s:.3f}")
    print(f"engine_vs_raw_duckdb_filter={engine_s / raw_s:.2f}")
    engine_s, raw_s = interleaved(
        lambda: run_file(STATS_QUERY, path, engine="duckdb"),
        lambda: raw(RAW_STATS.format(source=source)),
    )
    print(f"engine_stats_s={engine_s:.3f}")
    print(f"raw_duckdb_stats_s={raw_s:.3f}")
    print(f"engine_vs_raw_duckdb_stats={engine_s / raw_s:.2f}")

    cache = Path(tempfile.mkdtemp(prefix="opskit-bench-cache-"))
    os.environ["OPSKIT_CACHE_DIR"] = str(cache)
    try:
        began = time.perf_counter()
        first = run_file(STATS_QUERY, path, engine="duckdb", cache=True)
        first_s = time.perf_counter() - began
        second_s, second = best(lambda: run_file(STATS_QUERY, path, engine="duckdb", cache=True))
        assert first.rows == second.rows  # type: ignore[union-attr]
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        del os.environ["OPSKIT_CACHE_DIR"]
    print(f"first_query_s={first_s:.3f}")
    print(f"repeat_query_s={second_s:.3f}")
    print(f"repeat_query_speedup={first_s / second_s:.1f}")

    small = DATA / "gateway-events-1000.jsonl"
    if not small.exists():
        generate(small, 1000)
    opskit = [
        sys.executable,
        "-m",
        "opskit",
        "insights",
        "run",
        "--query",
        STATS_QUERY,
        "--file",
        str(small),
        "--format",
        "json",
    ]
    baseline = [sys.executable, "-c", "import duckdb; duckdb.sql('select 1')"]
    with tempfile.TemporaryDirectory() as cwd:
        opskit_s = process_wall(opskit, Path(cwd))
        duckdb_s = process_wall(baseline, Path(cwd))
    print(f"small_query_s={opskit_s:.3f}")
    print(f"duckdb_import_select_s={duckdb_s:.3f}")
    print(f"small_query_ratio={opskit_s / duckdb_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
