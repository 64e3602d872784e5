"""opskit.packaging: Docker-free, deterministic Lambda zips.

One real build against the package index (session-scoped; pip's own cache makes it
quick after the first run). Everything else runs pip offline (`PIP_NO_INDEX` +
`PIP_FIND_LINKS`) against small wheels made here, or reuses the session's cache.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import shutil
import struct
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from opskit.cli import cli
from opskit.errors import (
    EXIT_CHECK_FAILED,
    EXIT_NOT_FOUND,
    CheckFailed,
    ConfigError,
    NotFoundError,
    OpsError,
)
from opskit.packaging import MAX_UNZIPPED, MAX_ZIPPED, build_package, default_cache_dir
from opskit.packaging import build as build_module
from opskit.packaging.deps import Target, cache_key, make_target, pip_failure
from opskit.packaging.zipper import DEFLATED, STORED, make_entry, read_entries, write_zip

REPO = Path(__file__).resolve().parents[2]
ELF_MACHINE = {"aarch64": 183, "x86_64": 62}


def make_project(root: Path, requirements: list[str] | None = None) -> Path:
    """A project with a gateway package and, by default, the repo's lambda-dependencies."""
    root.mkdir(parents=True, exist_ok=True)
    if requirements is None:
        shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    else:
        deps = ", ".join(json.dumps(r) for r in requirements)
        (root / "pyproject.toml").write_text(f"[tool.opskit]\nlambda-dependencies = [{deps}]\n")
    (root / "opskit.toml").write_text('[env.dev]\nstack_name = "pkg-test"\n')
    gateway = root / "gateway"
    (gateway / "routes").mkdir(parents=True, exist_ok=True)
    (gateway / "__init__.py").write_text("")
    (gateway / "handler.py").write_text("def handler(event, context):\n    return {}\n")
    (gateway / "routes" / "health.py").write_text("LIVE = {'status': 'ok'}\n")
    (gateway / "__pycache__").mkdir(exist_ok=True)
    (gateway / "__pycache__" / "handler.cpython-312.pyc").write_bytes(b"\x00bytecode")
    (gateway / "stray.pyc").write_bytes(b"\x00bytecode")
    (gateway / ".env").write_text("SECRET=do-not-ship\n")
    return root


def make_wheel(
    directory: Path, name: str, tag: str, requires: list[str] | None = None, version: str = "1.0"
) -> Path:
    """A minimal valid wheel for `name` (1.0 by default) with the given compatibility tag."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VALUE = {version!r}\n".encode(),
        f"{dist}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires or [])
        ).encode(),
        f"{dist}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: {tag}\n".encode(),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = directory / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, data in files.items():
            wheel.writestr(member, data)
    return path


@pytest.fixture
def offline_index(tmp_path, monkeypatch) -> Path:
    """pip sees only the wheels in this directory (no network)."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    return wheels


@pytest.fixture(scope="session")
def real_build(tmp_path_factory):
    """One real build of the repo's lambda-dependencies for arm64 (network: the index)."""
    project = make_project(tmp_path_factory.mktemp("pkg") / "project")
    result = build_package(project, project / "dist")
    return project, result


# ------------------------------------------------------------------ the real build


def test_real_build_contents(real_build):
    _, result = real_build
    names = set(result.files)
    assert "gateway/handler.py" in names
    assert "gateway/routes/health.py" in names
    # Bytecode: only what the build compiled, next to its source (never the stray
    # .pyc files of the working tree, never optimised .pyo).
    pyc = [n for n in names if n.endswith((".pyc", ".pyo"))]
    assert "gateway/stray.pyc" not in names
    for name in pyc:
        directory, _, file = name.rpartition("__pycache__/")
        assert file.endswith(".cpython-312.pyc"), name
        assert f"{directory}{file.split('.')[0]}.py" in names, name
    if result.bytecode:
        with zipfile.ZipFile(result.path) as archive:
            assert archive.read("gateway/__pycache__/handler.cpython-312.pyc") != b"\x00bytecode"
    assert "gateway/.env" not in names  # no hidden files from the sources
    tops = {n.split("/", 1)[0] for n in names}
    for forbidden in ("opskit", "click", "rich", "moto", "boto3", "botocore", "duckdb", "bin"):
        assert forbidden not in tops
    assert {"fastapi", "mangum", "jwt", "structlog", "aws_xray_sdk"} <= tops
    assert "aiohttp" not in tops  # the gateway has its own HTTP client (gateway/http_client.py)
    assert not [n for n in names if n.endswith(".dist-info/RECORD")]
    dists = {d.split("==")[0] for d in result.distributions}
    assert {"fastapi", "mangum", "pyjwt", "cryptography"} <= dists
    assert "botocore" not in dists and "urllib3" not in dists


def test_real_build_is_a_valid_deterministic_zip(real_build):
    _, result = real_build
    with zipfile.ZipFile(result.path) as archive:
        assert archive.testzip() is None
        infos = archive.infolist()
        assert [i.filename for i in infos] == sorted(i.filename for i in infos)
        assert [i.filename for i in infos] == list(result.files)
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 for i in infos} == {0o100644}
        assert sum(i.file_size for i in infos) == result.size_unzipped
        assert archive.read("gateway/handler.py").startswith(b"def handler")
    data = result.path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == result.sha256
    assert len(data) == result.size_zipped
    assert 0 < result.size_zipped < MAX_ZIPPED
    assert 0 < result.size_unzipped < MAX_UNZIPPED


def test_real_build_targets_lambda_arm64(real_build):
    """Native code is aarch64 ELF, and every wheel fits the python3.12 runtime's glibc 2.34."""
    _, result = real_build
    with zipfile.ZipFile(result.path) as archive:
        shared = [n for n in result.files if n.endswith(".so")]
        assert shared  # cryptography, pydantic-core ...
        for name in shared:
            header = archive.read(name)[:20]
            assert header[:4] == b"\x7fELF"
            assert struct.unpack_from("<H", header, 18)[0] == ELF_MACHINE["aarch64"], name
        for name in (n for n in result.files if n.endswith(".dist-info/WHEEL")):
            tags = [
                line.split(":", 1)[1].strip()
                for line in archive.read(name).decode().splitlines()
                if line.startswith("Tag:")
            ]
            for tag in tags:
                python, abi, platform = tag.split("-")
                assert platform == "any" or platform.endswith("aarch64"), (name, tag)
                assert "musllinux" not in platform
                if platform.startswith("manylinux_2_"):
                    assert int(platform.split("_")[2]) <= 34, (name, tag)
                assert abi in {"none", "abi3", "cp312"}, (name, tag)


def test_rebuild_is_deterministic_and_uses_the_cache(real_build, tmp_path):
    project, first = real_build
    # new mtimes and modes on the sources, another output directory: same bytes
    for path in (project / "gateway").rglob("*.py"):
        os.utime(path, (1_900_000_000, 1_900_000_000))
        path.chmod(0o600)
    again = build_package(project, tmp_path / "out")
    assert again.cache_hit is True
    assert again.sha256 == first.sha256
    assert again.path.read_bytes() == first.path.read_bytes()
    # a source change changes the hash; reverting it restores the original bytes
    handler = project / "gateway" / "handler.py"
    original = handler.read_text()
    handler.write_text(original + "# changed\n")
    try:
        changed = build_package(project, tmp_path / "out")
        assert changed.sha256 != first.sha256
    finally:
        handler.write_text(original)
    assert build_package(project, tmp_path / "out").sha256 == first.sha256


def test_size_limits_are_enforced(real_build, tmp_path, monkeypatch):
    project, result = real_build
    monkeypatch.setattr(build_module, "MAX_UNZIPPED", result.size_unzipped - 1)
    with pytest.raises(CheckFailed, match=r"MB unzipped"):
        build_package(project, tmp_path / "a")
    monkeypatch.setattr(build_module, "MAX_UNZIPPED", MAX_UNZIPPED)
    monkeypatch.setattr(build_module, "MAX_ZIPPED", result.size_zipped - 1)
    with pytest.raises(CheckFailed, match=r"MB zipped.*at most") as info:
        build_package(project, tmp_path / "b")
    assert info.value.exit_code == EXIT_CHECK_FAILED
    assert not (tmp_path / "b" / "gateway-arm64.zip").exists()


def test_cli_package_prints_size_and_hash(real_build, monkeypatch, tmp_path):
    project, result = real_build
    monkeypatch.setenv("OPSKIT_CONFIG", str(project / "opskit.toml"))
    runner = CliRunner()
    table = runner.invoke(cli, ["--env", "dev", "package"])
    assert table.exit_code == 0, table.output
    assert f"Built {project / 'dist' / 'gateway-arm64.zip'}" in table.output
    assert f"  sha256  {result.sha256}\n" in table.output
    assert f"  size    {result.size_zipped / 1024 / 1024:.2f} MB zipped" in table.output
    assert "(from cache)" in table.output
    as_json = runner.invoke(
        cli, ["--env", "dev", "--output", "json", "package", "--out", str(tmp_path)]
    )
    assert as_json.exit_code == 0, as_json.output
    (row,) = json.loads(as_json.stdout)  # notes and progress lines go to stderr
    assert row["sha256"] == result.sha256
    assert row["path"] == str(tmp_path / "gateway-arm64.zip")
    assert row["files"] == len(result.files)
    assert row["dependencies"] == "cached"
    assert row["size_mb"] == round(result.size_zipped / 1024 / 1024, 2)


def test_cli_package_without_a_gateway_is_one_line_error(tmp_path, monkeypatch):
    (tmp_path / "opskit.toml").write_text('[env.dev]\nstack_name = "x"\n')
    (tmp_path / "pyproject.toml").write_text('[tool.opskit]\nlambda-dependencies = ["mangum"]\n')
    monkeypatch.setenv("OPSKIT_CONFIG", str(tmp_path / "opskit.toml"))
    result = CliRunner().invoke(cli, ["--env", "dev", "package"])
    assert result.exit_code == EXIT_NOT_FOUND
    assert result.output == (
        f"Error: no gateway/handler.py in {tmp_path}: the function's handler is "
        "gateway.handler.handler (run opskit from the project root)\n"
    )


# ------------------------------------------------------------------ offline pip runs


def test_missing_wheel_names_package_and_platform(tmp_path, offline_index):
    make_wheel(offline_index, "fakepkg", "cp312-cp312-manylinux_2_17_x86_64")
    make_wheel(offline_index, "newglibc", "cp312-cp312-manylinux_2_39_aarch64")
    project = make_project(tmp_path / "p", ["fakepkg>=1.0"])
    with pytest.raises(NotFoundError) as info:
        build_package(project, tmp_path / "out", cache_dir=tmp_path / "cache")
    message = info.value.format_message()
    assert "no wheel for 'fakepkg'" in message
    assert "manylinux aarch64" in message and "glibc <= 2.34" in message
    assert info.value.exit_code == EXIT_NOT_FOUND
    # a wheel for a newer glibc than the runtime's is not usable either
    project = make_project(tmp_path / "q", ["newglibc"])
    with pytest.raises(NotFoundError, match="no wheel for 'newglibc'"):
        build_package(project, tmp_path / "out", cache_dir=tmp_path / "cache")


def test_offline_build_picks_the_arch_and_drops_runtime_provided(tmp_path, offline_index):
    make_wheel(offline_index, "fakepkg", "cp312-cp312-manylinux_2_17_x86_64", ["botocore"])
    make_wheel(offline_index, "botocore", "py3-none-any")
    project = make_project(tmp_path / "p", ["fakepkg"])
    result = build_package(
        project, tmp_path / "out", architecture="x86_64", cache_dir=tmp_path / "cache"
    )
    assert result.path.name == "gateway-x86_64.zip"
    assert result.distributions == ("fakepkg==1.0",)
    assert "fakepkg/__init__.py" in result.files
    assert not [n for n in result.files if n.startswith("botocore")]
    assert "fakepkg-1.0.dist-info/METADATA" in result.files
    assert "fakepkg-1.0.dist-info/RECORD" not in result.files
    assert result.cache_hit is False
    manifest = next((tmp_path / "cache").glob("deps-py3.12-x86_64-*/manifest.json"))
    assert json.loads(manifest.read_text())["dropped"] == ["botocore==1.0"]
    # asked for by name, a runtime-provided distribution is kept
    project = make_project(tmp_path / "q", ["fakepkg", "botocore"])
    kept = build_package(
        project, tmp_path / "out", architecture="x86_64", cache_dir=tmp_path / "c2"
    )
    assert "botocore/__init__.py" in kept.files


def test_cache_is_keyed_by_dependencies_and_architecture(tmp_path, offline_index):
    make_wheel(offline_index, "purepkg", "py3-none-any")
    make_wheel(offline_index, "otherpkg", "py3-none-any")
    cache = tmp_path / "cache"
    project = make_project(tmp_path / "p", ["purepkg"])
    first = build_package(project, tmp_path / "out", cache_dir=cache)
    assert first.cache_hit is False
    assert build_package(project, tmp_path / "out", cache_dir=cache).cache_hit is True
    x86 = build_package(project, tmp_path / "out", architecture="x86_64", cache_dir=cache)
    assert x86.cache_hit is False
    assert x86.sha256 == first.sha256  # pure Python: same bytes on both architectures
    project = make_project(tmp_path / "p", ["purepkg", "otherpkg"])
    changed = build_package(project, tmp_path / "out", cache_dir=cache)
    assert changed.cache_hit is False
    assert "otherpkg/__init__.py" in changed.files
    assert len(list(cache.glob("deps-*"))) == 3
    # --refresh re-resolves; the same wheels give the same bytes
    refreshed = build_package(project, tmp_path / "out", cache_dir=cache, refresh=True)
    assert refreshed.cache_hit is False and refreshed.sha256 == changed.sha256
    # a corrupt cache entry (interrupted copy, disk trouble) is rebuilt, not trusted
    from opskit.packaging.bytecode import find_compiler

    compiler = find_compiler("3.12")
    key = cache_key(
        ["purepkg", "otherpkg"], make_target("arm64", "3.12"), None, compiler and compiler.version
    )
    entry = cache / f"deps-py3.12-arm64-{key}"
    (entry / "deps.zip").write_bytes((entry / "deps.zip").read_bytes()[:100])
    rebuilt = build_package(project, tmp_path / "out", cache_dir=cache)
    assert rebuilt.cache_hit is False and rebuilt.sha256 == changed.sha256
    # the default cache lives in the project's .opskit directory
    assert default_cache_dir(project) == project / ".opskit" / "cache" / "lambda-deps"


def test_cli_tooling_never_ships(tmp_path, offline_index):
    make_wheel(offline_index, "click", "py3-none-any")
    make_wheel(offline_index, "needsclick", "py3-none-any", ["click"])
    project = make_project(tmp_path / "p", ["needsclick"])
    with pytest.raises(CheckFailed, match="would contain click"):
        build_package(project, tmp_path / "out", cache_dir=tmp_path / "cache")


# ------------------------------------------------------------------ inputs and errors


def test_bad_inputs_are_config_errors(tmp_path):
    project = make_project(tmp_path / "p", ["mangum"])
    with pytest.raises(ConfigError, match="unknown Lambda architecture 'arm'"):
        build_package(project, tmp_path / "out", architecture="arm")
    with pytest.raises(ConfigError, match="unsupported Lambda Python version '2.7'"):
        build_package(project, tmp_path / "out", python_version="2.7")
    (project / "pyproject.toml").write_text("[tool.opskit]\n")
    with pytest.raises(ConfigError, match="no \\[tool.opskit\\].lambda-dependencies"):
        build_package(project, tmp_path / "out")
    (project / "pyproject.toml").write_text("[tool.opskit\n")
    with pytest.raises(ConfigError, match="fix the TOML syntax"):
        build_package(project, tmp_path / "out")
    (project / "pyproject.toml").unlink()
    with pytest.raises(NotFoundError, match="no pyproject.toml"):
        build_package(project, tmp_path / "out")
    (project / "pyproject.toml").write_text(
        '[tool.opskit]\nlambda-dependencies = ["--index-url=x"]\n'
    )
    with pytest.raises(ConfigError, match="invalid lambda dependency"):
        build_package(project, tmp_path / "out", cache_dir=tmp_path / "cache")


def test_platform_tags_follow_the_runtime():
    arm = make_target("arm64", "3.12").platforms()
    assert arm[0] == "manylinux_2_34_aarch64"
    assert arm[-2:] == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]
    assert not [t for t in arm if "x86_64" in t]
    x86 = Target("x86_64", "3.11").platforms()  # Amazon Linux 2: glibc 2.26
    assert x86[0] == "manylinux_2_26_x86_64"
    assert "manylinux2010_x86_64" in x86 and x86[-1] == "manylinux1_x86_64"


def test_pip_failures_become_one_actionable_error():
    target = make_target("arm64", "3.12")
    network = pip_failure(
        "WARNING: Retrying ... NewConnectionError('... Failed to establish a new connection')\n"
        "ERROR: Could not find a version that satisfies the requirement fastapi (from versions: none)\n",
        target,
    )
    assert type(network) is OpsError and "package index" in network.format_message()
    conflict = pip_failure(
        "ERROR: Cannot install a and b because these package versions have conflicting dependencies.\n"
        "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io\n",
        target,
    )
    assert "ResolutionImpossible" in conflict.format_message()
    missing = pip_failure("ERROR: No matching distribution found for Some_Pkg>=2\n", target)
    assert isinstance(missing, NotFoundError) and "'some-pkg'" in missing.format_message()


# ------------------------------------------------------------------ the zip writer


def test_zip_writer_round_trip_and_determinism(tmp_path):
    entries = [
        make_entry("b/data.txt", b"hello " * 100),
        make_entry("a.py", b"x = 1\n"),
        make_entry("empty", b""),
        make_entry("ünïcode.txt", "ü".encode()),
    ]
    sha = write_zip(tmp_path / "one.zip", entries)
    assert write_zip(tmp_path / "two.zip", list(reversed(entries))) == sha
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    assert {e.name: e.method for e in entries}["b/data.txt"] == DEFLATED
    assert {e.name: e.method for e in entries}["empty"] == STORED
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        assert archive.namelist() == ["a.py", "b/data.txt", "empty", "ünïcode.txt"]
        assert archive.read("b/data.txt") == b"hello " * 100
        assert archive.read("ünïcode.txt") == "ü".encode()
        assert archive.testzip() is None
    copied = read_entries(tmp_path / "one.zip")
    assert sorted(copied, key=lambda e: e.name) == sorted(entries, key=lambda e: e.name)
    with pytest.raises(ValueError, match="duplicate archive entries: a.py"):
        write_zip(tmp_path / "dup.zip", [*entries, make_entry("a.py", b"y")])


# ------------------------------------------------------------------ the real gateway

# Importable on the Lambda python3.12 runtime without being in the zip.
LAMBDA_RUNTIME_MODULES = {
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "six",
    "urllib3",
}


# gateway/ modules Lambda never imports: serve.py runs the app under uvicorn on a developer machine.
LOCAL_ONLY = {"serve.py"}


def gateway_imports() -> set[str]:
    """Top-level modules the repo's gateway/ imports, including lazy imports."""
    found = set()
    for path in (REPO / "gateway").rglob("*.py"):
        if path.name in LOCAL_ONLY:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_the_zip_provides_every_gateway_import(real_build):
    """Each third-party module gateway/ imports is in the zip or on the Lambda runtime."""
    _, result = real_build
    bundled = {name.split("/", 1)[0].removesuffix(".py") for name in result.files}
    bundled |= {name.split(".", 1)[0] for name in bundled}  # _cffi_backend.cpython-312-...so
    third_party = gateway_imports() - set(sys.stdlib_module_names) - {"gateway", "__future__"}
    assert third_party, "the gateway imports third-party packages"
    missing = sorted(third_party - bundled - LAMBDA_RUNTIME_MODULES)
    assert missing == [], f"add {missing} to [tool.opskit].lambda-dependencies"


# ------------------------------------------------------------------ lock and bytecode


def test_lock_pins_hashes_and_keeps_builds_identical_across_releases(tmp_path, offline_index):
    from opskit.packaging.lock import LOCK_NAME, update_lock

    wheel = make_wheel(offline_index, "purepkg", "py3-none-any")
    project = make_project(tmp_path / "p", ["purepkg>=1.0"])
    lock = update_lock(project, ["purepkg>=1.0"], "3.12")
    text = (project / LOCK_NAME).read_text()
    assert (
        f"purepkg==1.0 \\\n    --hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}\n"
        in text
    )
    assert lock.pins == {"purepkg": ("1.0", (hashlib.sha256(wheel.read_bytes()).hexdigest(),))}
    first = build_package(project, tmp_path / "a", cache_dir=tmp_path / "cache-a")
    assert first.locked and not first.cache_hit
    # A new release appears and every cache is cold: the lock still gives the same bytes.
    make_wheel(offline_index, "purepkg", "py3-none-any", version="2.0")
    second = build_package(project, tmp_path / "b", cache_dir=tmp_path / "cache-b")
    assert second.sha256 == first.sha256
    # Without the lock the specifier picks the new release: what the lock prevents.
    (project / LOCK_NAME).unlink()
    unlocked = build_package(project, tmp_path / "c", cache_dir=tmp_path / "cache-c")
    assert unlocked.sha256 != first.sha256
    assert "no lambda-requirements.lock" in unlocked.notes[0]


def test_a_replaced_wheel_is_refused_and_a_stale_lock_is_reported(tmp_path, offline_index):
    from opskit.packaging.lock import update_lock

    make_wheel(offline_index, "purepkg", "py3-none-any")
    project = make_project(tmp_path / "p", ["purepkg"])
    update_lock(project, ["purepkg"], "3.12")
    # Same name and version, other bytes (a compromised mirror): pip's hash check refuses it.
    (offline_index / "purepkg-1.0-py3-none-any.whl").unlink()
    make_wheel(offline_index, "purepkg", "py3-none-any", requires=["nothing-else"])
    with pytest.raises(OpsError, match="(?i)hash"):
        build_package(project, tmp_path / "out", cache_dir=tmp_path / "cache")
    (project / "pyproject.toml").write_text('[tool.opskit]\nlambda-dependencies = ["purepkg>=1"]\n')
    with pytest.raises(ConfigError, match="lambda-requirements.lock is out of date"):
        build_package(project, tmp_path / "out", cache_dir=tmp_path / "cache")


def _runtime_python():
    from opskit.packaging.bytecode import find_compiler

    compiler = find_compiler("3.12")
    if compiler is None:
        pytest.skip("no python3.12 on this machine (PATH or pyenv)")
    return compiler


def test_bytecode_is_compiled_by_the_runtime_python_unchecked_and_deterministic(tmp_path):
    import subprocess

    compiler = _runtime_python()
    project = make_project(tmp_path / "p", [])
    one = build_package(project, tmp_path / "a", cache_dir=tmp_path / "c1")
    two = build_package(project, tmp_path / "b", cache_dir=tmp_path / "c2")
    assert one.bytecode == compiler.version and one.sha256 == two.sha256
    name = "gateway/__pycache__/handler.cpython-312.pyc"
    assert name in one.files
    with zipfile.ZipFile(one.path) as archive:
        pyc = archive.read(name)
    # The oracle is the runtime interpreter itself: its magic number, PEP 552 flags
    # (1 = hash-based, unchecked) and the source hash importlib would compute.
    check = (
        "import importlib.util, marshal, sys; d = open(sys.argv[1], 'rb').read(); "
        "src = open(sys.argv[2], 'rb').read(); "
        "print(d[:4] == importlib.util.MAGIC_NUMBER, int.from_bytes(d[4:8], 'little'), "
        "d[8:16] == importlib.util.source_hash(src), marshal.loads(d[16:]).co_filename)"
    )
    (tmp_path / "h.pyc").write_bytes(pyc)
    out = subprocess.run(
        [compiler.path, "-c", check, str(tmp_path / "h.pyc"), str(project / "gateway" / "handler.py")],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert out == ["True", "1", "True", "/var/task/gateway/handler.py"]


def test_without_the_runtime_python_the_zip_ships_without_bytecode(tmp_path, monkeypatch):
    from opskit.packaging import bytecode

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.delenv("OPSKIT_LAMBDA_PYTHON", raising=False)
    monkeypatch.setattr(bytecode.os.path, "expanduser", lambda p: str(tmp_path / "home"))
    bytecode.find_compiler.cache_clear()
    try:
        project = make_project(tmp_path / "p", [])
        result = build_package(project, tmp_path / "out", cache_dir=tmp_path / "cache")
    finally:
        bytecode.find_compiler.cache_clear()
    assert result.bytecode is None
    assert not [f for f in result.files if f.endswith(".pyc")]
    assert any("no python3.12 found" in note for note in result.notes)
