"""Backfill: saved price documents loaded as past runs, each with its own date (`llmflation import prices`).

A document is one source's answer as it was saved: a file, a folder of vendor files (llm_prices), or a version of
a file in a git history. Each becomes one run of that source observed at the document's date, through the same
archive -> parse -> validate -> load path as a live run, so history, events and evidence work the same way; runs
are applied in date order, and a document already imported at the same date is skipped, so an interrupted import
resumes where it stopped. Documents are read one at a time, when their turn comes: memory stays bounded however long
the history is.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from llmflation.extractors.base import Payload, source_module
from llmflation.flows import ledger, pipeline
from llmflation.flows.settings import Settings

IMPORT_FLOW = "import"
DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?:[T_](\d{2})[:-]?(\d{2}))?(?!\d)")
# top-level fields saved copies carry with the exact time they were fetched (collectors' wrappers, LiteLLM scrapers)
TIME_FIELDS = ("fetched_at", "last_updated", "timestamp")
FOLDER_SOURCES = {"llm_prices"}  # one document is a folder of vendor files


class BackfillError(ValueError):
    """A saved document that cannot be imported as it is (no date, not a file, not in the git history)."""


@dataclass
class Document:
    """One saved answer of a source and the moment it describes; its payloads are read when asked for."""

    label: str
    as_of: datetime
    how: str  # where the date came from: --as-of, a field of the file, its name, a commit
    read: Callable[[], list[Payload]]


def documents(
    source: str,
    paths: Iterable[Path] = (),
    repo: Path | None = None,
    in_repo: str | None = None,
    as_of: datetime | None = None,
) -> list[Document]:
    """The documents an import names: every version of in_repo in the git clone repo, or the files and folders."""
    paths = list(paths)
    if repo is not None:
        if paths or not in_repo:
            raise BackfillError("--git takes --file PATH_IN_REPO and no other paths")
        return from_git(source, repo, in_repo)
    if not paths:
        raise BackfillError("name the files or folders to import, or --git REPO --file PATH")
    return from_paths(source, paths, as_of)


def choose(documents: list[Document], since: datetime | None = None, until: datetime | None = None) -> list[Document]:
    """The documents dated within since..until (both inclusive), oldest first; one dated in the future is refused."""
    chosen = sorted(
        (d for d in documents if (since is None or d.as_of >= since) and (until is None or d.as_of <= until)),
        key=lambda d: d.as_of,
    )
    now = datetime.now(UTC)
    for document in chosen:
        if document.as_of > now:
            raise BackfillError(
                f"{document.label}: dated {document.as_of:%Y-%m-%d %H:%M} UTC, in the future; nothing was imported"
            )
    return chosen


def from_paths(source: str, paths: Iterable[Path], as_of: datetime | None = None) -> list[Document]:
    """Documents from files and folders; llm_prices takes each folder of vendor files as one document."""
    source_module(source)  # an unknown source fails here, before anything is read
    groups: list[tuple[str, list[Path]]] = []
    for path in paths:
        if path.is_dir() and source in FOLDER_SOURCES:
            groups.append((str(path), sorted(p for p in path.glob("*.json"))))
        elif path.is_dir():
            groups += [(str(p), [p]) for p in sorted(path.iterdir()) if p.suffix == ".json"]
        else:
            groups.append((str(path), [path]))
    if as_of is not None and len(groups) > 1:
        raise BackfillError("--as-of dates one document; import the others with their own dates")
    documents = []
    for label, files in groups:
        if not files:
            raise BackfillError(f"{label}: no *.json file in it")
        when, how = (as_of, "--as-of") if as_of else _date_of(label, files)
        documents.append(Document(label, when, how, _file_reader(source, files, when)))
    return documents


def _file_reader(source: str, files: list[Path], when: datetime) -> Callable[[], list[Payload]]:
    return lambda: [Payload(source, f.resolve().as_uri(), when, 200, f.read_bytes(), "application/json") for f in files]


def from_git(source: str, repo: Path, path: str) -> list[Document]:
    """Every version of `path` in the git history of `repo` (a local clone), dated by its commit."""
    source_module(source)

    def git(*args: str) -> bytes:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, timeout=600)
        if done.returncode != 0:
            raise BackfillError(f"git {' '.join(args[:2])}: {done.stderr.decode(errors='replace').strip()[:200]}")
        return done.stdout

    log = git("log", "--reverse", "--format=%H %cI", "--", path).decode().split()
    if not log:
        raise BackfillError(f"{repo}: no commit touches {path}")

    def reader(commit: str, when: datetime) -> Callable[[], list[Payload]]:
        url = f"{repo.resolve().as_uri()}/{path}@{commit}"
        return lambda: [Payload(source, url, when, 200, git("show", f"{commit}:{path}"))]

    documents = []
    for commit, stamp in zip(log[::2], log[1::2], strict=True):
        when = datetime.fromisoformat(stamp).astimezone(UTC)
        documents.append(Document(f"{path}@{commit[:10]}", when, "commit", reader(commit, when)))
    return documents


def import_documents(
    settings: Settings,
    source: str,
    documents: list[Document],
    since: datetime | None = None,
    until: datetime | None = None,
    on_document: Callable[[Document, str], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> list[tuple[Document, str]]:
    """Load each document (dated within since..until, both inclusive) as a run of `source` at its date, oldest
    first, reading one at a time; returns (document, what happened). on_total hears how many are chosen, on_document
    of each one done."""
    chosen = choose(documents, since, until)
    if on_total:
        on_total(len(chosen))
    imported = _imported(settings, source)
    done: list[tuple[Document, str]] = []
    for document in chosen:
        payloads = document.read()
        shas = sorted(p.sha256 for p in payloads)
        if shas in imported.get(document.as_of, []):
            what = "already imported"
        else:
            with ledger.recorded(settings, [source], document.as_of, IMPORT_FLOW, settings.lock_wait, hold=True) as run:
                outcome = pipeline.ingest(settings, run.run_id, source, run.as_of, payloads, run.con)
                run.outcomes.append(outcome)
            if outcome.status == "ok":
                imported.setdefault(document.as_of, []).append(shas)
            what = f"{outcome.status}: {outcome.parsed} prices, {outcome.loaded} loaded, {outcome.rejected} rejected"
            what += f" ({outcome.error})" if outcome.error else ""
        del payloads
        done.append((document, what))
        if on_document:
            on_document(document, what)
    return done


def _imported(settings: Settings, source: str) -> dict[datetime, list[list[str]]]:
    """The documents already imported for a source: as-of time -> the sorted sha256 lists of its applied runs."""
    con = ledger.connect(settings)
    try:
        rows = con.execute(
            "SELECT s.observed_at, list(DISTINCT f.sha256 ORDER BY f.sha256) FROM source_runs s JOIN runs r "
            "USING (run_id) JOIN fetches f ON f.run_id = s.run_id AND f.source = s.source "
            "WHERE s.source = ? AND s.applied AND r.flow = ? GROUP BY s.run_id, s.observed_at",
            [source, IMPORT_FLOW],
        ).fetchall()
    finally:
        con.close()
    found: dict[datetime, list[list[str]]] = {}
    for as_of, shas in rows:
        found.setdefault(as_of, []).append(shas)
    return found


def _date_of(label: str, files: list[Path]) -> tuple[datetime, str]:
    """The moment a saved document describes: a fetch time it carries, else a date in its name; never guessed."""
    for path in files:
        try:
            data = json.loads(path.read_bytes())
        except ValueError:
            data = None
        if isinstance(data, dict):
            for name in TIME_FIELDS:
                value = data.get(name)
                if isinstance(value, str):
                    try:
                        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
                    except ValueError:
                        continue
                    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).astimezone(
                        UTC
                    ), f"{name} in {path.name}"
    match = DATE_IN_NAME.search(Path(label).name) or DATE_IN_NAME.search(label)
    if match:
        day, hour, minute = match.groups()
        stamp = datetime.fromisoformat(f"{day}T{hour or '00'}:{minute or '00'}").replace(tzinfo=UTC)
        return stamp, "its name"
    raise BackfillError(
        f"{label}: no date in the file (fetched_at, last_updated) or its name (YYYY-MM-DD); pass --as-of"
    )
