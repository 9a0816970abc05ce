"""Loads of Hugging Face snapshots: idempotent on (snapshot_date, repo_id)."""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pyarrow as pa

from llmflation.warehouse.db import transaction
from llmflation.warehouse.models import ModelSnapshot

SNAPSHOT_SCHEMA = pa.schema(
    [
        ("snapshot_date", pa.date32()),
        ("repo_id", pa.string()),
        ("author", pa.string()),
        ("downloads_30d", pa.int64()),
        ("downloads_all_time", pa.int64()),
        ("likes", pa.int64()),
        ("trending_score", pa.float64()),
        ("pipeline_tag", pa.string()),
        ("library_name", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("last_modified", pa.timestamp("us", tz="UTC")),
        ("base_models", pa.list_(pa.string())),
        ("relation", pa.string()),
        ("gated", pa.bool_()),
        ("parameters", pa.int64()),
        ("source", pa.string()),
        ("run_id", pa.string()),
        ("raw_sha256", pa.string()),
    ]
)


def load_snapshots(
    con: duckdb.DuckDBPyConnection,
    rows: list[tuple[ModelSnapshot, str | None]],
    *,
    source: str,
    run_id: str,
    on_commit: Callable[[duckdb.DuckDBPyConnection, int], None] | None = None,
) -> int:
    """Insert snapshots (each with its raw document's sha256); a (day, repo) already stored is kept as it is.
    `on_commit` runs in the same transaction (closing the run record), so a killed load leaves nothing half-done.

    Returns how many rows were new.
    """
    table = pa.Table.from_pylist(
        [{**s.model_dump(), "source": source, "run_id": run_id, "raw_sha256": sha} for s, sha in rows],
        schema=SNAPSHOT_SCHEMA,
    )
    columns = ", ".join(SNAPSHOT_SCHEMA.names)
    with transaction(con):
        before = con.execute("SELECT count(*) FROM hf_model_snapshots").fetchall()[0][0]
        con.register("incoming_snapshots", table)
        try:
            con.execute(
                f"INSERT INTO hf_model_snapshots ({columns}) SELECT {columns} FROM incoming_snapshots "
                "ON CONFLICT DO NOTHING"
            )
        finally:
            con.unregister("incoming_snapshots")
        after = con.execute("SELECT count(*) FROM hf_model_snapshots").fetchall()[0][0]
        new = int(after - before)
        if on_commit:
            on_commit(con, new)
    return new
