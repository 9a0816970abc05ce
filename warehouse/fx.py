"""Writes of reference data: dated exchange rates staged from a run's payloads, then loaded where they are new."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa

from llmflation.warehouse import events, load
from llmflation.warehouse.db import transaction
from llmflation.warehouse.models import ExchangeRate

STAGE = "incoming_rates"
RATE_SCHEMA = pa.schema(
    [
        ("date", pa.date32()),
        ("currency", pa.string()),
        ("units_per_eur", pa.decimal128(18, 6)),
        ("raw_sha256", pa.string()),
    ]
)


def start_stage(con: duckdb.DuckDBPyConnection) -> None:
    """An empty staging table for one source run's rates (this connection's own; drop_stage removes it)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {STAGE} (date DATE, currency VARCHAR, units_per_eur DECIMAL(18, 6), "
        "raw_sha256 VARCHAR)"
    )


def stage(con: duckdb.DuckDBPyConnection, rates: list[ExchangeRate], raw_sha256: str) -> None:
    """Append a batch of validated rates, each with the sha256 of its raw document."""
    batch = pa.Table.from_arrays(
        [
            pa.array([r.date for r in rates], pa.date32()),
            pa.array([r.currency for r in rates], pa.string()),
            pa.array([r.units_per_eur for r in rates], pa.decimal128(18, 6)),
            pa.array([raw_sha256] * len(rates), pa.string()),
        ],
        schema=RATE_SCHEMA,
    )
    con.register("incoming_rate_batch", batch)
    try:
        con.execute(f"INSERT INTO {STAGE} SELECT * FROM incoming_rate_batch")
    finally:
        con.unregister("incoming_rate_batch")


def settle_stage(con: duckdb.DuckDBPyConnection, source: str) -> tuple[int, list[tuple[str, str]], int, int]:
    """Reduce the staged rates to one per day and currency; returns (rates, rejects, new, restated): a day and
    currency staged twice with two values is rejected (never guessed), `new` are those the warehouse lacks, and
    `restated` those it holds with another value (the stored one is kept)."""
    conflicts = con.execute(
        f"SELECT date, currency, string_agg(DISTINCT units_per_eur::VARCHAR, ', ' ORDER BY units_per_eur::VARCHAR) "
        f"FROM {STAGE} GROUP BY ALL HAVING count(DISTINCT units_per_eur) > 1 ORDER BY ALL"
    ).fetchall()
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {STAGE} AS SELECT date, currency, any_value(units_per_eur) AS units_per_eur, "
        f"min(raw_sha256) AS raw_sha256 FROM {STAGE} GROUP BY date, currency HAVING count(DISTINCT units_per_eur) = 1"
    )
    ((rates, new, restated),) = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE o.date IS NULL), "
        f"count(*) FILTER (WHERE o.units_per_eur <> i.units_per_eur) "
        f"FROM {STAGE} i LEFT JOIN fx_rates_observed o ON o.source = ? AND o.date = i.date "
        f"AND o.currency = i.currency",
        [source],
    ).fetchall()
    rejects = [
        (f"{day} {currency}", f"conflicting rates in one payload ({values})") for day, currency, values in conflicts
    ]
    return int(rates), rejects, int(new), int(restated)


def drop_stage(con: duckdb.DuckDBPyConnection) -> None:
    """Remove the staging table (after the load, or when the parse failed half way)."""
    con.execute(f"DROP TABLE IF EXISTS {STAGE}")


def load_rates(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    source: str,
    rejects: list[tuple[str, str]],
    apply: bool,
    loaded: int,
    status: str,
    finished_at: datetime,
    duration_s: float,
    items: int,
    parsed: int,
    size: int,
    raw_sha256: str | None,
    error: str | None,
    notes: str | None,
) -> None:
    """Record the rejects and close the source run; if apply, insert the staged rates not stored yet and recompute
    the events of every price in another currency than the dollar (their USD values may have changed). What that
    finds is never news: the prices are not new, only their conversion. All in one transaction."""
    con.register("incoming_rejects", load.rejects_table(rejects, run_id, source))
    try:
        with transaction(con):
            con.execute("INSERT INTO rejects SELECT * FROM incoming_rejects")
            load.finish_source_run(
                con,
                run_id,
                source,
                status=status,
                finished_at=finished_at,
                duration_s=duration_s,
                items=items,
                parsed=parsed,
                rejected=len(rejects),
                loaded=loaded if apply else 0,
                size=size,
                raw_sha256=raw_sha256,
                error=error,
                notes=notes,
            )
            if apply:
                con.execute("UPDATE source_runs SET applied = true WHERE run_id = ? AND source = ?", [run_id, source])
                con.execute(
                    "INSERT INTO fx_rates_observed (source, date, currency, units_per_eur, run_id, raw_sha256) "
                    f"SELECT ?, i.date, i.currency, i.units_per_eur, ?, i.raw_sha256 FROM {STAGE} i "
                    "ANTI JOIN fx_rates_observed o ON o.source = ? AND o.date = i.date AND o.currency = i.currency",
                    [source, run_id, source],
                )
                if loaded:
                    converted = con.execute(
                        "SELECT DISTINCT model_key FROM price_segments WHERE currency <> 'USD' AND unit = 'mtok'"
                    ).fetchall()
                    events.detect(con, run_id, finished_at, [key for (key,) in converted], quiet_prices=True)
    finally:
        con.unregister("incoming_rejects")
