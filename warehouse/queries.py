"""Queries open on a warehouse file. A read-only query holds the file while it runs, and DuckDB then refuses a
writer; so each query leaves a small record beside the file (pid, start time, text), removed when it ends, and a
writer that finds the file held can wait for the query by name instead of guessing who holds it."""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SHOWN_CHARS = 200  # of a query's text in a one-line message


@dataclass(frozen=True)
class OpenQuery:
    """A query that was running on the warehouse when its record was read."""

    pid: int
    started_at: datetime
    text: str

    def describe(self) -> str:
        """'(pid, start time): text', on one line, the text shortened."""
        flat = " ".join(self.text.split())
        if len(flat) > SHOWN_CHARS:
            flat = flat[: SHOWN_CHARS - 3] + "..."
        return f"(pid {self.pid}, since {self.started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC): {flat}"


def record_path(db: Path, pid: int) -> Path:
    return db.with_name(f"{db.name}.query-{pid}.json")


@contextmanager
def recorded(db: Path, text: str) -> Iterator[None]:
    """Leave a record of this process's query beside the warehouse while the block runs (nothing when the folder
    cannot be written: the query still runs, a writer then just cannot name it)."""
    path = record_path(db, os.getpid())
    record = {"pid": os.getpid(), "started_at": datetime.now(UTC).isoformat(), "query": text}
    staged = path.with_name(path.name + ".tmp")
    try:
        staged.write_text(json.dumps(record), encoding="utf-8")
        staged.replace(path)
    except OSError:
        staged.unlink(missing_ok=True)
        yield
        return
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def open_queries(db: Path) -> list[OpenQuery]:
    """The queries whose process is still alive, oldest first; records left by dead processes are removed."""
    found = []
    for name in glob.glob(glob.escape(str(db)) + ".query-*.json"):
        path = Path(name)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            query = OpenQuery(int(record["pid"]), datetime.fromisoformat(record["started_at"]), str(record["query"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written or removed right now, or not ours
        if not _alive(query.pid):
            path.unlink(missing_ok=True)
            continue
        found.append(query)
    return sorted(found, key=lambda q: q.started_at)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
