"""The full-Hub census: pages staged in a file of their own as they arrive (resumable), then applied to the
warehouse as changes in one transaction.

The staging file (data/census/<day>.duckdb) holds the day's listing so far, the raw pages it came from and the
cursor after them; each batch of pages goes in with its cursor in one transaction, so a killed census resumes at the
first page not staged. Nothing reaches the warehouse until the last page has arrived; then `finish` records the raw
pages, adds new repo ids, writes one change row per model whose counters moved (or that left or re-entered the
listing), replaces the current state and marks the day complete, in one transaction; the staging file goes last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from warehouse.db import connect, transaction

STAGING_SCHEMA = """
CREATE TABLE IF NOT EXISTS progress (
    day DATE NOT NULL, run_id VARCHAR NOT NULL, next_url VARCHAR, pages INTEGER NOT NULL, models BIGINT NOT NULL,
    rejected BIGINT NOT NULL, started_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS staged (
    page INTEGER NOT NULL, repo_id VARCHAR NOT NULL, downloads_30d BIGINT NOT NULL,
    downloads_all_time BIGINT NOT NULL, likes BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS pages (
    page INTEGER NOT NULL, url VARCHAR NOT NULL, fetched_at TIMESTAMPTZ NOT NULL, http_status INTEGER NOT NULL,
    bytes BIGINT NOT NULL, sha256 VARCHAR NOT NULL, content_type VARCHAR NOT NULL, path VARCHAR NOT NULL
);
"""
ROWS = pa.schema(
    [
        ("page", pa.int32()),
        ("repo_id", pa.string()),
        ("downloads_30d", pa.int64()),
        ("downloads_all_time", pa.int64()),
        ("likes", pa.int64()),
    ]
)


@dataclass
class Page:
    """One fetched page as staged: where it came from, its archived raw copy, and its columns."""

    url: str
    fetched_at: datetime
    http_status: int
    sha256: str
    size: int
    content_type: str
    path: str
    columns: tuple[list[str], list[int], list[int], list[int]]
    rejected: int


def staging_path(data_dir: Path, day: date) -> Path:
    return data_dir / "census" / f"{day.isoformat()}.duckdb"


def completed(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any] | None:
    """The completed census of a day from the warehouse, or None."""
    rows = con.execute(
        "SELECT pages, models FROM hf_census_days WHERE day = ? AND status = 'complete'", [day]
    ).fetchall()
    return {"pages": rows[0][0], "models": rows[0][1]} if rows else None


class Staging:
    """A day's census in progress, in its own DuckDB file."""

    def __init__(self, path: Path, memory_mb: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.con = duckdb.connect(str(path))
        self.con.execute(f"SET memory_limit = '{memory_mb}MB'")
        self.con.execute(STAGING_SCHEMA)

    def close(self) -> None:
        self.con.close()

    def progress(self) -> dict[str, Any] | None:
        """next_url, pages, models, rejected of the census in this file; None if it never started."""
        rows = self.con.execute("SELECT next_url, pages, models, rejected, run_id FROM progress").fetchall()
        if not rows:
            return None
        next_url, pages, models, rejected, run_id = rows[0]
        return {"next_url": next_url, "pages": pages, "models": models, "rejected": rejected, "run_id": run_id}

    def start(self, day: date, run_id: str, first_url: str) -> None:
        self.con.execute(
            "INSERT INTO progress VALUES (?, ?, ?, 0, 0, 0, ?)", [day, run_id, first_url, datetime.now(UTC)]
        )

    def add(self, pages: list[Page], next_url: str | None) -> None:
        """Stage pages and move the cursor past them, atomically."""
        if not pages:
            return
        first = self.con.execute("SELECT pages FROM progress").fetchall()[0][0]
        numbers = [pa.array([first + k] * len(p.columns[0]), pa.int32()) for k, p in enumerate(pages)]
        rows = pa.Table.from_arrays(
            [
                pa.chunked_array(numbers, pa.int32()),
                *(
                    pa.chunked_array([pa.array(p.columns[i], kind) for p in pages], kind)
                    for i, kind in enumerate((pa.string(), pa.int64(), pa.int64(), pa.int64()))
                ),
            ],
            schema=ROWS,
        )
        meta = pa.table(
            {
                "page": pa.array(range(first, first + len(pages)), pa.int32()),
                "url": [p.url for p in pages],
                "fetched_at": pa.array([p.fetched_at for p in pages], pa.timestamp("us", tz="UTC")),
                "http_status": pa.array([p.http_status for p in pages], pa.int32()),
                "bytes": pa.array([p.size for p in pages], pa.int64()),
                "sha256": [p.sha256 for p in pages],
                "content_type": [p.content_type for p in pages],
                "path": [p.path for p in pages],
            }
        )
        with transaction(self.con):
            self.con.register("incoming_rows", rows)
            self.con.register("incoming_pages", meta)
            try:
                self.con.execute("INSERT INTO staged SELECT * FROM incoming_rows")
                self.con.execute("INSERT INTO pages SELECT * FROM incoming_pages")
            finally:
                self.con.unregister("incoming_rows")
                self.con.unregister("incoming_pages")
            self.con.execute(
                "UPDATE progress SET next_url = ?, pages = pages + ?, models = models + ?, rejected = rejected + ?",
                [next_url, len(pages), rows.num_rows, sum(p.rejected for p in pages)],
            )


def finish(db_path: Path, staging: Path, day: date, run_id: str, source: str, memory_mb: int) -> dict[str, int]:
    """Apply a fully fetched census from its staging file to the warehouse, in one transaction; then delete the
    staging file. Returns models listed, new models, change rows, models no longer listed."""
    con = connect(db_path)
    try:
        con.execute(f"SET memory_limit = '{memory_mb}MB'")
        con.execute(f"ATTACH '{staging}' AS stage (READ_ONLY)")
        try:
            counts = _apply(con, day, run_id, source)
        finally:
            con.execute("DETACH stage")
    finally:
        con.close()
    staging.unlink(missing_ok=True)
    Path(f"{staging}.wal").unlink(missing_ok=True)
    return counts


def _apply(con: duckdb.DuckDBPyConnection, day: date, run_id: str, source: str) -> dict[str, int]:
    with transaction(con):
        con.execute(
            "INSERT INTO raw_documents SELECT sha256, bytes, content_type, path, fetched_at FROM stage.pages "
            "ON CONFLICT DO NOTHING"
        )
        con.execute(
            "INSERT INTO fetches SELECT ?, ?, url, fetched_at, http_status, bytes, sha256, NULL "
            "FROM stage.pages ORDER BY page",
            [run_id, source],
        )
        # one join of the listing against the dictionary of repo ids; the few new ids get the next dense ids
        con.execute(
            "CREATE OR REPLACE TEMP TABLE census_seen AS "
            "SELECT s.*, m.model_id FROM stage.staged s LEFT JOIN hf_census_models m USING (repo_id)"
        )
        new_models = con.execute(
            "INSERT INTO hf_census_models "
            "SELECT coalesce((SELECT max(model_id) FROM hf_census_models), 0) + row_number() OVER (), repo_id, ? "
            "FROM (SELECT DISTINCT repo_id FROM census_seen WHERE model_id IS NULL)",
            [day],
        ).fetchall()[0][0]
        if new_models:
            con.execute(
                "UPDATE census_seen SET model_id = m.model_id FROM hf_census_models m "
                "WHERE census_seen.model_id IS NULL AND m.first_day = ? AND m.repo_id = census_seen.repo_id",
                [day],
            )
        # a model listed twice while the listing shifted under the walk keeps its row from the later page
        repeated = con.execute(
            "SELECT count(*) FROM (SELECT model_id FROM census_seen GROUP BY model_id HAVING count(*) > 1)"
        ).fetchall()[0][0]
        if repeated:
            con.execute(
                "DELETE FROM census_seen WHERE rowid IN (SELECT rowid FROM census_seen "
                "QUALIFY row_number() OVER (PARTITION BY model_id ORDER BY page DESC, rowid DESC) > 1)"
            )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE census_next AS "
            "SELECT coalesce(n.model_id, s.model_id) AS model_id, n.model_id IS NOT NULL AS listed,"
            " n.downloads_30d AS n_30d, n.downloads_all_time AS n_all, n.likes AS n_likes,"
            " s.model_id IS NOT NULL AS known, s.listed AS was_listed,"
            " s.downloads_30d AS s_30d, s.downloads_all_time AS s_all, s.likes AS s_likes "
            "FROM census_seen n FULL JOIN hf_census_state s USING (model_id)"
        )
        changed = con.execute(
            "INSERT INTO hf_census_changes "
            "SELECT ?, model_id, coalesce(n_30d - coalesce(s_30d, 0), 0), coalesce(n_all - coalesce(s_all, 0), 0),"
            " coalesce(n_likes - coalesce(s_likes, 0), 0), listed "
            "FROM census_next "
            "WHERE NOT known OR (NOT listed AND was_listed) OR (listed AND (NOT was_listed OR n_30d <> s_30d"
            " OR n_all <> s_all OR n_likes <> s_likes)) "
            "ORDER BY model_id",
            [day],
        ).fetchall()[0][0]
        unlisted = con.execute("SELECT count(*) FROM hf_census_changes WHERE day = ? AND NOT listed", [day]).fetchall()[
            0
        ][0]
        con.execute(
            "CREATE TABLE hf_census_state_next AS "
            "SELECT model_id, coalesce(n_30d, s_30d) AS downloads_30d, coalesce(n_all, s_all) AS downloads_all_time,"
            " coalesce(n_likes, s_likes) AS likes, listed FROM census_next ORDER BY model_id"
        )
        con.execute("DROP TABLE hf_census_state")
        con.execute("ALTER TABLE hf_census_state_next RENAME TO hf_census_state")
        progress = con.execute("SELECT pages, rejected, started_at FROM stage.progress").fetchall()[0]
        listed = con.execute("SELECT count(*) FROM census_seen").fetchall()[0][0]
        con.execute(
            "INSERT INTO hf_census_days (day, run_id, status, next_url, pages, models, started_at, finished_at, "
            "rejected, unlisted) VALUES (?, ?, 'complete', NULL, ?, ?, ?, ?, ?, ?)",
            [day, run_id, progress[0], listed, progress[2], datetime.now(UTC), progress[1], unlisted],
        )
        con.execute("DROP TABLE census_seen")
        con.execute("DROP TABLE census_next")
    return {"models": int(listed), "new_models": int(new_models), "changed": int(changed), "unlisted": int(unlisted)}
