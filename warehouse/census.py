"""The full-Hub census: pages staged as they arrive (resumable), then applied as changes in one transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pyarrow as pa

from warehouse.db import transaction

STAGING_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("repo_id", pa.string()),
        ("downloads_30d", pa.int64()),
        ("downloads_all_time", pa.int64()),
        ("likes", pa.int64()),
    ]
)


def progress(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any] | None:
    """The census of a day: status, next_url, pages, models; None if it never started."""
    rows = con.execute(
        "SELECT status, next_url, pages, models, run_id FROM hf_census_days WHERE day = ?", [day]
    ).fetchall()
    if not rows:
        return None
    status, next_url, pages, models, run_id = rows[0]
    return {"status": status, "next_url": next_url, "pages": pages, "models": models, "run_id": run_id}


def start(con: duckdb.DuckDBPyConnection, day: date, run_id: str, first_url: str) -> None:
    """Open a day's census at its first page."""
    con.execute(
        "INSERT INTO hf_census_days (day, run_id, status, next_url, started_at) VALUES (?, ?, 'fetching', ?, ?)",
        [day, run_id, first_url, datetime.now(UTC)],
    )


def add_page(
    con: duckdb.DuckDBPyConnection,
    day: date,
    rows: list[tuple[str, int | None, int | None, int | None]],
    next_url: str | None,
    pages: int = 1,
) -> None:
    """Stage pages of (repo_id, downloads_30d, downloads_all_time, likes) and move the cursor past them,
    atomically: a killed census resumes exactly after the last staged page."""
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    table = pa.Table.from_arrays(
        [
            pa.array([day] * len(rows), pa.date32()),
            pa.array(columns[0], pa.string()),
            pa.array(columns[1], pa.int64()),
            pa.array(columns[2], pa.int64()),
            pa.array(columns[3], pa.int64()),
        ],
        schema=STAGING_SCHEMA,
    )
    with transaction(con):
        con.register("incoming_page", table)
        try:
            con.execute("INSERT INTO hf_census_staging SELECT * FROM incoming_page")
        finally:
            con.unregister("incoming_page")
        con.execute(
            "UPDATE hf_census_days SET next_url = ?, pages = pages + ?, models = models + ? WHERE day = ?",
            [next_url, pages, len(rows), day],
        )


def finish(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, int]:
    """Apply a fully fetched census: new ids, one change row per model whose counters moved, the new state."""
    with transaction(con):
        con.execute(
            "CREATE OR REPLACE TEMP TABLE census_today AS SELECT * FROM hf_census_staging WHERE day = ? "
            "QUALIFY row_number() OVER (PARTITION BY repo_id ORDER BY repo_id) = 1",
            [day],
        )
        new_models = con.execute(
            "INSERT INTO hf_census_models "
            "SELECT coalesce((SELECT max(model_id) FROM hf_census_models), 0) + row_number() OVER (ORDER BY t.repo_id),"
            " t.repo_id, ? FROM census_today t ANTI JOIN hf_census_models m USING (repo_id)",
            [day],
        ).fetchall()[0][0]
        changed = con.execute(
            "INSERT INTO hf_census_changes "
            "SELECT ?, m.model_id, t.downloads_30d, t.downloads_all_time, t.likes "
            "FROM census_today t JOIN hf_census_models m USING (repo_id) "
            "LEFT JOIN hf_census_state s ON s.model_id = m.model_id "
            "WHERE s.model_id IS NULL "
            "OR t.downloads_30d IS DISTINCT FROM s.downloads_30d "
            "OR t.downloads_all_time IS DISTINCT FROM s.downloads_all_time "
            "OR t.likes IS DISTINCT FROM s.likes "
            "ORDER BY m.model_id",
            [day],
        ).fetchall()[0][0]
        con.execute(
            "CREATE OR REPLACE TEMP TABLE census_state AS "
            "SELECT m.model_id, t.downloads_30d, t.downloads_all_time, t.likes, CAST(? AS DATE) AS last_day "
            "FROM census_today t JOIN hf_census_models m USING (repo_id) "
            "UNION ALL SELECT s.* FROM hf_census_state s "
            "ANTI JOIN (SELECT m.model_id FROM census_today t JOIN hf_census_models m USING (repo_id)) x "
            "USING (model_id)",
            [day],
        )
        con.execute("DELETE FROM hf_census_state")
        con.execute("INSERT INTO hf_census_state SELECT * FROM census_state ORDER BY model_id")
        listed = con.execute("SELECT count(*) FROM census_today").fetchall()[0][0]
        con.execute("DELETE FROM hf_census_staging WHERE day = ?", [day])
        con.execute(
            "UPDATE hf_census_days SET status = 'complete', models = ?, finished_at = ? WHERE day = ?",
            [listed, datetime.now(UTC), day],
        )
        con.execute("DROP TABLE census_today")
        con.execute("DROP TABLE census_state")
    return {"models": int(listed), "new_models": int(new_models), "changed": int(changed)}
