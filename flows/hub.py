"""Open-model adoption as plain functions: Hub pages -> archive -> parse -> validate -> one snapshot per day.

The Prefect flow in flows/adoption.py composes these; `llmflation import` loads saved snapshots with them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urljoin

import duckdb
import requests

from llmflation.extractors.base import Payload
from llmflation.extractors.deadlines import Deadline, earliest
from llmflation.extractors.errors import FetchError, LlmflationError, ParseError
from llmflation.extractors.redact import redact, restore
from llmflation.extractors.sources import huggingface
from llmflation.flows import ledger, pipeline
from llmflation.flows.ledger import RunSummary, SourceOutcome, close_unloaded
from llmflation.flows.settings import Settings
from llmflation.warehouse import adoption, load
from llmflation.warehouse import census as census_store
from llmflation.warehouse.models import ModelSnapshot, validate_snapshots

FLOW_NAME = "track-adoption"
SOURCE = huggingface.NAME
CENSUS = "huggingface-census"


def fetch_hub(
    settings: Settings, session: requests.Session | None = None, until: Deadline | None = None
) -> tuple[list[Payload], FetchError | None]:
    """Every page of every tracked list (authors, top by downloads, top trending); on the first fetch error, the
    pages that arrived before it (to be archived all the same) and the error. Each page ends by its deadline, and
    every one by `until` (the run's)."""
    session = session or pipeline.make_session(settings, until)
    urls = huggingface.list_urls(
        settings.url_for(SOURCE),
        authors=settings.hf_authors,
        top_downloads=settings.hf_top_downloads,
        top_trending=settings.hf_top_trending,
        page_size=settings.hf_page_size,
    )
    pages: list[Payload] = []
    try:
        for url in urls:
            pages.extend(
                huggingface.fetch_pages(
                    session,
                    url,
                    token=settings.hf_token,
                    timeout=settings.http_timeout,
                    max_pages=huggingface.max_pages_for(url),  # the Hub sends a next link even past a top-N limit
                    max_wait=settings.http_max_retry_after,
                )
            )
    except FetchError as exc:
        return pages, exc
    return pages, None


def ingest_hub(
    settings: Settings, run_id: str, observed_at: datetime, pages: list[Payload], error: FetchError | None = None
) -> SourceOutcome:
    """Archive every page, then load the day's snapshot only if every page arrived and parsed (all or nothing:
    a half-fetched day would look like a collapse in downloads)."""
    clock = time.monotonic()
    con = ledger.connect(settings)
    try:
        load.start_source_run(con, run_id, SOURCE, observed_at, datetime.now(UTC), "hub")
        shas = [load.archive_payload(con, settings.data_dir, run_id, page) for page in pages]
        size = sum(len(page.content) for page in pages)
        if error is not None:
            load.record_fetch(
                con,
                run_id,
                SOURCE,
                error.url,
                datetime.now(UTC),
                error.status,
                None,
                None,
                error.detail,
                final_url=error.final_url,
            )
            return close_unloaded(
                con,
                run_id,
                SourceOutcome(
                    SOURCE,
                    "failed",
                    bytes=size,
                    error=(f"fetch failed: {error.detail}; {len(pages)} pages fetched before it, nothing loaded"),
                ),
                clock,
            )
        rows: list[tuple[ModelSnapshot, str]] = []
        rejects: list[tuple[str, str]] = []
        for page, sha in zip(pages, shas, strict=True):
            try:
                parsed, bad = huggingface.parse(page)
            except ParseError as exc:
                return close_unloaded(
                    con,
                    run_id,
                    SourceOutcome(SOURCE, "suspect", bytes=size, error=f"parse failed: {exc.detail}; nothing loaded"),
                    clock,
                )
            valid, invalid = validate_snapshots(parsed, observed_at.date())
            rows += [(snapshot, sha) for snapshot in valid]
            rejects += bad + invalid
        rows = list({snapshot.repo_id: (snapshot, sha) for snapshot, sha in reversed(rows)}.values())[::-1]
        return _load(settings, con, run_id, observed_at, rows, rejects, size, clock, source=SOURCE)
    finally:
        con.close()


def import_files(settings: Settings, paths: Iterable[Path]) -> RunSummary:
    """Load saved snapshots (reduced daily JSON, monthly CSV) as past snapshots with their own dates."""
    files = sorted(_expand(paths))
    with ledger.recorded(settings, ["hf-import"], None, flow="import") as run:
        run_id, observed_at = run.run_id, run.as_of
        clock = time.monotonic()
        con = ledger.connect(settings)
        try:
            load.start_source_run(con, run_id, "hf-import", observed_at, datetime.now(UTC), "import")
            rows: list[tuple[ModelSnapshot, str]] = []
            rejects: list[tuple[str, str]] = []
            size = 0
            for path in files:
                content = path.read_bytes()
                payload = Payload("hf-import", path.resolve().as_uri(), datetime.now(UTC), 200, content)
                sha = load.archive_payload(con, settings.data_dir, run_id, payload)
                size += len(content)
                parsed, day = _parse_saved(path, content)
                valid, invalid = validate_snapshots(parsed, day)
                rows += [(snapshot, sha) for snapshot in valid]
                rejects += invalid
            run.outcomes.append(
                _load(
                    settings,
                    con,
                    run_id,
                    observed_at,
                    rows,
                    rejects,
                    size,
                    clock,
                    source="hf-import",
                    check_collapse=False,
                )
            )
        finally:
            con.close()
        return run.close()


def _parse_saved(path: Path, content: bytes) -> tuple[list[dict], date | None]:
    if path.suffix == ".csv":
        return huggingface.parse_kblab_csv(content.decode("utf-8")), None
    day, rows = huggingface.parse_reduced_snapshot(json.loads(content))
    return rows, day


def _expand(paths: Iterable[Path]) -> Iterable[Path]:
    for path in paths:
        if path.is_dir():
            yield from (p for p in path.iterdir() if p.suffix in (".json", ".csv"))
        else:
            yield path


def _load(
    settings: Settings,
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    observed_at: datetime,
    rows: list[tuple[ModelSnapshot, str]],
    rejects: list[tuple[str, str]],
    size: int,
    clock: float,
    *,
    source: str,
    check_collapse: bool = True,
) -> SourceOutcome:
    outcome = SourceOutcome(
        source,
        "ok",
        items=len(rows),
        parsed=len(rows),
        rejected=len(rejects),
        bytes=size,
        notes=f"rejected {len(rejects)}, e.g. {rejects[0][0]}: {rejects[0][1]}" if rejects else None,
    )
    previous = load.previous_healthy_rows(con, source, observed_at, run_id) if check_collapse else None
    if not rows:
        outcome.status, outcome.error = "suspect", "no model in any page"
    elif previous and len(rows) < previous * settings.suspect_ratio:
        outcome.status = "suspect"
        outcome.error = (
            f"{len(rows)} models, fewer than {settings.suspect_ratio:.0%} of the {previous} of its "
            "last healthy run; not loaded"
        )
    if outcome.status != "ok":
        return close_unloaded(con, run_id, outcome, clock)
    outcome.duration_s = time.monotonic() - clock

    def close(connection: duckdb.DuckDBPyConnection, new: int) -> None:
        outcome.loaded = new
        load.finish_source_run(
            connection,
            run_id,
            source,
            status="ok",
            finished_at=datetime.now(UTC),
            duration_s=outcome.duration_s,
            items=len(rows),
            parsed=len(rows),
            rejected=len(rejects),
            loaded=new,
            size=size,
            notes=outcome.notes,
        )
        connection.execute("UPDATE source_runs SET applied = true WHERE run_id = ? AND source = ?", [run_id, source])

    adoption.load_snapshots(con, rows, source=source, run_id=run_id, on_commit=close)
    return outcome


def census_url(settings: Settings) -> str:
    """The first page of the full listing: every public model, with the counters the census keeps."""
    base = settings.url_for(SOURCE)
    joiner = "&" if "?" in base else "?"
    fields = ("downloads", "downloadsAllTime", "likes")
    return base + joiner + "limit=1000&" + "&".join(f"expand[]={f}" for f in fields)


def run_census(
    settings: Settings,
    day: date,
    run_id: str,
    on_page: Callable[[], None] | None = None,
    until: Deadline | None = None,
) -> dict[str, object]:
    """Walk every page of the full listing, resuming where the day's census stands in the warehouse, and apply the
    day once the last page has arrived; a rerun of a completed day does nothing. Every
    LLMFLATION_HF_CENSUS_PAGES_PER_COMMIT pages, the batch's raw pages are archived and recorded with the cursor past
    them in one transaction; the warehouse is open only for those moments, so other commands can use it during the
    walk. The walk pauses when the Hub's RateLimit header says its window is spent, and ends by its deadline
    (LLMFLATION_HF_CENSUS_DEADLINE) or `until` (the run's), whichever is first. The cursor is kept without the URL's
    credentials; a resumed census takes them from the configured URL again."""
    first_url = census_url(settings)
    with ledger.connect(settings) as con:
        done = census_store.state(con, day)
        if done is not None and done.status == "complete":
            return {"day": day.isoformat(), "status": "complete", "pages": done.pages, "models": done.models,
                    "resumed": False, "note": "already complete; nothing fetched"}  # fmt: skip
        start = census_store.begin(con, settings.data_dir, day, run_id, redact(first_url))
        rows = [census_store.page_rows(n, huggingface.census_columns(_saved(content))[0])
                for n, content in census_store.staged_pages(con, settings.data_dir, day)]  # fmt: skip
        previous = census_store.last_complete(con, day)
    resume_at = start.next_url  # the first page not staged, without credentials
    batch: list[census_store.Page] = []

    def commit() -> None:
        """Archive and record the pages in hand, the cursor moved past them."""
        if batch:
            with ledger.connect(settings) as con:
                number = census_store.stage(con, settings.data_dir, day, run_id, CENSUS, batch, resume_at)
            rows.extend(census_store.page_rows(number + k, page.columns) for k, page in enumerate(batch))
            batch.clear()

    if resume_at is not None:
        url = restore(resume_at, first_url)
        if huggingface.origin(url) != huggingface.origin(first_url):  # never send the token, or follow, elsewhere
            raise FetchError(SOURCE, resume_at, f"the next link leaves {huggingface.origin(first_url)}")
        deadline = earliest(Deadline.after(settings.hf_census_deadline, "census deadline"), until)
        pages = huggingface.fetch_pages(
            pipeline.make_session(settings, deadline),
            url,
            token=settings.hf_token,
            timeout=settings.http_timeout,
            max_wait=settings.http_max_retry_after,
        )
        try:
            for payload in pages:
                try:
                    columns, rejected = huggingface.census_columns(payload)
                except ParseError as exc:
                    commit()  # the next run resumes at the page that did not parse
                    _record_failed_page(settings, run_id, exc, payload)
                    raise
                following = payload.links.get("next")
                resume_at = redact(urljoin(payload.url, following)) if following else None
                batch.append(census_store.Page(payload, columns, rejected))
                if on_page:
                    on_page()
                if len(batch) >= settings.hf_census_pages_per_commit or resume_at is None:
                    commit()
        except FetchError as exc:
            commit()  # keep what arrived: the next run resumes at the page that failed
            _record_failed_page(settings, run_id, exc, None)
            raise
    listed = sum(page.num_rows for page in rows)
    if previous and listed < previous[1] * settings.suspect_ratio:
        with ledger.connect(settings) as con:
            census_store.discard(con, day)
        raise CensusSuspect(
            f"the listing holds {listed} models, fewer than {settings.suspect_ratio:.0%} of the {previous[1]} of "
            f"{previous[0]}: a broken listing, not applied; the next run starts the day over"
        )
    with ledger.connect(settings) as con:
        staged = census_store.state(con, day)
    assert staged is not None
    counts = census_store.apply(settings.db, day, run_id, rows, settings.hf_census_memory_mb)
    return {
        "day": day.isoformat(),
        "status": "complete",
        "pages": staged.pages,
        "resumed": start.pages > 0,
        **counts,
        "rejected": staged.rejected,
    }


class CensusSuspect(LlmflationError):
    """A fully fetched census that lists far fewer models than the last one: the listing is broken."""


def _saved(content: bytes) -> Payload:
    """A staged page's raw bytes, as the payload the census decodes again."""
    return Payload(CENSUS, "", datetime.now(UTC), 200, content)


def _record_failed_page(settings: Settings, run_id: str, exc: FetchError | ParseError, page: Payload | None) -> None:
    """The fetch that stopped a census, in the warehouse: its error, and the raw page when one arrived."""
    con = ledger.connect(settings)
    try:
        sha = size = None
        status, final = (exc.status, exc.final_url) if isinstance(exc, FetchError) else (None, None)
        if page is not None:
            sha = load.archive_payload(con, settings.data_dir, run_id, replace(page, source=CENSUS), record=False)
            size, status, final = len(page.content), page.status, page.final_url
        load.record_fetch(
            con, run_id, CENSUS, exc.url, datetime.now(UTC), status, size, sha, exc.detail, final_url=final
        )
    finally:
        con.close()


def census(settings: Settings, as_of: datetime | None = None, on_page: Callable[[], None] | None = None) -> RunSummary:
    """One census run, recorded like every run: ok with its counts, or failed with the reason and the page it
    stopped at (the next run of the same day resumes there)."""
    with ledger.recorded(settings, [CENSUS], as_of, flow="census-adoption") as run:
        run_id, observed_at = run.run_id, run.as_of
        clock = time.monotonic()
        con = ledger.connect(settings)
        try:
            load.start_source_run(con, run_id, CENSUS, observed_at, datetime.now(UTC), "hub")
        finally:
            con.close()
        try:
            result = run_census(settings, observed_at.date(), run_id, on_page, until=pipeline.run_deadline(settings))
            outcome = SourceOutcome(
                CENSUS,
                "ok",
                items=int(result.get("models", 0)),
                parsed=int(result.get("models", 0)),
                rejected=int(result.get("rejected", 0)),
                loaded=int(result.get("changed", 0)),
                notes=", ".join(f"{k}={v}" for k, v in result.items()),
            )
        except (FetchError, ParseError) as exc:
            con = ledger.connect(settings)
            try:
                state = census_store.state(con, observed_at.date())
            finally:
                con.close()
            outcome = SourceOutcome(
                CENSUS,
                "failed",
                error=(
                    f"census stopped after {state.pages if state else 0} pages: {exc.detail}; nothing applied; "
                    "run again to resume from the next page"
                ),
            )
        except CensusSuspect as exc:
            outcome = SourceOutcome(CENSUS, "suspect", error=str(exc))
        outcome.duration_s = time.monotonic() - clock
        con = ledger.connect(settings)
        try:
            load.finish_source_run(
                con,
                run_id,
                CENSUS,
                status=outcome.status,
                finished_at=datetime.now(UTC),
                duration_s=outcome.duration_s,
                items=outcome.items,
                parsed=outcome.parsed,
                rejected=outcome.rejected,
                loaded=outcome.loaded,
                error=outcome.error,
                notes=outcome.notes,
            )
        finally:
            con.close()
        run.outcomes.append(outcome)
        return run.close()
