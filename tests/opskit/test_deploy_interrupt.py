"""Ctrl-C during `opskit deploy`: a real process on a pseudo-terminal gets SIGINT at the prompt.

The deploy runs as users run it (`python -m opskit`, its own process, a tty so it
asks), against the moto server over HTTP. The package step is served from opskit's
build cache, filled beforehand through `cached_build` itself.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3

from opskit.app import LAMBDA_PYTHON as PYTHON_VERSION
from opskit.config import load_environment
from opskit.deploy.artifacts import cached_build
from opskit.errors import EXIT_INTERRUPTED
from tests.opskit import test_deploy_flow as flow

STACK = flow.STACK
package_zip, project = flow.package_zip, flow.project


def fill_build_cache(root: Path, zip_path: Path) -> None:
    def build(project_root, out, **_kwargs):
        out.mkdir(parents=True, exist_ok=True)
        target = out / "gateway.zip"
        target.write_bytes(zip_path.read_bytes())
        return type("Built", (), {"path": target})

    env = load_environment("local", root / "opskit.toml")
    cached_build(root, env.state_dir, "arm64", PYTHON_VERSION, build)


def deploy_and_interrupt(root: Path, moto: str, wait_for: bytes) -> tuple[int, str]:
    """Start a deploy on a pty, send SIGINT once `wait_for` is on screen; (exit code, screen)."""
    primary, secondary = pty.openpty()
    env = {
        **os.environ,
        "OPSKIT_CONFIG": str(root / "opskit.toml"),
        "OPSKIT_ENDPOINT_URL": moto,
        "COLUMNS": "200",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "opskit", "--env", "local", "deploy"],
        cwd=root, env=env, stdin=secondary, stdout=secondary, stderr=secondary, close_fds=True,
    )  # fmt: skip
    os.close(secondary)
    screen = b""
    deadline = time.monotonic() + 60
    sent = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break  # the process closed the terminal
            if not chunk:
                break
            screen += chunk
        if not sent and wait_for in screen:
            time.sleep(0.2)  # at the prompt, as a person would be
            proc.send_signal(signal.SIGINT)
            sent = True
        if proc.poll() is not None and not ready:
            break
    code = proc.wait(timeout=30)
    os.close(primary)
    assert sent, f"never saw {wait_for!r}: {screen.decode(errors='replace')}"
    return code, screen.decode(errors="replace").replace("\r", "")


def test_sigint_at_the_prompt_of_a_first_deploy_leaves_nothing_behind(project, moto, package_zip):
    fill_build_cache(project, package_zip.path)
    code, screen = deploy_and_interrupt(project, moto, b"Execute this change set")
    assert code == EXIT_INTERRUPTED, screen
    assert (
        "Error: deploy interrupted before anything was executed: deleted change set opskit-"
        in screen
    )
    assert f"stack {STACK} was not created" in screen
    cfn = boto3.client("cloudformation", endpoint_url=moto, region_name="us-east-1")
    # No AVAILABLE change set and no empty REVIEW_IN_PROGRESS stack.
    assert [s["StackStatus"] for s in cfn.list_stacks()["StackSummaries"]] == ["DELETE_COMPLETE"]


def test_sigint_at_the_prompt_of_an_update_deletes_only_the_change_set(project, moto, package_zip):
    assert flow.run("deploy", "--yes", "--no-smoke-test").exit_code == 0
    fill_build_cache(project, package_zip.path)
    config = project / "opskit.toml"
    config.write_text(config.read_text() + 'MemorySize = "1024"\n')  # into [env.local.parameters]
    code, screen = deploy_and_interrupt(project, moto, b"Execute this change set")
    assert code == EXIT_INTERRUPTED, screen
    assert f"stack {STACK} is CREATE_COMPLETE (unchanged)" in screen
    cfn = boto3.client("cloudformation", endpoint_url=moto, region_name="us-east-1")
    assert cfn.list_change_sets(StackName=STACK)["Summaries"] == []
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
