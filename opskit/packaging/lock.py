"""`lambda-requirements.lock`: the Lambda dependencies pinned, with the hash of every wheel.

`opskit package --update-lock` resolves [tool.opskit].lambda-dependencies for the
Lambda runtime on both architectures (`pip download --only-binary=:all: --platform
manylinux... --python-version 3.12`), hashes every wheel it got and writes them in
pip's hash-checking format (`name==version --hash=sha256:...`). Builds then install
exactly that (`pip install --require-hashes --no-deps -r`), so the same lock gives
the same zip on every machine whatever the index serves today, and a tampered or
replaced wheel is refused. The lock records a hash of the specifiers it came from:
when pyproject.toml changes, the build says the lock is stale.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from opskit.errors import ConfigError
from opskit.packaging.deps import MACHINES, Target, normalize, pip_failure

LOCK_NAME = "lambda-requirements.lock"
_INPUTS = re.compile(r"^# inputs: ([0-9a-f]{64})$", re.MULTILINE)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")
_WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")


@dataclass(frozen=True)
class Lock:
    path: Path
    inputs: str  # sha256 of the specifiers it was resolved from
    pins: dict[str, tuple[str, tuple[str, ...]]]  # name -> (version, sha256 hashes)

    @property
    def text(self) -> str:
        return self.path.read_text()

    def key(self) -> str:
        """What the dependency cache is keyed by: the resolved versions and their hashes."""
        return hashlib.sha256(json.dumps(sorted(self.pins.items())).encode()).hexdigest()


def inputs_hash(requirements: list[str], python_version: str) -> str:
    payload = {"requirements": sorted(r.strip() for r in requirements), "python": python_version}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def lock_path(project_root: Path) -> Path:
    return Path(project_root) / LOCK_NAME


def read_lock(path: Path) -> Lock | None:
    if not path.is_file():
        return None
    text = path.read_text()
    inputs = _INPUTS.search(text)
    pins: dict[str, tuple[str, tuple[str, ...]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = _PIN.match(block.strip())
        if match:
            pins[normalize(match.group(1))] = (match.group(2), tuple(_HASH.findall(block)))
    if not inputs or not pins or any(not hashes for _, hashes in pins.values()):
        raise ConfigError(
            f"{path} is not a lock opskit wrote",
            "every pin needs --hash=sha256 entries and the file an `# inputs:` line",
            "run `opskit package --update-lock`",
        )
    return Lock(path, inputs.group(1), pins)


def require_current(lock: Lock, requirements: list[str], python_version: str) -> None:
    if lock.inputs != inputs_hash(requirements, python_version):
        raise ConfigError(
            f"{lock.path.name} is out of date",
            "[tool.opskit].lambda-dependencies changed since it was written",
            "run `opskit package --update-lock` and commit the new lock",
        )


def _download(requirements: list[str], target: Target, into: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "download",
        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        "--only-binary=:all:", "--implementation", "cp",
        "--python-version", target.python_version, "--dest", str(into),
    ]  # fmt: skip
    for platform in target.platforms():
        command += ["--platform", platform]
    proc = subprocess.run(
        command + requirements, capture_output=True, text=True, check=False, env=dict(os.environ)
    )
    if proc.returncode != 0:
        raise pip_failure(proc.stderr + proc.stdout, target)


def update_lock(project_root: Path, requirements: list[str], python_version: str) -> Lock:
    """Resolve for every Lambda architecture and write the lock; return it."""
    pins: dict[str, str] = {}
    hashes: dict[str, set[str]] = {}
    for architecture in sorted(MACHINES):
        target = Target(architecture, python_version)
        with tempfile.TemporaryDirectory(prefix=".opskit-lock-") as tmp:
            _download(requirements, target, Path(tmp))
            for wheel in sorted(Path(tmp).glob("*.whl")):
                match = _WHEEL.match(wheel.name)
                if not match:
                    continue
                name, version = normalize(match.group("name")), match.group("version")
                if pins.setdefault(name, version) != version:
                    raise ConfigError(
                        f"{name} resolves to {pins[name]} on one architecture and {version} on another",
                        "one lock serves both arm64 and x86_64",
                        f"pin {name} in [tool.opskit].lambda-dependencies",
                    )
                hashes.setdefault(name, set()).add(hashlib.sha256(wheel.read_bytes()).hexdigest())
    lines = [
        "# opskit Lambda dependency lock: written by `opskit package --update-lock`; commit it.",
        f"# Resolved for CPython {python_version} on manylinux "
        f"({', '.join(sorted(MACHINES))}); builds install exactly this, hashes checked.",
        f"# inputs: {inputs_hash(requirements, python_version)}",
    ]
    for name in sorted(pins):
        lines.append(f"{name}=={pins[name]} \\")
        ordered = sorted(hashes[name])
        lines += [
            f"    --hash=sha256:{h}" + (" \\" if i < len(ordered) - 1 else "")
            for i, h in enumerate(ordered)
        ]
    path = lock_path(project_root)
    path.write_text("\n".join(lines) + "\n")
    lock = read_lock(path)
    assert lock is not None
    return lock
