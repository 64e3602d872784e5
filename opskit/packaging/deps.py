"""The function's third-party dependencies: manylinux wheels installed by pip, cached.

No Docker: `pip install --only-binary=:all: --platform ... --implementation cp
--python-version X.Y --target DIR` picks wheels built for the Lambda runtime's
glibc and CPU whatever machine runs it. The installed tree, pruned and deflated,
is cached as a zip keyed by (requirements, architecture, Python version), so a
rebuild with unchanged requirements only re-zips the gateway's own sources.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from opskit.errors import ConfigError, NotFoundError, OpsError
from opskit.packaging.bytecode import Compiler, compile_tree
from opskit.packaging.zipper import ZipEntry, make_entry, read_entries, write_zip

# Bump when the way the tree is installed or pruned changes: old cache entries then miss.
CACHE_FORMAT = 2
CACHE_ENTRIES_KEPT = 4

# glibc of the Lambda runtime per Python version: python3.12+ run on Amazon Linux 2023
# (glibc 2.34), older ones on Amazon Linux 2 (glibc 2.26).
RUNTIME_GLIBC: dict[str, int] = {"3.9": 26, "3.10": 26, "3.11": 26, "3.12": 34, "3.13": 34}
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
# Legacy manylinux names and the glibc they stand for.
_LEGACY = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}

# Already on the Lambda Python runtime (boto3 and its dependency closure): dropped from
# the zip unless [tool.opskit].lambda-dependencies asks for them by name.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)
# Install-time files that carry nothing the function needs at runtime; RECORD also
# lists the console scripts with a shebang of this machine's interpreter.
DIST_INFO_NOISE = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})

_NOT_FOUND = re.compile(r"No matching distribution found for ([^\s]+)")
_NO_VERSION = re.compile(r"Could not find a version that satisfies the requirement ([^\s]+)")
_NETWORK = ("NewConnectionError", "Failed to establish a new connection", "Name or service not known", "Temporary failure in name resolution", "ConnectTimeout", "ProxyError")  # fmt: skip


@dataclass(frozen=True)
class Target:
    architecture: str  # Lambda's name: arm64 | x86_64
    python_version: str  # 3.12

    @property
    def machine(self) -> str:
        return MACHINES[self.architecture]

    @property
    def glibc_minor(self) -> int:
        return RUNTIME_GLIBC[self.python_version]

    def platforms(self) -> list[str]:
        """manylinux tags the runtime accepts, newest first (aarch64 wheels start at 2.17)."""
        lowest = 17 if self.machine == "aarch64" else 5
        tags = []
        for minor in range(self.glibc_minor, lowest - 1, -1):
            tags.append(f"manylinux_2_{minor}_{self.machine}")
            if minor in _LEGACY:
                tags.append(f"{_LEGACY[minor]}_{self.machine}")
        return tags

    def describe(self) -> str:
        return (
            f"CPython {self.python_version} on manylinux {self.machine} "
            f"(glibc <= 2.{self.glibc_minor}, the Lambda python{self.python_version} runtime)"
        )


def make_target(architecture: str, python_version: str) -> Target:
    if architecture not in MACHINES:
        raise ConfigError(
            f"unknown Lambda architecture '{architecture}'",
            "Lambda runs arm64 or x86_64",
            "set Architecture to arm64 or x86_64",
        )
    if python_version not in RUNTIME_GLIBC:
        raise ConfigError(
            f"unsupported Lambda Python version '{python_version}'",
            f"known runtimes: {', '.join(RUNTIME_GLIBC)}",
            "use 3.12 (the runtime the template deploys)",
        )
    return Target(architecture, python_version)


def normalize(name: str) -> str:
    """PEP 503 name normalisation: `Python_Dateutil` -> `python-dateutil`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return normalize(match.group(1)) if match else requirement.strip()


@dataclass(frozen=True)
class DependencyBundle:
    """The cached, pruned dependency tree of one (requirements, target)."""

    key: str
    entries: list[ZipEntry]
    distributions: tuple[str, ...]  # "name==version", sorted
    dropped: tuple[str, ...]  # runtime-provided distributions left out
    cache_hit: bool


def cache_key(
    requirements: list[str],
    target: Target,
    locked: str | None = None,
    bytecode: str | None = None,
) -> str:
    """Keyed by the resolved versions and hashes (`locked`) when there is a lock, and by the
    release of the interpreter that compiled the bytecode (None: no bytecode)."""
    payload = {
        "format": CACHE_FORMAT,
        "requirements": locked or sorted(r.strip() for r in requirements),
        "bytecode": bytecode,
        "architecture": target.architecture,
        "python": target.python_version,
        "platforms": target.platforms(),
        "runtime_provided": sorted(RUNTIME_PROVIDED),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def dependency_bundle(
    requirements: list[str],
    target: Target,
    cache_dir: Path,
    *,
    refresh: bool = False,
    lock_file: Path | None = None,
    locked: str | None = None,
    compiler: Compiler | None = None,
) -> DependencyBundle:
    """The dependencies' zip entries, from the cache or from a fresh `pip install`."""
    key = cache_key(requirements, target, locked, compiler.version if compiler else None)
    entry_dir = cache_dir / f"deps-py{target.python_version}-{target.architecture}-{key}"
    manifest_path, zip_path = entry_dir / "manifest.json", entry_dir / "deps.zip"
    if not refresh and manifest_path.is_file() and zip_path.is_file():
        cached = _read_cache_entry(entry_dir, key)
        if cached is not None:
            with contextlib.suppress(OSError):  # recently used: kept by _evict_old_entries
                os.utime(entry_dir)
            return cached
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
    try:
        tree = work / "site"
        pip_install(requirements, target, tree, lock_file=lock_file)
        keep = {requirement_name(r) for r in requirements}
        distributions, dropped = prune(tree, drop=RUNTIME_PROVIDED - keep)
        if compiler is not None:
            compile_tree(tree, compiler)
        entries = tree_entries(tree)
        staged = work / "entry"
        staged.mkdir()
        write_zip(staged / "deps.zip", entries)
        manifest = {
            "key": key,
            "requirements": requirements,
            "architecture": target.architecture,
            "python_version": target.python_version,
            "platforms": target.platforms(),
            "distributions": distributions,
            "dropped": dropped,
        }
        (staged / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if entry_dir.exists():
            shutil.rmtree(entry_dir)
        with contextlib.suppress(OSError):  # another build won the race: keep theirs
            staged.rename(entry_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _evict_old_entries(cache_dir)
    return DependencyBundle(key, entries, tuple(distributions), tuple(dropped), cache_hit=False)


def _read_cache_entry(entry_dir: Path, key: str) -> DependencyBundle | None:
    """A complete cache entry for `key`, or None (missing, partial or corrupt: rebuild)."""
    try:
        manifest = json.loads((entry_dir / "manifest.json").read_text())
        if manifest["key"] != key:
            return None
        return DependencyBundle(
            key,
            read_entries(entry_dir / "deps.zip"),
            tuple(manifest["distributions"]),
            tuple(manifest["dropped"]),
            cache_hit=True,
        )
    except (ValueError, KeyError, TypeError, OSError, struct.error, UnicodeDecodeError):
        return None


def pip_install(
    requirements: list[str], target: Target, into: Path, lock_file: Path | None = None
) -> None:
    """Install manylinux wheels for `target` into `into`; never builds from source.

    With `lock_file`, exactly its pins are installed and every wheel's hash is checked.
    """
    into.mkdir(parents=True, exist_ok=True)
    if lock_file is None and not requirements:
        return  # nothing to install (pip refuses an empty requirement list)
    for requirement in requirements:
        if not requirement.strip() or requirement.lstrip().startswith("-"):
            raise ConfigError(
                f"invalid lambda dependency {requirement!r}",
                "entries must be requirement specifiers like 'fastapi>=0.110'",
                "fix [tool.opskit].lambda-dependencies in pyproject.toml",
            )
    command = [
        sys.executable, "-m", "pip", "install",
        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        "--no-compile", "--no-warn-conflicts", "--no-warn-script-location",
        "--only-binary=:all:", "--implementation", "cp",
        "--python-version", target.python_version,
        "--target", str(into),
    ]  # fmt: skip
    for platform in target.platforms():
        command += ["--platform", platform]
    if lock_file is not None:
        command += ["--require-hashes", "--no-deps", "-r", str(lock_file)]
    else:
        command += requirements
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    except OSError as exc:
        raise OpsError("cannot run pip", str(exc), "install pip in opskit's environment") from None
    if proc.returncode != 0:
        raise pip_failure(proc.stderr + proc.stdout, target)


def pip_failure(output: str, target: Target) -> OpsError:
    """Turn pip's output into one actionable error."""
    missing = _NOT_FOUND.search(output) or _NO_VERSION.search(output)
    if any(marker in output for marker in _NETWORK):
        return OpsError(
            "cannot download the Lambda dependencies",
            "pip could not reach the package index",
            "check the network or proxy (PIP_INDEX_URL / PIP_PROXY), then retry",
        )
    if missing:
        name = requirement_name(missing.group(1).rstrip(")"))
        return NotFoundError(
            f"no wheel for '{name}' for {target.describe()}",
            "Lambda zips are built from binary wheels only (no Docker, no compiler)",
            f"pick a version of {name} that publishes manylinux {target.machine} wheels, "
            "or remove it from [tool.opskit].lambda-dependencies",
        )
    if "No module named pip" in output:
        return OpsError("cannot run pip", "pip is not installed", "install pip next to opskit")
    errors = [line.strip() for line in output.splitlines() if line.strip().startswith("ERROR")]
    detail = errors[-1] if errors else (output.strip().splitlines() or ["no output"])[-1]
    return OpsError(
        "pip could not install the Lambda dependencies",
        detail[:300],
        "fix [tool.opskit].lambda-dependencies in pyproject.toml",
    )


def prune(tree: Path, drop: frozenset[str] | set[str]) -> tuple[list[str], list[str]]:
    """Remove runtime-provided distributions, scripts, bytecode and install records.

    Returns the kept distributions ("name==version") and the dropped ones, sorted.
    """
    kept, dropped = [], []
    for info in sorted(tree.glob("*.dist-info")):
        name, version = _name_version(info)
        if normalize(name) in drop:
            for relative in _record_paths(info):
                path = (tree / relative).resolve()
                if path.is_relative_to(tree.resolve()) and path.is_file():
                    path.unlink()
            shutil.rmtree(info, ignore_errors=True)
            dropped.append(f"{normalize(name)}=={version}")
        else:
            for noise in DIST_INFO_NOISE:
                (info / noise).unlink(missing_ok=True)
            kept.append(f"{normalize(name)}=={version}")
    shutil.rmtree(tree / "bin", ignore_errors=True)
    for directory, _subdirs, files in os.walk(tree, topdown=False):
        here = Path(directory)
        if here.name == "__pycache__":
            shutil.rmtree(here, ignore_errors=True)
            continue
        for name in files:
            if name.endswith((".pyc", ".pyo")):
                (here / name).unlink(missing_ok=True)
        if here != tree:
            with contextlib.suppress(OSError):
                here.rmdir()  # only succeeds when empty
    return sorted(kept), sorted(dropped)


def _name_version(info: Path) -> tuple[str, str]:
    name = version = ""
    metadata = info / "METADATA"
    if metadata.is_file():
        for line in metadata.read_text(errors="replace").splitlines():
            if not line:
                break
            if line.startswith("Name:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("Version:"):
                version = line.split(":", 1)[1].strip()
    if not name:
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
    return name, version


def _record_paths(info: Path) -> list[str]:
    record = info / "RECORD"
    if not record.is_file():
        return []
    return [line.split(",", 1)[0] for line in record.read_text().splitlines() if line]


def tree_entries(tree: Path) -> list[ZipEntry]:
    """Deflate every file of `tree` (in parallel: zlib releases the GIL)."""
    files = sorted(p for p in tree.rglob("*") if p.is_file())

    def entry(path: Path) -> ZipEntry:
        return make_entry(path.relative_to(tree).as_posix(), path.read_bytes())

    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        return list(pool.map(entry, files))


def _evict_old_entries(cache_dir: Path) -> None:
    entries = sorted(cache_dir.glob("deps-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[CACHE_ENTRIES_KEPT:]:
        shutil.rmtree(stale, ignore_errors=True)
