"""The raw payload archive: content-addressed, compressed files in the data folder.

Documents are gzip files (`.gz`, readable with any tool), one per document. The full-Hub census, two thousand pages a
night, writes zstandard instead (level 1: half the CPU of gzip's fastest level, a quarter less on disk), one pack file
per batch of pages under `raw/census/<day>/`: one zstandard frame per page, so a pack is an ordinary `.zst` file (the
pages concatenated) and each page reads back alone from its member path `<pack>#<offset>+<length>`. A document's
path in `raw_documents` names its format; `read` handles all three."""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

CODECS = ("gz", "zst")
CHUNK = 1 << 16  # compressed bytes read at a time when a document is hashed


@dataclass(frozen=True)
class Damage:
    """What is wrong with an archived document: `missing`, `truncated` or `mismatched`, and how."""

    kind: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} ({self.detail})" if self.detail else self.kind


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
    if target.exists() and check(data_dir, relative, sha256, len(content)) is None:
        return relative  # a damaged copy (cut short, overwritten) is replaced by these bytes, which are the document
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


def check(data_dir: Path, relative: str, sha256: str, size: int | None = None) -> Damage | None:
    """What is wrong with an archived document, or None when its bytes still hash to sha256. It is read and hashed a
    chunk at a time, so memory stays bounded however large it is. `truncated` needs the recorded size (its original
    length): a document that ends early without one is `mismatched`."""
    path, _, member = relative.partition("#")
    digest, length = hashlib.sha256(), 0
    try:
        with (data_dir / path).open("rb") as handle:
            if member:
                offset, stored = (int(part) for part in member.split("+"))
                handle.seek(offset)
                raw = _read(handle, stored)
            else:
                raw = _read(handle, None)
            for chunk in _decompressed(raw, zst=path.endswith(".zst"), whole_file=not member):
                digest.update(chunk)
                length += len(chunk)
    except FileNotFoundError:
        return Damage("missing")
    except _CutShort:
        if size is not None and length < size:
            return Damage("truncated", f"{length} of {size} bytes")
        return Damage("mismatched", f"cut short after {length} bytes")
    except (zlib.error, zstandard.ZstdError) as exc:
        return Damage("mismatched", f"not readable: {exc}")
    if digest.hexdigest() != sha256:
        return Damage("mismatched", f"its {length} bytes hash to {digest.hexdigest()}")
    return None


class _CutShort(Exception):
    """The compressed data ended before its stream did."""


def _read(handle: BinaryIO, length: int | None) -> Iterator[bytes]:
    """The compressed bytes: to the end of the file, or `length` of them (a pack member)."""
    left = length
    while left is None or left > 0:
        chunk = handle.read(CHUNK if left is None else min(CHUNK, left))
        if not chunk:
            if left:
                raise _CutShort
            return
        if left is not None:
            left -= len(chunk)
        yield chunk


def _decompressed(raw: Iterator[bytes], *, zst: bool, whole_file: bool) -> Iterator[bytes]:
    decompressor = zstandard.ZstdDecompressor().decompressobj() if zst else zlib.decompressobj(wbits=31)
    for chunk in raw:
        yield decompressor.decompress(chunk)
        if decompressor.eof:
            return
    if whole_file:  # the file ends before its stream does
        raise _CutShort
    raise zstandard.ZstdError("the frame does not end where the member does")  # every byte is there, but damaged


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
