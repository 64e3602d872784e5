"""Build the gateway's Lambda zip: cached dependencies + gateway/ sources, deterministic."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from opskit.errors import CheckFailed, ConfigError, NotFoundError
from opskit.packaging.bytecode import ENV_OVERRIDE, compile_entries, find_compiler
from opskit.packaging.deps import DependencyBundle, dependency_bundle, make_target, normalize
from opskit.packaging.lock import LOCK_NAME, lock_path, read_lock, require_current
from opskit.packaging.zipper import ZipEntry, make_entry, write_zip

MAX_ZIPPED = 50 * 1024 * 1024  # Lambda: 50 MB zipped
MAX_UNZIPPED = 250 * 1024 * 1024  # Lambda: 250 MB unzipped, layers included
SOURCE_PACKAGE = "gateway"
HANDLER_FILE = "handler.py"
# Never in the function: the CLI side of the project and its tooling.
FORBIDDEN = frozenset({"opskit", "click", "rich", "moto", "duckdb", "boto3"})
_SKIPPED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo", ".swp"})


@dataclass(frozen=True)
class PackageResult:
    path: Path
    sha256: str
    size_zipped: int
    size_unzipped: int
    files: tuple[str, ...]  # archive entry names, sorted
    architecture: str = "arm64"
    python_version: str = "3.12"
    distributions: tuple[str, ...] = ()  # bundled third-party distributions, "name==version"
    cache_hit: bool = False  # dependencies came from the cache (no pip run)
    bytecode: str | None = None  # release of the interpreter that compiled it; None: no .pyc
    locked: bool = False  # installed from lambda-requirements.lock (hashes checked)
    notes: tuple[str, ...] = ()  # what the user should know (no lock, no bytecode)


def default_cache_dir(project_root: Path) -> Path:
    return project_root / ".opskit" / "cache" / "lambda-deps"


def build_package(
    project_root: Path,
    out_dir: Path,
    *,
    architecture: str = "arm64",
    python_version: str = "3.12",
    cache_dir: Path | None = None,
    refresh: bool = False,
    bytecode: bool = True,
) -> PackageResult:
    """Build `out_dir/gateway-<architecture>.zip` for the Lambda runtime.

    Only `[tool.opskit].lambda-dependencies` (as manylinux wheels) and `gateway/` go in;
    the same inputs give the same bytes. `refresh` re-resolves the dependencies instead
    of reusing the cached tree (to pick up new releases).
    """
    project_root = Path(project_root)
    target = make_target(architecture, python_version)
    requirements = lambda_dependencies(project_root)
    sources = source_entries(project_root)
    notes: list[str] = []
    lock = read_lock(lock_path(project_root))
    if lock is not None:
        require_current(lock, requirements, python_version)
    else:
        notes.append(
            f"no {LOCK_NAME}: dependencies resolved from specifiers (run "
            "`opskit package --update-lock` and commit the lock for reproducible builds)"
        )
    compiler = find_compiler(python_version) if bytecode else None
    if bytecode and compiler is None:
        notes.append(
            f"no python{python_version} found (PATH, pyenv, ${ENV_OVERRIDE}): the zip ships "
            "without bytecode, so every cold start compiles its imports"
        )
    bundle = dependency_bundle(
        requirements,
        target,
        cache_dir if cache_dir is not None else default_cache_dir(project_root),
        refresh=refresh,
        lock_file=lock.path if lock else None,
        locked=lock.key() if lock else None,
        compiler=compiler,
    )
    check_contents(bundle)
    entries = [*bundle.entries, *sources]
    if compiler is not None:
        entries += compile_entries(
            {e.name: source_bytes(project_root, e.name) for e in sources}, compiler
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"gateway-{architecture}.zip"
    size_unzipped = sum(entry.size for entry in entries)
    if size_unzipped > MAX_UNZIPPED:
        raise too_big("unzipped", size_unzipped, MAX_UNZIPPED, bundle)
    sha256 = write_zip(path, entries)
    size_zipped = path.stat().st_size
    if size_zipped > MAX_ZIPPED:
        path.unlink()
        raise too_big("zipped", size_zipped, MAX_ZIPPED, bundle)
    return PackageResult(
        path=path,
        sha256=sha256,
        size_zipped=size_zipped,
        size_unzipped=size_unzipped,
        files=tuple(sorted(entry.name for entry in entries)),
        architecture=architecture,
        python_version=python_version,
        distributions=bundle.distributions,
        cache_hit=bundle.cache_hit,
        bytecode=compiler.version if compiler else None,
        locked=lock is not None,
        notes=tuple(notes),
    )


def source_bytes(project_root: Path, name: str) -> bytes:
    return (project_root / name).read_bytes()


def lambda_dependencies(project_root: Path) -> list[str]:
    """`[tool.opskit].lambda-dependencies` from the project's pyproject.toml."""
    pyproject = project_root / "pyproject.toml"
    if not pyproject.is_file():
        raise NotFoundError(
            f"no pyproject.toml in {project_root}",
            "the Lambda dependencies are listed in [tool.opskit].lambda-dependencies",
            "run opskit from the project root",
        )
    try:
        data = tomllib.loads(pyproject.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot read {pyproject}", str(exc), "fix the TOML syntax") from None
    deps = data.get("tool", {}).get("opskit", {}).get("lambda-dependencies")
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise ConfigError(
            f"{pyproject} has no [tool.opskit].lambda-dependencies list",
            "opskit packages only the gateway's runtime dependencies",
            'add lambda-dependencies = ["fastapi>=0.110", ...] under [tool.opskit]',
        )
    return deps


def source_entries(project_root: Path) -> list[ZipEntry]:
    """The gateway package's files (no bytecode, caches or hidden files), deflated."""
    package = project_root / SOURCE_PACKAGE
    if not (package / HANDLER_FILE).is_file():
        raise NotFoundError(
            f"no {SOURCE_PACKAGE}/{HANDLER_FILE} in {project_root}",
            "the function's handler is gateway.handler.handler",
            "run opskit from the project root",
        )
    entries = []
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(project_root)
        if not path.is_file() or path.suffix in _SKIPPED_SUFFIXES:
            continue
        if any(part in _SKIPPED_DIRS or part.startswith(".") for part in relative.parts):
            continue
        entries.append(make_entry(relative.as_posix(), path.read_bytes()))
    return entries


def check_contents(bundle: DependencyBundle) -> None:
    names = {normalize(d.split("==", 1)[0]) for d in bundle.distributions}
    forbidden = sorted(names & FORBIDDEN)
    if forbidden:
        raise CheckFailed(
            f"the Lambda package would contain {', '.join(forbidden)}",
            "a lambda dependency pulls in the CLI's own tooling",
            "remove the dependency that needs it from [tool.opskit].lambda-dependencies",
        )
    clash = [e.name for e in bundle.entries if e.name.split("/", 1)[0] == SOURCE_PACKAGE]
    if clash:
        raise CheckFailed(
            f"a dependency installs a top-level '{SOURCE_PACKAGE}' package ({clash[0]})",
            "it would overwrite the gateway's own sources in the zip",
            "remove that dependency from [tool.opskit].lambda-dependencies",
        )


def too_big(kind: str, size: int, limit: int, bundle: DependencyBundle) -> CheckFailed:
    return CheckFailed(
        f"the Lambda package is {size / 1e6:.1f} MB {kind}",
        f"Lambda accepts at most {limit / 1024 / 1024:.0f} MB {kind}",
        f"trim [tool.opskit].lambda-dependencies ({len(bundle.distributions)} distributions bundled)",
    )
