"""Benchmark: a no-op `opskit deploy --env local --yes` against an already deployed stack.

Starts a local account in a temporary copy of the project (sharing the packager's
dependency cache), deploys once for real (package, upload, stack, gateway, smoke test),
then times no-op deploys as separate processes, as a user runs them.
Baselines measured in the same run: `opskit --version` (process start) and one bare
DescribeStacks round trip against the same emulator.

The no-op path includes the cfn-lint step (served from its template-hash cache after
the first deploy); `lint_uncached_s` is one cfn-lint run of the template, measured in the
same run, for what the cache saves.

Prints: first_deploy_s, noop_deploy_s (target < 3), cli_start_s, noop_vs_cli_start_ratio,
describe_stacks_ms, noop_vs_describe_stacks_ratio, lint_uncached_s.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3


def opskit(
    project: Path, *args: str, check: bool = True
) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, "OPSKIT_CONFIG": str(project / "opskit.toml")}
    env.pop("OPSKIT_ENDPOINT_URL", None)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "opskit", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if check and proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"opskit {' '.join(args)} failed with exit code {proc.returncode}")
    return elapsed, proc


def make_project(tmp: Path) -> Path:
    project = tmp / "project"
    project.mkdir()
    for name in ("opskit.toml", "pyproject.toml", "lambda-requirements.lock"):
        shutil.copy(ROOT / name, project / name)
    for name in ("cloudformation", "gateway"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    shared_cache = ROOT / ".opskit" / "cache"
    shared_cache.mkdir(parents=True, exist_ok=True)
    (project / ".opskit").mkdir()
    (project / ".opskit" / "cache").symlink_to(shared_cache)  # warm pip cache, as for a user
    return project


def describe_stacks_ms(project: Path) -> float:
    sys.path.insert(0, str(ROOT))
    import boto3

    from opskit.config import load_environment
    from opskit.local.state import LocalState

    env = load_environment("local", project / "opskit.toml")
    state = LocalState.load(env)
    assert state is not None
    cfn = boto3.client(
        "cloudformation",
        endpoint_url=state.endpoint_url,
        region_name=env.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    cfn.describe_stacks(StackName=env.stack_name)  # warm the connection
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        cfn.describe_stacks(StackName=env.stack_name)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def lint_uncached_s(project: Path) -> float:
    from opskit.deploy.lint import run_cfn_lint

    text = (project / "cloudformation" / "gateway.yaml").read_text()
    started = time.perf_counter()
    run_cfn_lint(text, "us-east-1")
    return time.perf_counter() - started


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="opskit-bench-") as tmp:
        project = make_project(Path(tmp))
        try:
            opskit(project, "local", "up")
            first, _ = opskit(project, "--env", "local", "deploy", "--yes")
            noops = []
            for _ in range(RUNS):
                elapsed, proc = opskit(project, "--env", "local", "deploy", "--yes")
                if not proc.stdout.startswith("No changes:"):
                    raise SystemExit(f"expected a no-op deploy, got: {proc.stdout.strip()}")
                noops.append(elapsed)
            starts = [opskit(project, "--version")[0] for _ in range(RUNS)]
            rtt_ms = describe_stacks_ms(project)
            lint_s = lint_uncached_s(project)
        finally:
            opskit(project, "local", "down", check=False)
    noop, start = statistics.median(noops), statistics.median(starts)
    print(f"first_deploy_s={first:.2f}")
    print(f"noop_deploy_s={noop:.2f}")
    print("noop_deploy_target_s=3")
    print(f"cli_start_s={start:.2f}")
    print(f"noop_vs_cli_start_ratio={noop / start:.2f}")
    print(f"describe_stacks_ms={rtt_ms:.1f}")
    print(f"noop_vs_describe_stacks_ratio={noop * 1000 / rtt_ms:.1f}")
    print(f"lint_uncached_s={lint_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
