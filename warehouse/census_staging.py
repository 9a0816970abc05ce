"""A day's full-Hub census while it is fetched: resumable, and nothing of it in the warehouse until the end.

Before the cursor moves past a batch of pages, two files of it are written and synced: its raw pages, one pack in
the archive (data/raw/census/<day>/<batch>.zst, a zstandard frame per page), and its page records
(data/census/<day>/pages-<batch>.json: URL, fetch time, status, sha256, size, archived member, rejected items).
Only then does `progress.json` in that folder name the batch and move the cursor. The rows decoded from a batch go
back to the census in memory, as Arrow; a resumed census decodes the batches it had staged again, from their packs.
So a killed census resumes at the first page not staged, a batch no progress names is never read, and the day's
listing is not written twice (once raw, once decoded).

`stage_batch` archives, decodes and records one batch; it runs in processes of their own during a census (see
flows/hub.py), so hashing, compressing and decoding do not compete with the cursor walk for the GIL. This module does
not import DuckDB, which keeps those processes small.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from llmflation.extractors.base import Payload
from llmflation.extractors.errors import ParseError
from llmflation.extractors.hub import census_decode
from llmflation.warehouse import archive

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
        ("final_url", pa.string()),
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
    final_url: str | None = None  # where it came from after a redirect; None when it was not redirected


@dataclass
class Staged:
    """What stage_batch wrote: the batch's name (None if no page of it could be staged), its pages, models and
    rejected items, its rows (an Arrow IPC stream); and, when a page did not parse, its index in the batch, URL and
    reason."""

    name: str | None
    pages: int
    models: int
    rejected: int
    failed_at: int | None = None
    failed_url: str = ""
    failure: str = ""
    rows: bytes = b""


def staging_path(data_dir: Path, day: date) -> Path:
    return data_dir / "census" / day.isoformat()


def pack_path(folder: str | Path, name: str) -> str:
    """Where a batch's raw pages are archived, relative to the data folder: one pack per batch, by census day."""
    return f"raw/census/{Path(folder).name}/{name}.zst"


def page_rows(page: int, columns: tuple[list[str], list[int], list[int], list[int]]) -> list[pa.Array]:
    """A page's rows as Arrow arrays, one per column of ROWS: its number, then the repo id and the three counters
    of every model."""
    ids, d30, total, likes = columns
    number = pa.Array.from_buffers(pa.int32(), len(ids), [None, pa.py_buffer(array("i", [page]) * len(ids))])
    return [
        number,
        pa.array(ids, pa.string()),
        pa.array(d30, pa.int64()),
        pa.array(total, pa.int64()),
        pa.array(likes, pa.int64()),
    ]


def rows_of(pages: list[list[pa.Array]]) -> pa.Table:
    """The rows of consecutive pages as one table (no copy: a chunk per page)."""
    return pa.Table.from_arrays(
        [pa.chunked_array([page[i] for page in pages], field.type) for i, field in enumerate(ROWS)], schema=ROWS
    )


def rows_table(first: int, pages: list[Page]) -> pa.Table:
    """A batch's rows, page by page (numbered from `first`)."""
    return rows_of([page_rows(first + k, p.columns) for k, p in enumerate(pages)])


def to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(data).read_all()


def write_pages(folder: Path, name: str, first: int, pages: list[Page], models: list[int] | None = None) -> None:
    """A batch's page records as pages-<name>.json (with each page's number of models, when its columns are gone),
    written whole and synced before it gets its name."""
    models = models or [len(p.columns[0]) for p in pages]
    records = [
        {
            "page": first + k,
            "url": p.url,
            "fetched_at": p.fetched_at.isoformat(),
            "http_status": p.http_status,
            "sha256": p.sha256,
            "bytes": p.size,
            "content_type": p.content_type,
            "path": p.path,
            "models": n,
            "rejected": p.rejected,
            "final_url": p.final_url,
        }
        for k, (p, n) in enumerate(zip(pages, models, strict=True))
    ]
    _replace_synced(folder / f"pages-{name}.json", lambda partial: partial.write_text(json.dumps(records)))


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


def spool(
    folder: Path, first: int, token: str, raw: list[tuple[str, datetime, int, bytes, str, str | None]]
) -> tuple[str, list[tuple[str, datetime, int, int, str, str | None]]]:
    """Hand a batch of fetched pages (url, fetched_at, status, content, content type, final URL) to a stager
    process through a file: the bodies back to back in the staging folder (not synced: the stager reads it at once,
    and a file no progress names is deleted on the next start), and what else it needs with each body's size instead
    of the body. Cheaper than pickling the bodies through a pipe: a third of the CPU, on both sides."""
    path = folder / f"spool-{first:06d}-{token}"
    with path.open("wb") as handle:
        for _, _, _, content, _, _ in raw:
            handle.write(content)
    return str(path), [(url, at, status, len(content), kind, final) for url, at, status, content, kind, final in raw]


def stage_batch(
    data_dir: str,
    folder: str,
    first: int,
    token: str,
    spooled: str,
    meta: list[tuple[str, datetime, int, int, str, str | None]],
) -> Staged:
    """Archive, decode and record a batch of fetched pages, spooled by `spool`: the raw pages go to one pack in the
    archive (a zstandard frame each) and are decoded strictly; the pack and the page records are synced before this
    returns the rows, so the caller can move the cursor past the batch. A page that does not parse ends the batch
    there: the pages before it are staged, and its index and reason are returned."""
    name = f"{first:06d}-{token}"
    pages: list[Page] = []
    rows: list[list[pa.Array]] = []
    failed: tuple[int, str, str] | None = None
    pack = archive.Pack(Path(data_dir), pack_path(folder, name))
    bodies, offset = Path(spooled).read_bytes(), 0
    Path(spooled).unlink()
    try:
        for index, (url, fetched_at, status, size, content_type, final_url) in enumerate(meta):
            content, offset = bodies[offset : offset + size], offset + size
            try:
                columns, rejected = census_decode.census_columns(
                    Payload(census_decode.NAME, url, fetched_at, status, content, content_type)
                )
            except ParseError as exc:
                failed = (index, exc.url, exc.detail)
                break
            rows.append(page_rows(first + index, columns))  # while the decoded page is fresh in the CPU's caches
            sha256 = hashlib.sha256(content).hexdigest()
            member = pack.add(content)
            pages.append(
                Page(url, fetched_at, status, sha256, len(content), content_type, member, columns, rejected, final_url)
            )
            for column in columns:  # its rows live on in Arrow
                column.clear()
        if pages:
            pack.close()
        else:
            pack.discard()
    except BaseException:
        pack.discard()
        raise
    models = [len(r[0]) for r in rows]
    staged = Staged(None, len(pages), sum(models), sum(p.rejected for p in pages))
    if pages:
        write_pages(Path(folder), name, first, pages, models)
        staged.name, staged.rows = name, to_ipc(rows_of(rows))
    if failed:
        staged.failed_at, staged.failed_url, staged.failure = failed
    return staged


def warm_up() -> None:
    """Nothing: a stager process that runs it has imported this module, and with it all a batch needs."""


def restage(data_dir: str, folder: str, name: str) -> bytes:
    """The rows of a batch staged by an earlier attempt, decoded again from its archived pages (each checked against
    its sha256), as an Arrow IPC stream."""
    rows = []
    for record in json.loads((Path(folder) / f"pages-{name}.json").read_text()):
        content = archive.read(Path(data_dir), record["path"])
        if hashlib.sha256(content).hexdigest() != record["sha256"]:
            raise RuntimeError(f"archived census page {record['path']} does not match its sha256 {record['sha256']}")
        fetched_at = datetime.fromisoformat(record["fetched_at"])
        payload = Payload(census_decode.NAME, record["url"], fetched_at, record["http_status"], content)
        rows.append(page_rows(record["page"], census_decode.census_columns(payload)[0]))
    return to_ipc(rows_of(rows))


class Staging:
    """A day's census in progress: its folder, and the rows of its staged batches (in memory, in page order)."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.rows: list[pa.Table] = []
        batches = (self.progress() or {}).get("batches", [])
        listed = {f"pages-{name}.json" for name in batches}
        if any(not (path / name).exists() for name in listed):  # staged by an older release (Parquet): start over
            shutil.rmtree(path)
            path.mkdir(parents=True)
            return
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
        self.rows = []
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

    def advance(self, staged: Staged, next_url: str | None, rows: pa.Table | None = None) -> None:
        """Move the cursor past a recorded batch and keep its rows: from here on, a resumed census starts at
        next_url."""
        state = self.progress()
        if state is None:
            raise RuntimeError(f"census staging {self.path} was never started")
        if staged.name is not None:
            self.rows.append(rows if rows is not None else from_ipc(staged.rows))
            state["batches"].append(staged.name)
        state["next_url"] = next_url
        state["pages"] += staged.pages
        state["models"] += staged.models
        state["rejected"] += staged.rejected
        self._save(state)

    def add(self, pages: list[Page], next_url: str | None, token: str = "local") -> None:
        """Stage decoded pages (their raw copies archived by the caller) and move the cursor past them."""
        if not pages:
            return
        first = (self.progress() or {}).get("pages", 0)
        name = f"{first:06d}-{token}"
        write_pages(self.path, name, first, pages)
        models, rejected = sum(len(p.columns[0]) for p in pages), sum(p.rejected for p in pages)
        self.advance(Staged(name, len(pages), models, rejected), next_url, rows_table(first, pages))

    def batches(self) -> list[str]:
        return list((self.progress() or {}).get("batches", []))

    def listing(self) -> pa.Table:
        """Every staged row, in page order."""
        return pa.concat_tables(self.rows) if self.rows else ROWS.empty_table()

    def pages(self) -> pa.Table:
        """Every staged page's record, in page order."""
        records = [r for name in self.batches() for r in json.loads((self.path / f"pages-{name}.json").read_text())]
        return pa.Table.from_arrays(
            [
                pa.array([r["page"] for r in records], pa.int32()),
                pa.array([r["url"] for r in records], pa.string()),
                pa.array([datetime.fromisoformat(r["fetched_at"]) for r in records], pa.timestamp("us", tz="UTC")),
                pa.array([r["http_status"] for r in records], pa.int32()),
                pa.array([r["bytes"] for r in records], pa.int64()),
                pa.array([r["sha256"] for r in records], pa.string()),
                pa.array([r["content_type"] for r in records], pa.string()),
                pa.array([r["path"] for r in records], pa.string()),
                pa.array([r.get("final_url") for r in records], pa.string()),
            ],
            schema=PAGES,
        )

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def _save(self, state: dict[str, Any]) -> None:
        _replace_synced(self.path / PROGRESS, lambda partial: partial.write_text(json.dumps(state)))
