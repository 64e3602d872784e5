"""Lambda package build time: cold, with a warm pip cache, and with opskit's dependency cache.

    .venv/bin/python bench/package.py

Builds the repo's own gateway/ with [tool.opskit].lambda-dependencies for arm64:
- cold: empty pip cache and empty opskit cache (every wheel downloaded);
- pip_warm: pip's cache warm, opskit's dependency cache empty (pip installs again);
- warm: opskit's dependency cache hit (only the gateway sources are re-zipped).
Ratios are against the cold build measured in the same run.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opskit.packaging import build_package  # noqa: E402

MB = 1024 * 1024


def timed_build(cache_dir: Path, out_dir: Path):
    started = time.perf_counter()
    result = build_package(ROOT, out_dir, architecture="arm64", cache_dir=cache_dir)
    return time.perf_counter() - started, result


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="opskit-bench-package-") as tmp:
        work = Path(tmp)
        previous = os.environ.get("PIP_CACHE_DIR")
        os.environ["PIP_CACHE_DIR"] = str(work / "pip-cache")  # empty: a truly cold pip
        try:
            cold_s, cold = timed_build(work / "cache-cold", work / "out")
            pip_warm_s, pip_warm = timed_build(work / "cache-pip-warm", work / "out")
        finally:
            if previous is None:
                os.environ.pop("PIP_CACHE_DIR", None)
            else:
                os.environ["PIP_CACHE_DIR"] = previous
        warm_runs = []
        for _ in range(5):
            seconds, warm = timed_build(work / "cache-pip-warm", work / "out")
            assert warm.cache_hit, "the dependency cache should have been hit"
            warm_runs.append(seconds)
        warm_s = sorted(warm_runs)[len(warm_runs) // 2]  # median of 5
    deterministic = cold.sha256 == pip_warm.sha256 == warm.sha256
    print(f"package_cold_s={cold_s:.2f}")
    print(f"package_pip_warm_s={pip_warm_s:.2f}")
    print(f"package_warm_s={warm_s:.3f}")
    print(f"package_pip_warm_vs_cold_ratio={pip_warm_s / cold_s:.3f}")
    print(f"package_warm_vs_cold_ratio={warm_s / cold_s:.4f}")
    print(f"package_zip_mb={cold.size_zipped / MB:.2f}")
    print(f"package_unzipped_mb={cold.size_unzipped / MB:.2f}")
    print(f"package_files={len(cold.files)}")
    print(f"package_distributions={len(cold.distributions)}")
    print(f"package_deterministic={int(deterministic)}")
    if not deterministic:
        sys.exit("the three builds gave different bytes")


if __name__ == "__main__":
    main()
