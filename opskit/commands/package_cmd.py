"""`opskit package`: build the gateway's Lambda zip (no Docker) and print its size and hash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from opskit.app import App

MB = 1024 * 1024


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
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
@click.pass_obj
def package(app: App, out_dir: Path | None, architecture: str | None, refresh: bool) -> None:
    """Build the gateway's Lambda zip without Docker.

    Installs [tool.opskit].lambda-dependencies from manylinux wheels for the
    Lambda python3.12 runtime (glibc 2.34) and the chosen architecture, adds
    gateway/, and writes a deterministic zip: the same sources give the same
    SHA-256. Dependencies are cached under .opskit/cache, so rebuilds only
    re-zip the sources.
    """
    from opskit.packaging import build_package

    root = app.env.root
    arch = architecture or app.env.parameters.get("Architecture", "arm64")
    with app.terminal.progress("Building the Lambda package"):
        result = build_package(root, out_dir or root / "dist", architecture=arch, refresh=refresh)
    row: dict[str, Any] = {
        "path": str(result.path),
        "architecture": result.architecture,
        "python": result.python_version,
        "size_mb": round(result.size_zipped / MB, 2),
        "unzipped_mb": round(result.size_unzipped / MB, 2),
        "files": len(result.files),
        "distributions": len(result.distributions),
        "dependencies": "cached" if result.cache_hit else "installed",
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
        f"{row['distributions']} distributions ({source})\n"
        f"  sha256  {result.sha256}\n"
    )
