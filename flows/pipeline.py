"""The price pipeline as plain functions: fetch -> archive -> parse -> validate -> load -> history.

run_prices is the price run; the Prefect flow in flows/pricing.py runs it with Prefect tasks as its fetchers, and
benchmarks and tests call it directly. The run's record is flows/ledger.py's.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import duckdb
import requests

from llmflation.extractors import http
from llmflation.extractors.base import (
    REFERENCE,
    ModelFacts,
    Payload,
    is_adoption,
    is_reference,
    source_module,
    source_names,
)
from llmflation.extractors.deadlines import Deadline
from llmflation.extractors.errors import FetchError, LlmflationError, ParseError
from llmflation.flows import alerts, interrupts, ledger, rates
from llmflation.flows.ledger import RunSummary, SourceOutcome, close_unloaded
from llmflation.flows.settings import Settings
from llmflation.warehouse import db, events, evidence, history, load
from llmflation.warehouse.models import PriceObservation, unique_offers, validate_rows

Fetched = list[Payload] | FetchError

REBUILD_FLOW = "rebuild"
UNIT_SHIFT_MIN_PRICES = 10  # below this many known prices, a run's jumps are judged one by one


def make_session(settings: Settings, until: Deadline | None = None) -> requests.Session:
    """The HTTP session for one run, configured from settings; its fetches end by their deadline and by `until`."""
    return http.make_session(
        retries=settings.http_retries,
        backoff=settings.http_backoff,
        max_retry_after=settings.http_max_retry_after,
        deadline_s=settings.http_deadline,
        until=until,
    )


def run_deadline(settings: Settings) -> Deadline | None:
    """When the fetches of a run starting now must be over (LLMFLATION_RUN_DEADLINE); None: no limit."""
    return Deadline.after(settings.run_deadline, "run deadline") if settings.run_deadline else None


def fetch_source(
    settings: Settings, name: str, session: requests.Session | None = None, until: Deadline | None = None
) -> list[Payload]:
    """Fetch one source's documents (I/O only): one, or several when the module defines fetch()."""
    module = source_module(name)
    session = session or make_session(settings, until)
    fetch = getattr(module, "fetch", None)
    url = settings.url_for(name)
    if fetch is not None:
        return list(fetch(session, url, timeout=settings.http_timeout, **settings.source_options.get(name, {})))
    return [http.fetch(session, name, url, timeout=settings.http_timeout)]


def ingest(
    settings: Settings,
    run_id: str,
    name: str,
    observed_at: datetime,
    fetched: Payload | list[Payload] | FetchError,
    con: duckdb.DuckDBPyConnection | None = None,
) -> SourceOutcome:
    """Archive, parse, validate and load one source's payload (through con, or a connection of its own); never
    raises for a source's own failure."""
    clock = time.monotonic()
    with ledger.using(settings, con) as con:
        load.start_source_run(
            con, run_id, name, observed_at, datetime.now(UTC), getattr(source_module(name), "KIND", None)
        )
        try:
            documents = [fetched] if isinstance(fetched, Payload) else fetched
            return _ingest(settings, con, run_id, name, observed_at, documents, clock)
        except Exception as exc:  # a bug or a broken file must not stop the other sources
            if db.is_damage(exc):  # but a damaged warehouse stops them all: it is no source's failure
                raise db.explain(settings.db, exc) from exc
            if interrupts.received() is not None:  # a statement cut short by Ctrl-C: the run stops
                raise
            outcome = SourceOutcome(name, "failed", error=f"internal error: {type(exc).__name__}: {exc}"[:500])
            close_unloaded(con, run_id, outcome, clock)
            return outcome


def _ingest(
    settings: Settings,
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    name: str,
    observed_at: datetime,
    fetched: list[Payload] | FetchError,
    clock: float,
) -> SourceOutcome:
    if isinstance(fetched, FetchError):
        load.record_fetch(
            con,
            run_id,
            name,
            fetched.url,
            datetime.now(UTC),
            fetched.status,
            None,
            None,
            fetched.detail,
            final_url=fetched.final_url,
        )
        outcome = SourceOutcome(name, "failed", error=f"fetch failed: {fetched.detail}")
        close_unloaded(con, run_id, outcome, clock)
        return outcome
    size = sum(len(p.content) for p in fetched)
    shas = [load.archive_payload(con, settings.data_dir, run_id, payload) for payload in fetched]
    module = source_module(name)
    elsewhere = [p.final_url for p in fetched if p.final_url and http.origin(p.final_url) != http.origin(p.url)]
    if getattr(module, "KIND", None) == REFERENCE:
        return rates.ingest_rates(settings, con, run_id, name, observed_at, fetched, shas, clock, elsewhere)
    pairs: list[tuple[PriceObservation, str]] = []
    rejects: list[tuple[str, str]] = []
    skipped: Counter[str] = Counter()
    hf_repos: dict[str, str] = {}
    facts: dict[tuple[str, str], ModelFacts] = {}
    items = 0
    for payload, sha in zip(fetched, shas, strict=True):
        try:
            result = module.parse(payload)
        except ParseError as exc:
            outcome = SourceOutcome(name, "suspect", bytes=size, error=f"parse failed: {exc.detail}")
            close_unloaded(con, run_id, outcome, clock, raw_sha256=sha)
            return outcome
        valid, invalid = validate_rows(result.rows)
        pairs += [(obs, sha) for obs in valid]
        rejects += result.rejects + invalid
        skipped.update(result.skipped)
        hf_repos.update(result.hf_repos)
        facts.update(result.facts)
        items += result.items
    pairs, conflicts = unique_offers(pairs)
    rejects += conflicts
    outcome = SourceOutcome(
        name,
        "ok",
        items=items,
        parsed=len(pairs),
        rejected=len(rejects),
        bytes=size,
        notes=ledger.source_notes(skipped, rejects, elsewhere),
    )
    previous = load.previous_healthy_rows(con, name, observed_at, run_id)
    moved, compared = load.unit_shift(con, name, pairs, observed_at) if pairs else (0, 0)
    collapse = ledger.collapsed(len(pairs), previous, settings.suspect_ratio, "rows")
    if not pairs:
        outcome.status, outcome.error = "suspect", "no valid price rows"
    elif collapse:
        outcome.status, outcome.error = "suspect", collapse
    elif compared >= UNIT_SHIFT_MIN_PRICES and moved > compared / 2:
        outcome.status = "suspect"
        outcome.error = (
            f"{moved} of {compared} known prices moved by 100x or more at once (a change of unit, not of "
            "the market); quarantined, not applied"
        )
    apply = outcome.status == "ok"
    outcome.loaded = len(pairs) if apply else 0
    outcome.duration_s = time.monotonic() - clock
    load.load_observations(
        con,
        run_id=run_id,
        source=name,
        observed_at=observed_at,
        rows=pairs,
        rejects=rejects,
        apply=apply,
        removal_runs=settings.removal_runs,
        status=outcome.status,
        finished_at=datetime.now(UTC),
        duration_s=outcome.duration_s,
        items=items,
        parsed=len(pairs),
        size=size,
        raw_sha256=shas[0] if len(shas) == 1 else None,
        error=outcome.error,
        notes=outcome.notes,
        hf_repos=hf_repos,
        facts=facts,
    )
    return outcome


def run_prices(
    settings: Settings,
    sources: list[str],
    as_of: datetime | None = None,
    on_outcome: Callable[[SourceOutcome], None] | None = None,
    *,
    fetch: Callable[[Settings, list[str], Deadline | None], dict[str, Callable[[], Fetched]]] | None = None,
    wait_s: float = 0,
) -> RunSummary:
    """The price run, with or without an orchestrator: every source fetched concurrently (by `fetch`, which
    starts each source's fetch and gives a callable that waits for it; threads by default), then archived,
    parsed, validated and loaded one at a time, sources of exchange rates first (so that the prices loaded after
    them convert with the rates of the same run); then the run's alerts, all under the run lock. Every fetch is over
    by its deadline, and by the run's (a source past either fails with it)."""
    with ledger.recorded(settings, sources, as_of, wait_s=wait_s) as run:
        waiting = (fetch or _fetch_in_threads)(settings, sources, run_deadline(settings))
        for name in sorted(sources, key=lambda name: not is_reference(name)):
            outcome = ingest(settings, run.run_id, name, run.as_of, waiting[name]())
            if on_outcome:
                on_outcome(outcome)
            run.outcomes.append(outcome)
        summary = run.close()
        summary.alerts = alerts.after_run(settings, run.run_id)
    return summary


def _fetch_in_threads(
    settings: Settings, sources: list[str], until: Deadline | None
) -> dict[str, Callable[[], Fetched]]:
    session = make_session(settings, until)
    pool = ThreadPoolExecutor(max_workers=4)
    waiting = {name: pool.submit(fetch_or_error, settings, name, session).result for name in sources}
    pool.shutdown(wait=False)  # the fetches run on; the pool takes no more
    return waiting


def rebuild_history(settings: Settings, sources: list[str] | None = None) -> list[tuple[str, int, int]]:
    """Recompute the price history of the named sources (default: every source with one) from their observations,
    then every event, in one transaction; returns (source, segments, applied runs) of each."""
    con = ledger.connect(settings)
    try:
        known = history.sources_with_history(con)
    finally:
        con.close()
    unknown = [name for name in sources or () if name not in known]
    if unknown:
        raise LlmflationError(
            f"no price history for {', '.join(unknown)} (sources with history: {', '.join(known) or 'none'})"
        )
    chosen = sources or known
    with ledger.recorded(settings, chosen, None, flow=REBUILD_FLOW) as run:
        con = ledger.connect(settings)
        try:
            with db.transaction(con):
                for source in chosen:
                    history.rebuild(con, source, settings.removal_runs)
                events.detect(con, run.run_id, datetime.now(UTC), models=None)
            counts = con.execute(
                "SELECT s.source, (SELECT count(*) FROM price_segments p WHERE p.source = s.source), count(*) "
                "FROM source_runs s WHERE s.applied GROUP BY s.source ORDER BY s.source"
            ).fetchall()
        finally:
            con.close()
    return [row for row in counts if row[0] in chosen]


def repair_archive(
    settings: Settings, findings: list[evidence.Finding]
) -> tuple[list[tuple[evidence.Finding, str]], list[str]]:
    """Fetch once more each price source that fetched a damaged document, and rewrite every damaged document such a
    fetch brings back unchanged (same sha256). Returns (finding, source) of each one restored, and a line for each
    source that could not be fetched. Nothing is recorded in the ledger: a repair observes nothing."""
    wanted = {finding.sha256: finding for finding in findings}
    if not wanted:
        return [], []
    con = db.connect(settings.db, read_only=True, wait_s=60)
    try:
        fetched_by = con.execute(
            "SELECT DISTINCT source FROM fetches WHERE list_contains(?, sha256) ORDER BY source", [sorted(wanted)]
        ).fetchall()
    finally:
        con.close()
    # Hub listings and census pages are not fetched again: their counters move daily
    prices = {name for name in source_names() if not is_adoption(name)}
    session = make_session(settings)
    restored: list[tuple[evidence.Finding, str]] = []
    failed: list[str] = []
    for (name,) in fetched_by:
        if name not in prices:
            continue
        fetched = fetch_or_error(settings, name, session)
        if isinstance(fetched, FetchError):
            failed.append(f"{name}: not fetched again ({fetched.detail})")
            continue
        for payload in fetched:
            finding = wanted.get(payload.sha256)
            if finding and evidence.restore(settings.data_dir, finding, payload.content):
                restored.append((finding, name))
                del wanted[payload.sha256]
    return restored, failed


def fetch_or_error(
    settings: Settings, name: str, session: requests.Session | None = None, until: Deadline | None = None
) -> list[Payload] | FetchError:
    """fetch_source, with a FetchError returned instead of raised."""
    try:
        return fetch_source(settings, name, session, until)
    except FetchError as exc:
        return exc
