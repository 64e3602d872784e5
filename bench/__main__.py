"""`make bench`: run every bench/*.py in its own process and print its name=value lines.

`python -m bench NAME ...` runs only the named benchmarks (file stems).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    selected = set(argv)
    scripts = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_"))
    if selected:
        scripts = [p for p in scripts if p.stem in selected]
    failed = []
    for script in scripts:
        print(f"## {script.stem}", flush=True)
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script)], cwd=HERE.parent)
        print(f"{script.stem}.wall_s={time.perf_counter() - started:.1f}", flush=True)
        if proc.returncode != 0:
            failed.append(script.stem)
    if failed:
        print(f"failed benchmarks: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
