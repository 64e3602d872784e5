"""A deterministic zip writer: sorted entries, fixed timestamps and permissions.

`zipfile` stamps each entry with the file's mtime and cannot copy an entry's
compressed bytes from one archive to another. Both matter here: the same sources
must give the same bytes, and a warm build must not recompress tens of megabytes of
dependencies. So entries are kept as (name, crc, size, deflated bytes) and written
with the classic (non-zip64) format, which `zipfile`, `unzip` and Lambda all read.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

STORED = 0
DEFLATED = 8
# 1980-01-01 00:00:00, the earliest DOS timestamp: the same for every entry, every build.
DOS_TIME = 0
DOS_DATE = (0 << 9) | (1 << 5) | 1
FILE_MODE = 0o100644  # regular file, rw-r--r--: Lambda only needs world-readable files
VERSION = 20  # 2.0: deflate, no zip64
MAX_ENTRIES = 0xFFFF
MAX_OFFSET = 0xFFFFFFFF
UTF8_FLAG = 0x800

_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")


@dataclass(frozen=True)
class ZipEntry:
    name: str
    crc: int
    size: int  # uncompressed
    data: bytes  # as stored in the archive (raw deflate stream, or the bytes themselves)
    method: int = DEFLATED


def make_entry(name: str, content: bytes, level: int = 6) -> ZipEntry:
    """Compress `content`; keep it stored when deflate does not make it smaller.

    Level 6 (zlib's default): level 9 is four times slower for 0.5% smaller zips.
    """
    crc = zlib.crc32(content)
    if content:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        deflated = compressor.compress(content) + compressor.flush()
        if len(deflated) < len(content):
            return ZipEntry(name, crc, len(content), deflated, DEFLATED)
    return ZipEntry(name, crc, len(content), content, STORED)


def read_entries(path: Path) -> list[ZipEntry]:
    """The entries of an archive written by `write_zip`, without decompressing them."""
    blob = path.read_bytes()
    end = blob.rfind(b"PK\x05\x06")
    if end < 0:
        raise ValueError(f"{path} is not a zip archive")
    _, _, _, _, count, cd_size, cd_offset, _ = _END.unpack_from(blob, end)
    entries = []
    pos = cd_offset
    for _ in range(count):
        fields = _CENTRAL.unpack_from(blob, pos)
        method, crc, csize, usize = fields[6], fields[9], fields[10], fields[11]
        name_len, extra_len, comment_len = fields[12], fields[13], fields[14]
        offset = fields[18]
        name = blob[pos + _CENTRAL.size : pos + _CENTRAL.size + name_len].decode("utf-8")
        pos += _CENTRAL.size + name_len + extra_len + comment_len
        local = _LOCAL.unpack_from(blob, offset)
        start = offset + _LOCAL.size + local[10] + local[11]
        entries.append(ZipEntry(name, crc, usize, blob[start : start + csize], method))
    return entries


def write_zip(path: Path, entries: Iterable[ZipEntry]) -> str:
    """Write `entries` sorted by name to `path`; return the archive's SHA-256 (hex)."""
    ordered = sorted(entries, key=lambda entry: entry.name)
    names = [entry.name for entry in ordered]
    duplicates = sorted({n for n, m in zip(names, names[1:], strict=False) if n == m})
    if duplicates:
        raise ValueError(f"duplicate archive entries: {', '.join(duplicates[:5])}")
    if len(ordered) > MAX_ENTRIES:
        raise ValueError(f"{len(ordered)} entries is more than a non-zip64 archive holds")
    body = bytearray()
    central = bytearray()
    for entry in ordered:
        name = entry.name.encode("utf-8")
        flags = 0 if entry.name.isascii() else UTF8_FLAG
        offset = len(body)
        body += _LOCAL.pack(
            b"PK\x03\x04", VERSION, 0, flags, entry.method, DOS_TIME, DOS_DATE,
            entry.crc, len(entry.data), entry.size, len(name), 0,
        )  # fmt: skip
        body += name
        body += entry.data
        central += _CENTRAL.pack(
            b"PK\x01\x02", VERSION, 3, VERSION, 0, flags, entry.method, DOS_TIME, DOS_DATE,
            entry.crc, len(entry.data), entry.size, len(name), 0, 0, 0, 0,
            FILE_MODE << 16, offset,
        )  # fmt: skip
        central += name
    if len(body) + len(central) > MAX_OFFSET:
        raise ValueError("archive larger than 4 GiB needs zip64, which this writer does not do")
    end = _END.pack(b"PK\x05\x06", 0, 0, len(ordered), len(ordered), len(central), len(body), 0)
    archive = bytes(body + central + end)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(archive)
    tmp.replace(path)
    return hashlib.sha256(archive).hexdigest()
