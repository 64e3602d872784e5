"""Deterministic bytecode for the Lambda runtime, compiled by the runtime's own Python.

/var/task is read-only on Lambda, so a zip without bytecode compiles every module it
imports on every cold start. Bytecode is only valid for the interpreter version
that wrote it (the magic number), so it is compiled with a python3.12 found on PATH
or among pyenv's installed versions (never with opskit's own interpreter unless it
is that version), with `--invalidation-mode unchecked-hash`: the .pyc records the
source hash instead of an mtime and the runtime loads it without checking the
source. PYTHONHASHSEED=0 fixes the order of set constants, and the recorded file
names are /var/task/... (where Lambda unpacks the zip), so the same sources give
the same bytes on every machine with the same interpreter release. When no such
interpreter is found the zip ships without bytecode, and the build says so.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from opskit import envvars
from opskit.packaging.zipper import ZipEntry, make_entry

TASK_ROOT = "/var/task"  # LAMBDA_TASK_ROOT: where the zip is unpacked
ENV_OVERRIDE = envvars.LAMBDA_PYTHON


@dataclass(frozen=True)
class Compiler:
    path: str
    version: str  # full release, e.g. 3.12.1 (part of the dependency cache key)
    tag: str  # cache tag, e.g. cpython-312


def _probe(path: str, minor: str) -> Compiler | None:
    try:
        proc = subprocess.run(
            [path, "-I", "-S", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3], sys.implementation.cache_tag)"],
            capture_output=True, text=True, timeout=20, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = proc.stdout.split()
    if proc.returncode != 0 or len(parts) != 2 or not parts[0].startswith(minor + "."):
        return None
    return Compiler(path, parts[0], parts[1])


def _release(path: str) -> tuple[int, ...]:
    name = Path(path).parents[1].name
    return tuple(int(p) for p in name.split(".") if p.isdigit())


@cache
def find_compiler(python_version: str) -> Compiler | None:
    """A CPython `python_version` interpreter: $OPSKIT_LAMBDA_PYTHON, PATH, then pyenv.

    pyenv's own binaries are tried before its shims on PATH: a shim is a shell script
    that may only say "command not found in the current version" (0.4 s a probe).
    """
    candidates = []
    if os.environ.get(ENV_OVERRIDE):
        candidates.append(os.environ[ENV_OVERRIDE])
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    shims = os.path.join(root, "shims")
    on_path = shutil.which(f"python{python_version}")
    if on_path and not on_path.startswith(shims):
        candidates.append(on_path)
    pattern = os.path.join(
        root, "versions", f"{python_version}.*", "bin", f"python{python_version}"
    )
    candidates += sorted(glob.glob(pattern), key=_release, reverse=True)
    if on_path and on_path.startswith(shims):
        candidates.append(on_path)
    for candidate in candidates:
        found = _probe(candidate, python_version)
        if found:
            return found
    return None


def compile_tree(root: Path, compiler: Compiler) -> None:
    """Write `__pycache__/*.pyc` next to every .py under `root`, as /var/task/<path>."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0"}
    # A file that does not compile (a py2-only example in some wheel) ships without
    # bytecode, as Python itself would treat it: compileall's exit status is not fatal.
    subprocess.run(
        [compiler.path, "-I", "-m", "compileall", "-q", "-j", "0",
         "--invalidation-mode", "unchecked-hash", "-s", str(root), "-p", TASK_ROOT, str(root)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip


def compile_entries(sources: dict[str, bytes], compiler: Compiler) -> list[ZipEntry]:
    """`__pycache__/*.pyc` entries for the .py files in `sources` (archive name -> bytes)."""
    py = {name: data for name, data in sources.items() if name.endswith(".py")}
    if not py:
        return []
    with tempfile.TemporaryDirectory(prefix=".opskit-pyc-") as tmp:
        root = Path(tmp)
        for name, data in py.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        compile_tree(root, compiler)
        return [
            make_entry(pyc.relative_to(root).as_posix(), pyc.read_bytes())
            for pyc in sorted(root.rglob("*.pyc"))
        ]
