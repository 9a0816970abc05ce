"""The raw payload archive: content-addressed, gzip-compressed files in the data folder."""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path


def raw_path(sha256: str) -> str:
    """Path of a raw document, relative to the data folder."""
    return f"raw/{sha256[:2]}/{sha256}.gz"


def store(data_dir: Path, sha256: str, content: bytes, *, level: int = 6, fsync: bool = True) -> str:
    """Write content once under its sha256 (atomically: a killed write leaves no partial file; durably unless the
    caller syncs a batch of files itself). zlib compresses without holding the GIL, so a thread can archive while
    another parses."""
    relative = raw_path(sha256)
    target = data_dir / relative
    if target.exists():
        return relative
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
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
    return gzip.decompress((data_dir / relative).read_bytes())
