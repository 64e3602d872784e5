"""Wall time of `make demo` (python -m opskit.demo, default traffic) and where it goes.

Prints `demo_wall_s=` against the 3-minute target (`demo_vs_target_ratio=`, target <= 1.0),
each step's seconds, the traffic rate, and, as a baseline measured in the same run, the
start-up time of one `opskit` process that does no AWS call (`opskit insights list`):
`cli_startup_share=` is about the part of the demo spent only starting the Python
processes of the commands it runs.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 180.0


def cli_startup_s(repeats: int = 5) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "opskit", "--env", "local", "insights", "list"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    startup = cli_startup_s()
    with tempfile.TemporaryDirectory() as tmp:
        summary_path = Path(tmp) / "summary.json"
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "opskit.demo", "--summary-json", str(summary_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-2000:], file=sys.stderr)
            print(f"demo_failed_exit_code={proc.returncode}")
            return 1
        summary = json.loads(summary_path.read_text())
    commands = sum(len(step["commands"]) for step in summary["steps"]) + 1  # + `local down`
    print(f"demo_wall_s={wall:.1f}")
    print(f"demo_target_s={TARGET_S:.0f}")
    print(f"demo_vs_target_ratio={wall / TARGET_S:.2f}")
    for step in summary["steps"]:
        words = re.sub(r"[^a-z0-9 ]+", " ", step["title"].split(" (")[0].lower()).split()
        name = "_".join(words[:4])
        print(f"step_{step['number']:02d}_{name}_s={step['seconds']:.1f}")
    traffic = summary["traffic"]
    print(f"traffic_requests={traffic['requests']}")
    print(f"traffic_requests_per_s={traffic['requests_per_s']}")
    print(f"cli_startup_s={startup:.2f}")
    print(f"cli_commands={commands}")
    print(f"cli_startup_share={commands * startup / wall:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
