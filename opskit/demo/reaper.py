"""Know every process the demo started, even the ones its commands started in turn.

The demo puts a unique marker in its environment (`OPSKIT_DEMO_RUN=<id>`); every
descendant inherits it (the local account copies the environment it runs in), so
after `opskit local down` a scan of /proc finds anything left behind, wherever it
was re-parented. Linux only: elsewhere the scan finds nothing and says so.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from opskit import envvars

MARKER = envvars.DEMO_RUN


@dataclass(frozen=True)
class Leftover:
    pid: int
    command: str


def can_scan() -> bool:
    return Path("/proc/self/environ").is_file()


def marked_processes(
    run_id: str, exclude: set[int] | None = None, marker: str = MARKER
) -> list[Leftover]:
    """Live processes (not zombies) whose environment has `marker=run_id`."""
    needle = f"{marker}={run_id}".encode()
    exclude = exclude or set()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid in exclude:
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (
                (entry / "cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode(errors="replace")
                .strip()
            )
        except (OSError, IndexError):
            continue  # gone, or not ours to read
        if state != "Z":
            found.append(Leftover(pid, command))
    return found


def stop_pid(pid: int, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; reaps it if it is our child."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(40):
        if not _alive(pid):
            return
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
