"""CLI start-up: what a user waits for on the two commands typed most.

cli_help_ratio: `opskit --help` against `python -c "import click, rich"` (the floor any
Click + Rich tool pays), fresh interpreters, samples interleaved, medians compared.
cli_status_ratio: `opskit --env local status` against one boto3 describe_stacks call from a
fresh `python -c`, both against the same moto server (in its own process) holding one stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import AWS_ENV, ROOT, median, start_moto

RUNS = 9
STACK = "bench-cli-local"
TEMPLATE = {
    "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}},
    "Outputs": {"BucketName": {"Value": {"Ref": "Bucket"}}},
}
DESCRIBE = (
    "import boto3; boto3.client('cloudformation', endpoint_url={endpoint!r}, region_name='us-east-1',"
    " aws_access_key_id='testing', aws_secret_access_key='testing')"
    ".describe_stacks(StackName={stack!r})"
)


def timed(argv: list[str], env: dict[str, str], cwd: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    return elapsed


def compare(
    name: str, measured: list[str], baseline: list[str], env: dict[str, str], cwd: str
) -> None:
    timed(measured, env, cwd), timed(baseline, env, cwd)  # warm the page cache
    ours, theirs = [], []
    for _ in range(RUNS):
        ours.append(timed(measured, env, cwd))
        theirs.append(timed(baseline, env, cwd))
    print(f"{name}_ms={median(ours) * 1000:.0f}")
    print(f"{name}_baseline_ms={median(theirs) * 1000:.0f}")
    print(f"{name}_ratio={median(ours) / median(theirs):.2f}")


def main() -> None:
    env = {**os.environ, **AWS_ENV, "PYTHONPATH": str(ROOT)}
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        config = Path(tmp) / "opskit.toml"
        config.write_text(f'[env.local]\nstack_name = "{STACK}"\nlocal = true\n')
        compare(
            "cli_help",
            [python, "-m", "opskit", "--help"],
            [python, "-c", "import click, rich"],
            env,
            tmp,
        )
        moto, endpoint = start_moto()
        try:
            import boto3

            cfn = boto3.client(
                "cloudformation",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(TEMPLATE))
            local = {**env, "OPSKIT_CONFIG": str(config), "OPSKIT_ENDPOINT_URL": endpoint}
            compare(
                "cli_status",
                [python, "-m", "opskit", "--env", "local", "status"],
                [python, "-c", DESCRIBE.format(endpoint=endpoint, stack=STACK)],
                local,
                tmp,
            )
        finally:
            moto.stop()


if __name__ == "__main__":
    main()
