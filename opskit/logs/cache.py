"""A columnar cache of parsed exports, so repeated queries over one file skip the parsing.

One DuckDB database per export under `.opskit/cache/`, named by a key of the file's path,
size, modification time and a hash of its first and last 1 MiB: any change to the file
makes a new key (and the stale entry is removed). The `events` table holds the CloudWatch
columns; each JSON or platform field a query needs is added once as a text and a numeric
column, so later queries read columns instead of parsing messages.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from opskit import envvars

CACHE_DIR = Path(".opskit") / "cache"
SAMPLE = 1 << 20


def cache_dir() -> Path:
    return Path(os.environ.get(envvars.CACHE_DIR) or CACHE_DIR)


def cache_key(path: Path) -> str:
    stat = path.stat()
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    with path.open("rb") as handle:
        digest.update(handle.read(SAMPLE))
        if stat.st_size > SAMPLE:
            handle.seek(max(stat.st_size - SAMPLE, SAMPLE))
            digest.update(handle.read(SAMPLE))
    return digest.hexdigest()


def entry_for(path: Path) -> Path:
    """The cache database for `path` (created by the caller); stale entries of it are dropped."""
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    stem = hashlib.blake2b(str(path.resolve()).encode(), digest_size=8).hexdigest()
    entry = directory / f"{stem}-{cache_key(path)}.duckdb"
    for old in directory.glob(f"{stem}-*.duckdb*"):
        if old.name != entry.name and not old.name.startswith(entry.name):
            old.unlink(missing_ok=True)
    return entry
