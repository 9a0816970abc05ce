"""The raw payload archive: content-addressed, compressed files in the data folder.

Documents are gzip files (`.gz`, readable with any tool), one per document. The full-Hub census, two thousand pages a
night, writes zstandard instead (level 1: half the CPU of gzip's fastest level, a quarter less on disk), one pack file
per batch of pages under `raw/census/<day>/`: one zstandard frame per page, so a pack is an ordinary `.zst` file (the
pages concatenated) and each page reads back alone from its member path `<pack>#<offset>+<length>`. A document's
path in `raw_documents` names its format; `read` handles all three."""

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
    """The original bytes of an archived document: a file of its own, or a pack member (`<pack>#<offset>+<length>`)."""
    path, _, member = relative.partition("#")
    if member:
        offset, length = (int(part) for part in member.split("+"))
        with (data_dir / path).open("rb") as handle:
            handle.seek(offset)
            data = handle.read(length)
        if len(data) != length:
            raise ValueError(f"archived member {relative} is cut short: {len(data)} of {length} bytes")
    else:
        data = (data_dir / path).read_bytes()
    if path.endswith(".zst"):
        return zstandard.ZstdDecompressor().decompress(data)
    return gzip.decompress(data)


class Pack:
    """Documents written as one zstandard file, a frame each, under a partial name until `close` syncs it and gives it
    its name: a reader finds the whole pack or none of it."""

    def __init__(self, data_dir: Path, relative: str, *, level: int = 1) -> None:
        if not relative.endswith(".zst"):
            raise ValueError(f"a pack is a .zst file, not {relative!r}")
        self.relative, self.target = relative, data_dir / relative
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.partial = self.target.with_name(f".{self.target.name}.partial")
        self.handle = self.partial.open("wb")
        self.offset = 0
        self.compressor = zstandard.ZstdCompressor(level=level)  # one context for every frame: set up once

    def add(self, content: bytes) -> str:
        """Append a document as a frame of its own; returns its member path."""
        frame = self.compressor.compress(content)
        self.handle.write(frame)
        member = f"{self.relative}#{self.offset}+{len(frame)}"
        self.offset += len(frame)
        return member

    def close(self) -> None:
        """Sync the pack, then give it its name and sync that too."""
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        self.partial.replace(self.target)
        directory = os.open(self.target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def discard(self) -> None:
        self.handle.close()
        self.partial.unlink(missing_ok=True)
