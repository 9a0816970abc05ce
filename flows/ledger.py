"""A run's life in the ledger, the one way every command records one: the run lock, the run record, its source
runs' outcomes, and its close (status, and the events its source runs alone show).

    with ledger.recorded(settings, ["openrouter"], as_of) as run:
        run.outcomes.append(pipeline.ingest(settings, run.run_id, "openrouter", run.as_of, fetched))
    run.summary  # ok, partial or failed

The price run, the adoption run, imports, the census and rebuilds all go through `recorded`; a process killed
inside it leaves its run `running`, and the next run marks it `aborted` (it holds the run lock, so no run left
`running` is alive).
"""

from __future__ import annotations

import logging
import signal
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import filelock

from llmflation.extractors.errors import LlmflationError
from llmflation.flows import interrupts
from llmflation.flows.settings import Settings
from llmflation.warehouse import db, events, load

FLOW_NAME = "track-prices"

log = logging.getLogger("llmflation.ledger")


class RunInProgress(LlmflationError):
    """Another run holds the warehouse's run lock."""


class DataFolderError(LlmflationError):
    """The data folder cannot be created or written (read-only, or another user's)."""


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
    scheduled flows wait for each other, a command-line run does not).

    Re-entrant within a process: `llmflation run` takes it before anything else and holds it for the whole
    command, and the flows it runs in the same process take it again without waiting."""
    if settings.db.is_dir():  # before the lock file beside it is made
        raise DataFolderError(f"{settings.db} is a directory, not a warehouse file")
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFolderError(f"cannot create the data folder {settings.data_dir} ({exc.strerror or exc})") from exc
    # One lock object per lock file in the process, shared by its threads: taking it again only counts. (Two
    # objects on one file would conflict with each other, as two processes do.)
    lock = filelock.FileLock(settings.lock_path, is_singleton=True, thread_local=False)
    try:
        lock.acquire(timeout=wait_s)
    except filelock.Timeout as exc:
        raise RunInProgress(
            f"another llmflation run is already writing to {settings.db} (lock {settings.lock_path}); "
            "wait for it to finish"
        ) from exc
    except OSError as exc:  # a read-only or foreign data folder: a run could write nothing there anyway
        raise DataFolderError(
            f"cannot write to the data folder {settings.data_dir}: the run lock {settings.lock_path} cannot be "
            f"created ({exc.strerror or exc})"
        ) from exc
    try:
        yield
    finally:
        lock.release()


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A run step's connection to the warehouse: a query holding the file is waited for up to settings.lock_wait
    and named in the log, as a scheduled run waits for another run."""
    return db.connect(settings.db, query_wait_s=settings.lock_wait, on_wait=log.warning)


def using(
    settings: Settings, con: duckdb.DuckDBPyConnection | None = None
) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
    """The connection given, or a run step's own (as connect opens it), closed afterwards."""
    return db.using(settings.db, con, query_wait_s=settings.lock_wait, on_wait=log.warning)


@dataclass
class Run:
    """A run being recorded: its id and as-of time, the outcomes of its source runs, and its summary once closed."""

    settings: Settings
    run_id: str
    as_of: datetime
    outcomes: list[SourceOutcome] = field(default_factory=list)
    summary: RunSummary | None = None
    con: duckdb.DuckDBPyConnection | None = None  # held for the whole run, or None: each step connects

    def close(self) -> RunSummary:
        """Close the run now (the lock is still held, for what must follow it, such as sending its alerts)."""
        if self.summary is None:
            self.summary = finish(self.settings, self.run_id, self.as_of, self.outcomes, self.con)
        return self.summary


@contextmanager
def recorded(
    settings: Settings,
    sources: list[str],
    as_of: datetime | None = None,
    flow: str = FLOW_NAME,
    wait_s: float = 0,
    *,
    hold: bool = False,
) -> Iterator[Run]:
    """Hold the run lock (waiting up to wait_s for another run), record the run, and close it with the outcomes
    its body appended, unless the body closed it; the summary is on the Run afterwards.

    hold: keep one connection open for the whole run (run.con), for runs that do not wait on the network; a run
    that fetches connects for each step, so that queries get in while it waits."""
    with run_lock(settings, wait_s=wait_s), using(settings) if hold else nullcontext() as con:
        try:
            run_id, observed_at = start(settings, sources, as_of, flow, con)
            run = Run(settings, run_id, observed_at, con=con)
            try:
                yield run
            except BaseException as exc:  # Ctrl-C, SIGTERM: what the run had loaded stays, the rest was rolled back
                number = _interrupt(exc)
                if run.summary is None and number is not None:
                    note = f"interrupted ({signal.Signals(number).name}) before it finished"
                    with using(settings, con) as connection:
                        load.abort_run(connection, run_id, datetime.now(UTC), note)
                raise
            run.close()
        except duckdb.Error as exc:
            if db.is_damage(exc):  # wherever the run met it, it is the file's fault: say so
                raise db.explain(settings.db, exc) from exc
            raise


def start(
    settings: Settings,
    sources: list[str],
    as_of: datetime | None,
    flow: str = FLOW_NAME,
    con: duckdb.DuckDBPyConnection | None = None,
) -> tuple[str, datetime]:
    """Open a run in the ledger; returns its id and its as-of time (now unless given)."""
    started = datetime.now(UTC)
    as_of = _aware(as_of) or started
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    with using(settings, con) as connection:
        load.start_run(connection, run_id, flow, started, as_of, sources)
    return run_id, as_of


def finish(
    settings: Settings,
    run_id: str,
    as_of: datetime,
    outcomes: list[SourceOutcome],
    con: duckdb.DuckDBPyConnection | None = None,
) -> RunSummary:
    """Close the run: ok if every source is ok, failed if none is, partial otherwise."""
    healthy = sum(o.status == "ok" for o in outcomes)
    status = "ok" if healthy == len(outcomes) else "failed" if healthy == 0 else "partial"
    note = "; ".join(f"{o.source}: {o.error}" for o in outcomes if o.error) or None
    with using(settings, con) as connection, db.transaction(connection):
        # what source runs alone show (a source broken): price events came with the loads
        events.detect(connection, run_id, datetime.now(UTC), models=())
        load.finish_run(connection, run_id, datetime.now(UTC), status, note)
    return RunSummary(run_id, as_of, status, outcomes)


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


def collapsed(parsed: int, previous: int | None, ratio: float, what: str) -> str | None:
    """Why a parse is a broken source's (below `ratio` of the rows of the source's last healthy run), or None."""
    if previous and parsed < previous * ratio:
        return (
            f"parsed {parsed} {what}, fewer than {ratio:.0%} of the {previous} of its last healthy run; "
            "quarantined, not applied"
        )
    return None


def source_notes(
    skipped: Mapping[str, int], rejects: list[tuple[str, str]], elsewhere: list[str], *more: str
) -> str | None:
    """A source run's notes: what its parser skipped and why, a rejected example, redirects to another host."""
    parts = [f"skipped {count} ({reason})" for reason, count in sorted(skipped.items(), key=lambda kv: -kv[1])]
    if rejects:
        parts.append(f"rejected {len(rejects)}, e.g. {rejects[0][0]}: {rejects[0][1]}")
    if elsewhere:
        parts.append(f"served by another host after a redirect: {', '.join(elsewhere)}")
    return "; ".join([*parts, *more]) or None


def _interrupt(exc: BaseException) -> int | None:
    """The signal behind an exception that ends a run: SIGINT's KeyboardInterrupt, Prefect's TerminationSignal, or
    any error once the process was interrupted (a DuckDB statement cut short); None for a run's own failure."""
    if isinstance(exc, GeneratorExit | SystemExit):
        return None
    if interrupts.received() is not None:
        return interrupts.received()
    if isinstance(exc, Exception):
        return None
    return getattr(exc, "signum", None) or getattr(exc, "signal", None) or signal.SIGINT


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)
