"""Open-model adoption as plain functions: Hub pages -> archive -> parse -> validate -> one snapshot per day.

The Prefect flow in flows/adoption.py composes these; `llmflation import` loads saved snapshots with them.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urljoin

import duckdb
import requests

from llmflation.extractors import deadlines, http
from llmflation.extractors.base import Payload
from llmflation.extractors.deadlines import Deadline, earliest, time_left
from llmflation.extractors.errors import FetchError, ParseError
from llmflation.extractors.redact import redact, restore
from llmflation.extractors.sources import huggingface
from llmflation.flows import ledger, pipeline, stagers
from llmflation.flows.ledger import RunSummary, SourceOutcome, close_unloaded
from llmflation.flows.settings import Settings
from llmflation.warehouse import adoption, load
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
    """Stream every page of the full listing into the day's staging folder, resuming from its stored cursor; apply
    it to the warehouse only when the last page has arrived. A rerun of a completed day does nothing. The walk ends
    by its deadline (LLMFLATION_HF_CENSUS_DEADLINE) or `until` (the run's), whichever is first; each page by its own.

    Two things overlap: a thread walks the cursor (each next URL comes from the previous page), and processes of
    their own (LLMFLATION_HF_CENSUS_WORKERS) archive each batch of raw pages and decode them strictly, so hashing,
    compressing and decoding never compete with the walk for the GIL; batches are applied to the cursor in page
    order, whichever process finishes first, and their rows kept in memory as Arrow. The cursor moves past a batch
    only once its raw pages and page records are on disk, so a staged row always has its raw page, and a resumed
    census decodes its staged batches again from them. The cursor is kept without the URL's credentials; a resumed
    census takes them from the configured URL again."""
    from llmflation.warehouse import census

    con = ledger.connect(settings)
    try:
        done = census.completed(con, day)
    finally:
        con.close()  # the warehouse stays free for readers until the census applies
    if done:
        return {
            "day": day.isoformat(),
            "status": "complete",
            **done,
            "resumed": False,
            "note": "already complete; nothing fetched",
        }
    path = census.staging_path(settings.data_dir, day)
    for earlier in path.parent.glob(f"{day.isoformat()}.duckdb*"):  # staging of releases before the folder
        earlier.unlink()
    stage = census.Staging(path)
    state = stage.progress()
    if state is None:
        stage.start(day, run_id, redact(census_url(settings)))
        state = stage.progress() or {}
    resumed = bool(state["pages"])
    first = state["pages"]  # the number of the next page to stage
    resume_at = restore(state["next_url"], census_url(settings)) if state["next_url"] else None  # first not staged
    deadline = earliest(Deadline.after(settings.hf_census_deadline, "census deadline"), until)
    token = uuid.uuid4().hex[:8]  # names this attempt's batch files apart from any a killed attempt left
    batch: list[Payload] = []
    in_flight: deque[tuple[Future[census.Staged], list[Payload], str | None]] = deque()

    def settle(block: bool) -> None:
        """Advance the cursor past every staged batch in order (past the oldest only if block, waiting for it)."""
        while in_flight and (block or in_flight[0][0].done()):
            staging, pages, next_url = in_flight.popleft()
            staged = staging.result()
            if staged.failed_at is not None:  # resume at the page that failed, after the ones before it
                stage.advance(staged, pages[staged.failed_at].url)  # a Payload's URL is already redacted
                failure = ParseError(SOURCE, staged.failed_url, staged.failure)
                _record_failed_page(settings, run_id, failure, pages[staged.failed_at])
                raise failure
            stage.advance(staged, redact(next_url) if next_url else None)
            block = False

    workers = settings.hf_census_workers
    with stagers.pool(workers) as stager:
        for _ in range(workers):  # every stager starts (and imports what it needs) while the first pages arrive
            stager.submit(census.warm_up)
        # a resumed census decodes the batches it had staged again, from their archived pages, before going on
        restaged = [stager.submit(census.restage, str(settings.data_dir), str(path), name) for name in stage.batches()]
        stage.rows = [census.from_ipc(rows.result()) for rows in restaged]

        def submit(next_url: str | None) -> None:
            nonlocal first
            raw = [(p.url, p.fetched_at, p.status, p.content, p.content_type, p.final_url) for p in batch]
            spooled, meta = census.spool(path, first, token, raw)
            staging = stager.submit(census.stage_batch, str(settings.data_dir), str(path), first, token, spooled, meta)
            in_flight.append((staging, list(batch), next_url))
            first += len(batch)
            batch.clear()
            settle(block=len(in_flight) > 2 * workers)  # at most a few batches of raw pages held in memory

        try:
            for page, following in _pages_ahead(settings, resume_at, idle=lambda: settle(block=False), until=deadline):
                if on_page:
                    on_page()
                batch.append(page)
                resume_at = following
                if len(batch) >= settings.hf_census_pages_per_commit or following is None:
                    submit(following)
            while in_flight:
                settle(block=True)
        except FetchError as exc:
            if batch:
                submit(resume_at)  # keep what arrived: the next run resumes at the page that failed
            while in_flight:
                settle(block=True)
            _record_failed_page(settings, run_id, exc, None)
            raise
    final = stage.progress() or {}
    counts = census.finish(settings.db, stage, day, run_id, CENSUS, settings.hf_census_memory_mb)
    return {
        "day": day.isoformat(),
        "status": "complete",
        "pages": final.get("pages", 0),
        "resumed": resumed,
        **counts,
        "rejected": final.get("rejected", 0),
    }


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
    from llmflation.warehouse import census as census_store

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
            state = census_store.Staging(census_store.staging_path(settings.data_dir, observed_at.date())).progress()
            state = state or {"pages": 0}
            outcome = SourceOutcome(
                CENSUS,
                "failed",
                error=(
                    f"census stopped after {state['pages']} pages: {exc.detail}; nothing applied; "
                    "run again to resume from the next page"
                ),
            )
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


def _pages_ahead(
    settings: Settings,
    url: str | None,
    depth: int = 4,
    idle: Callable[[], None] | None = None,
    until: Deadline | None = None,
) -> Iterator[tuple[Payload, str | None]]:
    """(page, next URL) pairs, fetched in a background thread up to `depth` pages ahead, pausing when the Hub's
    RateLimit header says the window is spent (never past `until`, by which every page ends); a fetch error is raised
    here, in order, after the pages before it."""
    client = http.CurlClient(
        retries=settings.http_retries,
        backoff=settings.http_backoff,
        max_retry_after=settings.http_max_retry_after,
        deadline_s=settings.http_deadline,
        until=until,
    )
    pages: queue.Queue[tuple[Payload, str | None] | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    headers = {"Authorization": f"Bearer {settings.hf_token}"} if settings.hf_token else None

    def fetcher() -> None:
        next_url, start = url, huggingface.origin(url) if url else ""
        try:
            while next_url and not stop.is_set():
                if huggingface.origin(next_url) != start:  # never send the token, or follow a listing, elsewhere
                    raise FetchError(SOURCE, next_url, f"the next link leaves {start}")
                page = client.get(SOURCE, next_url, timeout=settings.http_timeout, headers=headers, other_hosts=False)
                following = urljoin(next_url, page.links["next"]) if page.links.get("next") else None
                _put(pages, (page, following), stop)
                next_url = following
                if next_url:
                    pause = huggingface.rate_limit_pause(page.headers, max_wait=settings.http_max_retry_after)
                    stop.wait(min(pause, time_left(until)))
            _put(pages, None, stop)
        except BaseException as exc:  # handed to the consumer, which raises it
            _put(pages, exc, stop)

    thread = threading.Thread(target=fetcher, name="census-fetch", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = pages.get(timeout=0.1)
            except queue.Empty:
                if idle is not None:
                    idle()  # e.g. move the cursor past batches decoded meanwhile, while the next page is slow
                continue
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        # an interrupted census does not wait for the page in transfer (a daemon thread: it ends with the process)
        thread.join(timeout=0 if deadlines.stopped() else settings.http_timeout + 5)
        if not thread.is_alive():  # a transfer still running keeps its handle
            client.close()


def _put(pages: queue.Queue, item: object, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            pages.put(item, timeout=0.5)
            return
        except queue.Full:
            continue
