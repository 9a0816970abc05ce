"""The raw payload archive: content-addressed, compressed files in the data folder.

Documents are gzip files (`.gz`, readable with any tool); the full-Hub census, two thousand pages a night, writes
zstandard (`.zst`, level 1), which takes half the CPU of gzip's fastest level and writes a quarter less. A
document's path in `raw_documents` names its format; `read` handles both."""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path

import zstandard

CODECS = ("gz", "zst")


def raw_path(sha256: str, codec: str = "gz") -> str:
    """Path of a raw document, relative to the data folder."""
    if codec not in CODECS:
        raise ValueError(f"unknown archive codec {codec!r}")
    return f"raw/{sha256[:2]}/{sha256}.{codec}"


def store(data_dir: Path, sha256: str, content: bytes, *, level: int = 6, fsync: bool = True, codec: str = "gz") -> str:
    """Write content once under its sha256 (atomically: a killed write leaves no partial file; durably unless the
    caller syncs a batch of files itself). zlib and zstandard compress without holding the GIL, so a thread can
    archive while another parses."""
    relative = raw_path(sha256, codec)
    target = data_dir / relative
    if target.exists():
        return relative
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            if codec == "zst":
                handle.write(zstandard.ZstdCompressor(level=level).compress(content))
            else:
                handle.write(gzip.compress(content, compresslevel=level, mtime=0))
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return relative


def read(data_dir: Path, relative: str) -> bytes:
    """The original bytes of an archived document."""
    data = (data_dir / relative).read_bytes()
    if relative.endswith(".zst"):
        return zstandard.ZstdDecompressor().decompress(data)
    return gzip.decompress(data)
