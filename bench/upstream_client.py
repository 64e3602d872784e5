"""Which HTTP client should the gateway use upstream? httpx vs aiohttp vs the gateway's own
keep-alive client (gateway.http_client), measured in the same run.

For each: extra cold-start import time on top of FastAPI+Mangum (fresh interpreters, median),
and throughput and CPU per request against a fast local upstream in its own process
(REQUESTS GETs at CONCURRENCY connections, each client in a fresh process). Ratios are
against httpx, the baseline.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import ROOT, median, start_upstream

REQUESTS = 3000
CONCURRENCY = 32
IMPORT_RUNS = 7
IMPORTS = {
    "httpx": "import httpx",
    "aiohttp": "import aiohttp",
    "gateway": "import gateway.http_client",
}

LOAD = r"""
import asyncio, json, sys, time
kind, url, n, conc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
host, port = url.split("//")[1].split(":")
port = int(port)

async def main():
    if kind == "httpx":
        import httpx
        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=conc, max_keepalive_connections=conc))
        async def get():
            r = await client.get(url + "/item")
            return r.status_code, r.content
        close = client.aclose
    elif kind == "aiohttp":
        import aiohttp
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc))
        async def get():
            async with session.get(url + "/item") as r:
                return r.status, await r.read()
        close = session.close
    else:
        from gateway.http_client import HttpClient
        client = HttpClient(max_idle_per_origin=conc)
        async def get():
            r = await client.request("GET", "http", host, port, "/item", [])
            return r.status, r.body
        close = client.aclose
    it = iter(range(n))
    async def worker():
        for _ in it:
            status, body = await get()
            assert status == 200 and body
    for _ in range(200):
        await get()
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await close()
    print(json.dumps({"rps": n / wall, "cpu_us": cpu / n * 1e6}))

asyncio.run(main())
"""


def import_seconds(stmt: str) -> float:
    """Cumulative import time of ``stmt`` after FastAPI+Mangum, from ``-X importtime``."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import fastapi, mangum; {stmt}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    total, after = 0, False
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if name.strip() == "mangum" and name.startswith(" mangum"):
            after = True
            continue
        if after and not name.startswith("  "):  # top-level imports caused by stmt
            total += int(cumulative)
    return total / 1e6


def main() -> None:
    imports: dict[str, list[float]] = {name: [] for name in IMPORTS}
    for _ in range(IMPORT_RUNS):  # interleaved, fresh interpreters
        for name, stmt in IMPORTS.items():
            imports[name].append(import_seconds(stmt))
    import_ms = {name: median(v) * 1000 for name, v in imports.items()}

    upstream, url = start_upstream()
    results = {}
    try:
        for name in IMPORTS:
            out = subprocess.run(
                [sys.executable, "-c", LOAD, name, url, str(REQUESTS), str(CONCURRENCY)],
                cwd=ROOT, capture_output=True, text=True, check=True,
            )  # fmt: skip
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        upstream.stop()

    for name in IMPORTS:
        print(f"upstream_client_{name}_import_ms={import_ms[name]:.0f}")
        print(f"upstream_client_{name}_req_per_s={results[name]['rps']:.0f}")
        print(f"upstream_client_{name}_cpu_us_per_request={results[name]['cpu_us']:.0f}")
    for name in ("aiohttp", "gateway"):
        print(
            f"upstream_client_{name}_vs_httpx_rps_ratio={results[name]['rps'] / results['httpx']['rps']:.2f}"
        )
        print(
            f"upstream_client_{name}_vs_httpx_cpu_ratio={results[name]['cpu_us'] / results['httpx']['cpu_us']:.2f}"
        )
    # The choice: fastest import wins unless it is more than 25% worse on CPU per request than the best.
    best_cpu = min(r["cpu_us"] for r in results.values())
    eligible = [n for n in IMPORTS if results[n]["cpu_us"] <= best_cpu * 1.25]
    choice = min(eligible, key=lambda n: import_ms[n])
    print(f"upstream_client_choice={choice}")
    print(f"upstream_client_requests={REQUESTS}")
    print(f"upstream_client_concurrency={CONCURRENCY}")


if __name__ == "__main__":
    main()
