"""`opskit package`: build the gateway's Lambda zip (no Docker) and print its size and hash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from opskit.app import App
from opskit.commands.params import FilePath

MB = 1024 * 1024


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=FilePath(file_okay=False, path_type=Path),
    default=None,
    help="Directory for the zip.  [default: dist/ next to opskit.toml]",
)
@click.option(
    "--architecture",
    type=click.Choice(["arm64", "x86_64"]),
    default=None,
    help="Lambda architecture.  [default: the environment's Architecture parameter, else arm64]",
)
@click.option(
    "--refresh",
    is_flag=True,
    help="Resolve the dependencies again (newest matching releases) instead of the cached tree.",
)
@click.option(
    "--update-lock",
    is_flag=True,
    help="Resolve the dependencies for both architectures and rewrite lambda-requirements.lock.",
)
@click.option(
    "--no-bytecode", is_flag=True, help="Ship without precompiled bytecode (slower cold starts)."
)
@click.pass_obj
def package(
    app: App,
    out_dir: Path | None,
    architecture: str | None,
    refresh: bool,
    update_lock: bool,
    no_bytecode: bool,
) -> None:
    """Build the gateway's Lambda zip without Docker.

    Installs [tool.opskit].lambda-dependencies from manylinux wheels for the
    Lambda python3.12 runtime (glibc 2.34) and the chosen architecture, adds
    gateway/, and writes a deterministic zip: the same sources give the same
    SHA-256. Dependencies are installed from lambda-requirements.lock (pins and
    wheel hashes; --update-lock rewrites it) and cached under .opskit/cache, so
    rebuilds only re-zip the sources. Bytecode is compiled with a python3.12
    (PATH, pyenv, or $OPSKIT_LAMBDA_PYTHON) in unchecked-hash mode, so cold
    starts on the read-only /var/task do not compile every import.
    """
    from opskit.packaging import build_package
    from opskit.packaging.build import lambda_dependencies
    from opskit.packaging.lock import update_lock as write_lock

    root = app.env.root
    arch = architecture or app.env.parameters.get("Architecture", "arm64")
    if update_lock:
        with app.terminal.status("Resolving the Lambda dependencies (arm64 and x86_64)..."):
            lock = write_lock(root, lambda_dependencies(root), "3.12")
        app.terminal.info(
            f"Wrote {lock.path} ({len(lock.pins)} pinned distributions, hashes for both "
            "architectures): commit it"
        )
    with app.terminal.progress("Building the Lambda package"):
        result = build_package(
            root,
            out_dir or root / "dist",
            architecture=arch,
            refresh=refresh,
            bytecode=not no_bytecode,
        )
    for note in result.notes:
        app.terminal.warn(note)
    row: dict[str, Any] = {
        "path": str(result.path),
        "architecture": result.architecture,
        "python": result.python_version,
        "size_mb": round(result.size_zipped / MB, 2),
        "unzipped_mb": round(result.size_unzipped / MB, 2),
        "files": len(result.files),
        "distributions": len(result.distributions),
        "dependencies": "cached" if result.cache_hit else "installed",
        "locked": result.locked,
        "bytecode": result.bytecode or "none",
        "sha256": result.sha256,
    }
    if app.terminal.output != "table":
        app.terminal.render_rows([row])
        return
    source = "from cache" if result.cache_hit else "freshly installed"
    app.terminal.write(
        f"Built {result.path}\n"
        f"  size    {row['size_mb']:.2f} MB zipped, {row['unzipped_mb']:.2f} MB unzipped, "
        f"{row['files']} files\n"
        f"  target  python{result.python_version} {result.architecture}, "
        f"{row['distributions']} distributions ({source}"
        f"{', locked' if result.locked else ''})\n"
        f"  bytecode {'python ' + result.bytecode + ', unchecked-hash' if result.bytecode else 'none'}\n"
        f"  sha256  {result.sha256}\n"
    )
