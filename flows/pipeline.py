"""The price pipeline as plain functions: fetch -> archive -> parse -> validate -> load -> history.

The Prefect flow in flows/pricing.py composes these; benchmarks and tests call them directly.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import filelock
import requests

from extractors import http
from extractors.base import Payload, source_module
from extractors.errors import FetchError, LlmflationError, ParseError
from flows import alerts
from flows.settings import Settings
from warehouse import db, events, history, load
from warehouse.models import PriceObservation, unique_offers, validate_rows

FLOW_NAME = "track-prices"
REBUILD_FLOW = "rebuild"
UNIT_SHIFT_MIN_PRICES = 10  # below this many known prices, a run's jumps are judged one by one


class RunInProgress(LlmflationError):
    """Another run holds the warehouse's run lock."""


@dataclass
class SourceOutcome:
    """What one source did in one run."""

    source: str
    status: str  # ok, failed, suspect
    items: int = 0
    parsed: int = 0
    rejected: int = 0
    loaded: int = 0
    bytes: int = 0
    error: str | None = None
    notes: str | None = None
    duration_s: float = 0.0


@dataclass
class RunSummary:
    """The outcome of a run: ok, partial (some sources failed) or failed (all did)."""

    run_id: str
    as_of: datetime
    status: str
    outcomes: list[SourceOutcome] = field(default_factory=list)
    alerts: list[Any] = field(default_factory=list)  # flows.alerts.Delivery, one per message attempted

    def as_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "status": self.status,
            "outcomes": [asdict(o) for o in self.outcomes],
            "alerts": [asdict(d) for d in self.alerts],
        }


@contextmanager
def run_lock(settings: Settings, wait_s: float = 0) -> Iterator[None]:
    """Hold the warehouse's run lock; a second run fails with a clear message (at once, or after wait_s seconds:
    scheduled flows wait for each other, a command-line run does not)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(settings.lock_path, timeout=wait_s, is_singleton=False)
    try:
        lock.acquire()
    except filelock.Timeout as exc:
        raise RunInProgress(
            f"another llmflation run is already writing to {settings.db} (lock {settings.lock_path}); "
            "wait for it to finish"
        ) from exc
    try:
        yield
    finally:
        lock.release()


def make_session(settings: Settings) -> requests.Session:
    """The HTTP session for one run, configured from settings."""
    return http.make_session(
        retries=settings.http_retries,
        backoff=settings.http_backoff,
        max_retry_after=settings.http_max_retry_after,
    )


def fetch_source(settings: Settings, name: str, session: requests.Session | None = None) -> list[Payload]:
    """Fetch one source's documents (I/O only): one, or several when the module defines fetch()."""
    module = source_module(name)
    session = session or make_session(settings)
    fetch = getattr(module, "fetch", None)
    url = settings.url_for(name)
    if fetch is not None:
        return list(fetch(session, url, timeout=settings.http_timeout))
    return [http.fetch(session, name, url, timeout=settings.http_timeout)]


def start(
    settings: Settings, sources: list[str], as_of: datetime | None, flow: str = FLOW_NAME
) -> tuple[str, datetime]:
    """Open a run in the ledger; returns its id and its as-of time (now unless given)."""
    started = datetime.now(UTC)
    as_of = _aware(as_of) or started
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    con = db.connect(settings.db)
    try:
        load.start_run(con, run_id, flow, started, as_of, sources)
    finally:
        con.close()
    return run_id, as_of


def ingest(
    settings: Settings, run_id: str, name: str, observed_at: datetime, fetched: Payload | list[Payload] | FetchError
) -> SourceOutcome:
    """Archive, parse, validate and load one source's payload; never raises for a source's own failure."""
    clock = time.monotonic()
    con = db.connect(settings.db)
    try:
        load.start_source_run(
            con, run_id, name, observed_at, datetime.now(UTC), getattr(source_module(name), "KIND", None)
        )
        try:
            documents = [fetched] if isinstance(fetched, Payload) else fetched
            return _ingest(settings, con, run_id, name, observed_at, documents, clock)
        except Exception as exc:  # a bug or a broken file must not stop the other sources
            outcome = SourceOutcome(name, "failed", error=f"internal error: {type(exc).__name__}: {exc}"[:500])
            close_unloaded(con, run_id, outcome, clock)
            return outcome
    finally:
        con.close()


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
        load.record_fetch(con, run_id, name, fetched.url, datetime.now(UTC), None, None, None, fetched.detail)
        outcome = SourceOutcome(name, "failed", error=f"fetch failed: {fetched.detail}")
        close_unloaded(con, run_id, outcome, clock)
        return outcome
    size = sum(len(p.content) for p in fetched)
    shas = [load.archive_payload(con, settings.data_dir, run_id, payload) for payload in fetched]
    module = source_module(name)
    pairs: list[tuple[PriceObservation, str]] = []
    rejects: list[tuple[str, str]] = []
    skipped: Counter[str] = Counter()
    hf_repos: dict[str, str] = {}
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
        items += result.items
    pairs, conflicts = unique_offers(pairs)
    rejects += conflicts
    outcome = SourceOutcome(
        name, "ok", items=items, parsed=len(pairs), rejected=len(rejects), bytes=size, notes=_notes(skipped, rejects)
    )
    previous = load.previous_healthy_rows(con, name, observed_at, run_id)
    moved, compared = load.unit_shift(con, name, pairs) if pairs else (0, 0)
    if not pairs:
        outcome.status, outcome.error = "suspect", "no valid price rows"
    elif previous and len(pairs) < previous * settings.suspect_ratio:
        outcome.status = "suspect"
        outcome.error = (
            f"parsed {len(pairs)} rows, fewer than {settings.suspect_ratio:.0%} of the "
            f"{previous} of its last healthy run; quarantined, not applied"
        )
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
    )
    return outcome


def finish(settings: Settings, run_id: str, as_of: datetime, outcomes: list[SourceOutcome]) -> RunSummary:
    """Close the run: ok if every source is ok, failed if none is, partial otherwise."""
    healthy = sum(o.status == "ok" for o in outcomes)
    status = "ok" if healthy == len(outcomes) else "failed" if healthy == 0 else "partial"
    note = "; ".join(f"{o.source}: {o.error}" for o in outcomes if o.error) or None
    con = db.connect(settings.db)
    try:
        with db.transaction(con):  # what source runs alone show (a source broken): price events came with loads
            events.detect(con, run_id, datetime.now(UTC), models=())
            load.finish_run(con, run_id, datetime.now(UTC), status, note)
    finally:
        con.close()
    return RunSummary(run_id, as_of, status, outcomes)


def run_prices(
    settings: Settings,
    sources: list[str],
    as_of: datetime | None = None,
    on_outcome: Callable[[SourceOutcome], None] | None = None,
) -> RunSummary:
    """The whole price run without an orchestrator: sources fetched concurrently, loaded one at a time."""
    with run_lock(settings):
        run_id, as_of = start(settings, sources, as_of)
        session = make_session(settings)
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {name: pool.submit(fetch_or_error, settings, name, session) for name in sources}
            outcomes = []
            for name, future in futures.items():
                outcome = ingest(settings, run_id, name, as_of, future.result())
                if on_outcome:
                    on_outcome(outcome)
                outcomes.append(outcome)
        summary = finish(settings, run_id, as_of, outcomes)
        summary.alerts = alerts.after_run(settings, run_id)
        return summary


def rebuild_history(settings: Settings, sources: list[str] | None = None) -> list[tuple[str, int, int]]:
    """Recompute the price history of the named sources (default: every source with one) from their observations,
    then every event, in one transaction; returns (source, segments, applied runs) of each."""
    with run_lock(settings):
        con = db.connect(settings.db)
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
        run_id, _ = start(settings, chosen, None, flow=REBUILD_FLOW)
        con = db.connect(settings.db)
        try:
            with db.transaction(con):
                for source in chosen:
                    history.rebuild(con, source, settings.removal_runs)
                events.detect(con, run_id, datetime.now(UTC), models=None)
                load.finish_run(con, run_id, datetime.now(UTC), "ok", None)
            counts = con.execute(
                "SELECT s.source, (SELECT count(*) FROM price_segments p WHERE p.source = s.source), count(*) "
                "FROM source_runs s WHERE s.applied GROUP BY s.source ORDER BY s.source"
            ).fetchall()
        finally:
            con.close()
        return [row for row in counts if row[0] in chosen]


def fetch_or_error(
    settings: Settings, name: str, session: requests.Session | None = None
) -> list[Payload] | FetchError:
    """fetch_source, with a FetchError returned instead of raised."""
    try:
        return fetch_source(settings, name, session)
    except FetchError as exc:
        return exc


def close_unloaded(
    con: duckdb.DuckDBPyConnection, run_id: str, outcome: SourceOutcome, clock: float, raw_sha256: str | None = None
) -> SourceOutcome:
    """Close a source run that loaded nothing (failed fetch, failed or collapsed parse, internal error)."""
    outcome.duration_s = time.monotonic() - clock
    load.finish_source_run(
        con,
        run_id,
        outcome.source,
        status=outcome.status,
        finished_at=datetime.now(UTC),
        duration_s=outcome.duration_s,
        size=outcome.bytes or None,
        raw_sha256=raw_sha256,
        error=outcome.error,
        parsed=outcome.parsed,
        loaded=0,
    )
    return outcome


def _notes(skipped: dict[str, int], rejects: list[tuple[str, str]]) -> str | None:
    parts = [f"skipped {count} ({reason})" for reason, count in sorted(skipped.items(), key=lambda kv: -kv[1])]
    if rejects:
        parts.append(f"rejected {len(rejects)}, e.g. {rejects[0][0]}: {rejects[0][1]}")
    return "; ".join(parts) or None


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)
