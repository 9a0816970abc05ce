"""A day's full-Hub census while it is fetched: a staging folder of its own (data/census/<day>/), resumable.

The folder holds the day's listing so far as Parquet files, one pair per batch of pages (the rows, and the pages they
came from), and `progress.json`: the cursor after the last staged batch and the batch files it covers. A batch's
files are written and synced before `progress.json` is replaced to name them, so a killed census resumes at the
first page not staged, and a file no progress names (a batch cut short) is never read.

`stage_batch` archives, decodes and writes one batch; it runs in processes of their own during a census (see
flows/hub.py), so hashing, compressing, decoding and writing do not compete with the cursor walk for the GIL. This
module does not import DuckDB, which keeps those processes small.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

PROGRESS = "progress.json"
ROWS = pa.schema(
    [
        ("page", pa.int32()),
        ("repo_id", pa.string()),
        ("downloads_30d", pa.int64()),
        ("downloads_all_time", pa.int64()),
        ("likes", pa.int64()),
    ]
)
PAGES = pa.schema(
    [
        ("page", pa.int32()),
        ("url", pa.string()),
        ("fetched_at", pa.timestamp("us", tz="UTC")),
        ("http_status", pa.int32()),
        ("bytes", pa.int64()),
        ("sha256", pa.string()),
        ("content_type", pa.string()),
        ("path", pa.string()),
    ]
)


@dataclass
class Page:
    """One fetched page as staged: where it came from, its archived raw copy, and its columns."""

    url: str
    fetched_at: datetime
    http_status: int
    sha256: str
    size: int
    content_type: str
    path: str
    columns: tuple[list[str], list[int], list[int], list[int]]
    rejected: int


@dataclass
class Staged:
    """What stage_batch wrote: the batch's name (None if no page of it could be staged), its pages, models and
    rejected items; and, when a page did not parse, its index in the batch, URL and reason."""

    name: str | None
    pages: int
    models: int
    rejected: int
    failed_at: int | None = None
    failed_url: str = ""
    failure: str = ""


def staging_path(data_dir: Path, day: date) -> Path:
    return data_dir / "census" / day.isoformat()


def write_batch(folder: Path, first: int, token: str, pages: list[Page]) -> str:
    """The rows and page records of a batch as two Parquet files, each written whole and synced before it gets its
    name; returns the batch's name, which progress.json then lists."""
    name = f"{first:06d}-{token}"
    rows = pa.Table.from_arrays(
        [
            pa.chunked_array([pa.array([first + k] * len(p.columns[0]), pa.int32()) for k, p in enumerate(pages)]),
            *(
                pa.chunked_array([pa.array(p.columns[i], kind) for p in pages], kind)
                for i, kind in enumerate((pa.string(), pa.int64(), pa.int64(), pa.int64()))
            ),
        ],
        schema=ROWS,
    )
    meta = pa.Table.from_arrays(
        [
            pa.array(range(first, first + len(pages)), pa.int32()),
            pa.array([p.url for p in pages], pa.string()),
            pa.array([p.fetched_at for p in pages], pa.timestamp("us", tz="UTC")),
            pa.array([p.http_status for p in pages], pa.int32()),
            pa.array([p.size for p in pages], pa.int64()),
            pa.array([p.sha256 for p in pages], pa.string()),
            pa.array([p.content_type for p in pages], pa.string()),
            pa.array([p.path for p in pages], pa.string()),
        ],
        schema=PAGES,
    )
    for kind, table in (("rows", rows), ("pages", meta)):  # read once, then deleted: written uncompressed
        _replace_synced(
            folder / f"{kind}-{name}.parquet",
            lambda partial, table=table: pq.write_table(table, partial, compression="none", use_dictionary=False),
        )
    return name


def _replace_synced(target: Path, write: Callable[[Path], object]) -> None:
    """Write target whole through a partial file, synced, then renamed and the rename synced: a reader finds the old
    file or the new one, never part of one."""
    partial = target.with_name(f".{target.name}.partial")
    write(partial)
    with partial.open("rb+") as handle:
        os.fsync(handle.fileno())
    partial.replace(target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def stage_batch(
    data_dir: str, folder: str, first: int, token: str, raw: list[tuple[str, datetime, int, bytes, str]]
) -> Staged:
    """Archive, decode and stage a batch of fetched pages (url, fetched_at, status, content, content type): each raw
    page goes to the archive (zstandard) and is decoded strictly, then the batch is written as one staged batch, and
    everything is synced before this returns, so the caller can move the cursor past it. A page that does not parse
    ends the batch there: it is archived, the pages before it are staged, and its index and reason are returned."""
    import hashlib

    from extractors.base import Payload
    from extractors.errors import ParseError
    from extractors.hub import huggingface
    from warehouse import archive

    pages: list[Page] = []
    failed: tuple[int, str, str] | None = None
    for index, (url, fetched_at, status, content, content_type) in enumerate(raw):
        sha256 = hashlib.sha256(content).hexdigest()
        path = archive.store(Path(data_dir), sha256, content, level=1, fsync=False, codec="zst")
        try:
            columns, rejected = huggingface.census_columns(
                Payload(huggingface.NAME, url, fetched_at, status, content, content_type)
            )
        except ParseError as exc:
            failed = (index, exc.url, exc.detail)
            break
        pages.append(Page(url, fetched_at, status, sha256, len(content), content_type, path, columns, rejected))
    name = write_batch(Path(folder), first, token, pages) if pages else None
    os.sync()  # the raw pages (written without a sync of their own) and the batch are on disk
    staged = Staged(name, len(pages), sum(len(p.columns[0]) for p in pages), sum(p.rejected for p in pages))
    if failed:
        staged.failed_at, staged.failed_url, staged.failure = failed
    return staged


class Staging:
    """A day's census in progress, in its own folder."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        state = self.progress()
        listed = {f"{kind}-{name}.parquet" for name in (state or {}).get("batches", []) for kind in ("rows", "pages")}
        for leftover in path.iterdir():  # a batch cut short, or written by a census that was killed
            if leftover.name != PROGRESS and leftover.name not in listed:
                leftover.unlink(missing_ok=True)

    def progress(self) -> dict[str, Any] | None:
        """next_url, pages, models, rejected, run_id, batches of the census in this folder; None if it never
        started."""
        try:
            return json.loads((self.path / PROGRESS).read_text())
        except FileNotFoundError:
            return None

    def start(self, day: date, run_id: str, first_url: str) -> None:
        started = datetime.now(UTC).isoformat()
        self._save(
            {
                "day": day.isoformat(),
                "run_id": run_id,
                "next_url": first_url,
                "pages": 0,
                "models": 0,
                "rejected": 0,
                "started_at": started,
                "batches": [],
            }
        )

    def advance(self, staged: Staged, next_url: str | None) -> None:
        """Move the cursor past a written batch: from here on, a resumed census starts at next_url."""
        state = self.progress()
        if state is None:
            raise RuntimeError(f"census staging {self.path} was never started")
        if staged.name is not None:
            state["batches"].append(staged.name)
        state["next_url"] = next_url
        state["pages"] += staged.pages
        state["models"] += staged.models
        state["rejected"] += staged.rejected
        self._save(state)

    def add(self, pages: list[Page], next_url: str | None, token: str = "local") -> None:
        """Stage decoded pages and move the cursor past them (write, then advance)."""
        if not pages:
            return
        state = self.progress() or {}
        name = write_batch(self.path, state.get("pages", 0), token, pages)
        models, rejected = sum(len(p.columns[0]) for p in pages), sum(p.rejected for p in pages)
        self.advance(Staged(name, len(pages), models, rejected), next_url)

    def files(self, kind: str) -> list[str]:
        """The Parquet files of one kind (rows, pages) that progress.json names, in page order."""
        return [str(self.path / f"{kind}-{name}.parquet") for name in (self.progress() or {}).get("batches", [])]

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def _save(self, state: dict[str, Any]) -> None:
        _replace_synced(self.path / PROGRESS, lambda partial: partial.write_text(json.dumps(state)))
