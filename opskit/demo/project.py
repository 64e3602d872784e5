"""The demo's own project directory, so it never collides with a local account you started.

`.opskit/demo/` under the project holds links to every top-level entry of the project
(opskit.toml, cloudformation/, gateway/, queries/, dashboards/, ...) and its own
`.opskit/` state: the demo's emulator, ports, logs and build cache live there, and
`opskit --env local ...` typed in that directory talks to the demo's account, while
the same command typed at the project root talks to yours. A lock file keeps two
demos from sharing one directory.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from opskit.config import CONFIG_NAME, find_config
from opskit.errors import ConfigError, LocalAccountError

DEMO_DIR = Path(".opskit") / "demo"
LOCK_NAME = ".demo.lock"


def source_project() -> Path:
    """The project the demo runs: the one opskit.toml belongs to (cwd upwards, else this checkout)."""
    found = find_config()
    if found is not None:
        return found.resolve().parent
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / CONFIG_NAME).is_file():
        return checkout
    raise ConfigError(
        "no opskit.toml found",
        "the demo runs the project's own configuration",
        "run `make demo` from the repository root",
    )


def prepare(source: Path, workdir: Path | None = None) -> Path:
    """Create (or refresh) the demo directory: links to the project's entries, a real .opskit/."""
    workdir = (workdir or source / DEMO_DIR).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / ".opskit").mkdir(exist_ok=True)
    wanted = {entry.name: entry for entry in source.iterdir() if not entry.name.startswith(".")}
    for existing in workdir.iterdir():
        if existing.is_symlink() and existing.name not in wanted:
            existing.unlink()  # an entry removed from the project since the last demo
    for name, target in wanted.items():
        link = workdir / name
        if link.is_symlink():
            if Path(os.readlink(link)) == target:
                continue
            link.unlink()
        elif link.exists():
            raise ConfigError(
                f"cannot prepare {workdir}",
                f"{link} exists and is not a link",
                f"remove {workdir} and rerun",
            )
        link.symlink_to(target)
    return workdir


RUN_FILES = ("*.log", "traffic.json", "dashboard.json")


def reset_run_files(workdir: Path) -> None:
    """Remove the previous demo's logs and outputs, so what the summary points at is this run's."""
    state = workdir / ".opskit"
    for pattern in RUN_FILES:
        for path in state.glob(pattern):
            path.unlink(missing_ok=True)


class DemoLock:
    """An exclusive lock on the demo directory for the demo's lifetime."""

    def __init__(self, workdir: Path):
        self.path = workdir / LOCK_NAME
        self.handle: IO[str] | None = None

    def __enter__(self) -> DemoLock:
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise LocalAccountError(
                f"another demo is running in {self.path.parent}",
                f"process {holder} holds {self.path}",
                "wait for it to finish, or pass --workdir DIR to run a second one",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self.handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.seek(0)
            self.handle.truncate()
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None
