"""Writes to the ledger: runs, fetches, raw documents, observations, and their fold into price history."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from llmflation.extractors.base import ModelFacts, Payload
from llmflation.extractors.identity import identify
from llmflation.warehouse import archive, events, history
from llmflation.warehouse.db import transaction
from llmflation.warehouse.models import PriceObservation

NO_FACTS = ModelFacts()
OBSERVATION_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("source", pa.string()),
        ("observed_at", pa.timestamp("us", tz="UTC")),
        ("provider", pa.string()),
        ("provider_model_id", pa.string()),
        ("model_key", pa.string()),
        ("region", pa.string()),
        ("tier", pa.string()),
        ("metric", pa.string()),
        ("unit", pa.string()),
        ("currency", pa.string()),
        ("amount", pa.decimal128(38, 18)),
        ("effective_from", pa.timestamp("us", tz="UTC")),
        ("effective_to", pa.timestamp("us", tz="UTC")),
        ("raw_sha256", pa.string()),
    ]
)

REJECT_SCHEMA = pa.schema(
    [("run_id", pa.string()), ("source", pa.string()), ("item", pa.string()), ("reason", pa.string())]
)

IDENTITY_SCHEMA = pa.schema(
    [
        ("provider", pa.string()),
        ("provider_model_id", pa.string()),
        ("model_key", pa.string()),
        ("family", pa.string()),
        ("open_weights", pa.bool_()),
        ("mapped", pa.bool_()),
        ("hf_repo", pa.string()),
        ("first_seen_at", pa.timestamp("us", tz="UTC")),
        ("stated_open_weights", pa.bool_()),
        ("release_date", pa.date32()),
    ]
)


def start_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    flow: str,
    started_at: datetime,
    as_of: datetime,
    sources: list[str],
) -> None:
    """Record a run as running; runs left running by a killed process are marked aborted first."""
    with transaction(con):
        con.execute(
            "UPDATE source_runs SET status = 'aborted', error = 'the process stopped before it finished' "
            "WHERE status = 'running'"
        )
        con.execute(
            "UPDATE runs SET status = 'aborted', note = 'the process stopped before it finished' "
            "WHERE status = 'running'"
        )
        con.execute(
            "INSERT INTO runs (run_id, flow, started_at, as_of, sources, status) VALUES (?, ?, ?, ?, ?, ?)",
            [run_id, flow, started_at, as_of, sources, "running"],
        )


def finish_run(
    con: duckdb.DuckDBPyConnection, run_id: str, finished_at: datetime, status: str, note: str | None
) -> None:
    """Close a run with its overall status."""
    con.execute(
        "UPDATE runs SET finished_at = ?, status = ?, note = ? WHERE run_id = ?",
        [finished_at, status, note, run_id],
    )


def abort_run(con: duckdb.DuckDBPyConnection, run_id: str, finished_at: datetime, note: str) -> None:
    """Close an interrupted run, and its source runs still running, as aborted (what they had loaded stays)."""
    with transaction(con):
        con.execute(
            "UPDATE source_runs SET status = 'aborted', finished_at = ?, error = ? "
            "WHERE run_id = ? AND status = 'running'",
            [finished_at, note, run_id],
        )
        con.execute(
            "UPDATE runs SET status = 'aborted', finished_at = ?, note = ? WHERE run_id = ? AND status = 'running'",
            [finished_at, note, run_id],
        )


def start_source_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    source: str,
    observed_at: datetime,
    started_at: datetime,
    kind: str | None = None,
) -> None:
    """Record that a source's ingestion began (it stays 'running' if the process dies)."""
    con.execute(
        "INSERT INTO source_runs (run_id, source, kind, observed_at, started_at, status) VALUES (?, ?, ?, ?, ?, ?)",
        [run_id, source, kind, observed_at, started_at, "running"],
    )


def record_fetch(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    source: str,
    url: str,
    fetched_at: datetime,
    http_status: int | None,
    size: int | None,
    sha256: str | None,
    error: str | None,
    *,
    final_url: str | None = None,
) -> None:
    """One row per HTTP fetch, successful or not: the URL asked for and, after a redirect, the one that answered
    (both without credentials), and the HTTP status of the response, an error's too."""
    con.execute(
        "INSERT INTO fetches (run_id, source, url, fetched_at, http_status, bytes, sha256, error, final_url) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [run_id, source, url, fetched_at, http_status, size, sha256, error, final_url],
    )


def archive_payload(
    con: duckdb.DuckDBPyConnection, data_dir: Path, run_id: str, payload: Payload, *, record: bool = True
) -> str:
    """Store the raw bytes (file first, then the row) and record the fetch (unless the caller records it with its
    error); returns the sha256."""
    relative = archive.store(data_dir, payload.sha256, payload.content)
    with transaction(con):
        con.execute(
            "INSERT INTO raw_documents VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [payload.sha256, len(payload.content), payload.content_type, relative, payload.fetched_at],
        )
        if record:
            record_fetch(
                con,
                run_id,
                payload.source,
                payload.url,
                payload.fetched_at,
                payload.status,
                len(payload.content),
                payload.sha256,
                None,
                final_url=payload.final_url,
            )
    return payload.sha256


def previous_healthy_rows(
    con: duckdb.DuckDBPyConnection, source: str, observed_at: datetime, run_id: str
) -> int | None:
    """Parsed rows of the source's latest applied run at or before observed_at (None if there is none)."""
    row = con.execute(
        "SELECT parsed FROM source_runs WHERE source = ? AND applied AND observed_at <= ? AND run_id <> ? "
        "ORDER BY observed_at DESC, started_at DESC LIMIT 1",
        [source, observed_at, run_id],
    ).fetchall()
    return row[0][0] if row else None


def observation_table(
    rows: list[tuple[PriceObservation, str]], run_id: str, source: str, observed_at: datetime
) -> pa.Table:
    """A run's observations (each with the sha256 of its raw document) as the rows of `observations`."""
    return pa.Table.from_pylist(
        [
            {**obs.model_dump(), "run_id": run_id, "source": source, "observed_at": observed_at, "raw_sha256": sha}
            for obs, sha in rows
        ],
        schema=OBSERVATION_SCHEMA,
    )


def rejects_table(rejects: list[tuple[str, str]], run_id: str, source: str) -> pa.Table:
    """A source run's rejects (item, reason) as the rows of `rejects`."""
    return pa.Table.from_pylist(
        [{"run_id": run_id, "source": source, "item": item[:300], "reason": reason[:500]} for item, reason in rejects],
        schema=REJECT_SCHEMA,
    )


def unit_shift(
    con: duckdb.DuckDBPyConnection, source: str, rows: list[tuple[PriceObservation, str]], observed_at: datetime
) -> tuple[int, int]:
    """(moved, compared): of the run's non-zero prices whose offer has a current non-zero value in the source's
    history, how many differ from it by a factor of 100 or more (a whole page read in another unit)."""
    con.register("incoming_prices", observation_table(rows, "", source, observed_at))
    try:
        found = con.execute(
            f"SELECT count(*) FILTER (WHERE greatest(o.amount / s.amount, s.amount / o.amount) >= 100), count(*) "
            f"FROM incoming_prices o JOIN price_segments s ON s.source = ? AND s.latest AND s.series_end IS NULL "
            f"AND s.amount > 0 AND o.amount > 0 AND s.currency = o.currency AND {history.join_on('s', 'o')}",
            [source],
        ).fetchall()
    finally:
        con.unregister("incoming_prices")
    return int(found[0][0]), int(found[0][1])


def load_observations(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    source: str,
    observed_at: datetime,
    rows: list[tuple[PriceObservation, str]],
    rejects: list[tuple[str, str]],
    apply: bool,
    removal_runs: int,
    status: str,
    finished_at: datetime,
    duration_s: float,
    items: int,
    parsed: int,
    size: int,
    raw_sha256: str | None,
    error: str | None,
    notes: str | None,
    hf_repos: dict[str, str] | None = None,
    facts: dict[tuple[str, str], ModelFacts] | None = None,
) -> None:
    """Insert observations (each with the sha256 of its raw document) and rejects, close the source run;
    if apply, fold them into the source's history.

    All in one transaction: a process killed here leaves the ledger as it was before.
    """
    table = observation_table(rows, run_id, source, observed_at)
    reject_table = rejects_table(rejects, run_id, source)
    identities = pa.Table.from_pylist(
        [
            {
                "provider": provider,
                "provider_model_id": pid,
                "model_key": key,
                "family": ident.family,
                "open_weights": ident.open_weights,
                "mapped": ident.mapped,
                "hf_repo": (hf_repos or {}).get(pid),
                "first_seen_at": observed_at,
                "stated_open_weights": stated.open_weights,
                "release_date": stated.release_date,
            }
            for (provider, pid, key) in sorted({(o.provider, o.provider_model_id, o.model_key) for o, _ in rows})
            for ident in [identify(provider, pid)]
            for stated in [(facts or {}).get((provider, pid), NO_FACTS)]
        ],
        schema=IDENTITY_SCHEMA,
    )
    columns = ", ".join(OBSERVATION_SCHEMA.names)
    con.register("incoming_observations", table)
    con.register("incoming_rejects", reject_table)
    con.register("incoming_identities", identities)
    try:
        with transaction(con):
            con.execute(f"INSERT INTO observations ({columns}) SELECT {columns} FROM incoming_observations")
            con.execute("INSERT INTO rejects SELECT * FROM incoming_rejects")
            con.execute(
                "INSERT INTO model_identities BY NAME SELECT * FROM incoming_identities "
                "ON CONFLICT (provider, provider_model_id) DO UPDATE SET "
                "hf_repo = coalesce(EXCLUDED.hf_repo, model_identities.hf_repo), "
                "stated_open_weights = coalesce(EXCLUDED.stated_open_weights, model_identities.stated_open_weights), "
                "release_date = coalesce(EXCLUDED.release_date, model_identities.release_date)"
            )
            finish_source_run(
                con,
                run_id,
                source,
                status=status,
                finished_at=finished_at,
                duration_s=duration_s,
                items=items,
                parsed=parsed,
                rejected=len(rejects),
                loaded=len(rows) if apply else 0,
                size=size,
                raw_sha256=raw_sha256,
                error=error,
                notes=notes,
            )
            if apply:
                con.execute("UPDATE source_runs SET applied = true WHERE run_id = ? AND source = ?", [run_id, source])
                touched = history.fold_run(con, source, run_id, observed_at, removal_runs, "incoming_observations")
                events.detect(con, run_id, finished_at, touched)
    finally:
        for name in ("incoming_observations", "incoming_rejects", "incoming_identities"):
            con.unregister(name)


def finish_source_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    source: str,
    *,
    status: str,
    finished_at: datetime,
    duration_s: float,
    items: int | None = None,
    parsed: int | None = None,
    rejected: int | None = None,
    loaded: int | None = None,
    size: int | None = None,
    raw_sha256: str | None = None,
    error: str | None = None,
    notes: str | None = None,
) -> None:
    """Close a source run with its status and counts."""
    con.execute(
        "UPDATE source_runs SET status = ?, finished_at = ?, duration_s = ?, items = ?, parsed = ?, "
        "rejected = ?, "
        "loaded = ?, bytes = ?, raw_sha256 = ?, error = ?, notes = ? WHERE run_id = ? AND source = ?",
        [
            status,
            finished_at,
            duration_s,
            items,
            parsed,
            rejected,
            loaded,
            size,
            raw_sha256,
            error,
            notes,
            run_id,
            source,
        ],
    )
