"""The full-Hub census applied: a fully fetched day, staged by warehouse/census_staging.py, becomes changes in the
warehouse in one transaction.

Nothing reaches the warehouse until the last page has arrived; then `finish` records the raw pages, adds new repo
ids, writes one change row per model whose counters moved (or that left or re-entered the listing), replaces the
current state and marks the day complete, in one transaction; the staging folder goes last.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from llmflation.warehouse.census_staging import (
    Page,
    Staged,
    Staging,
    from_ipc,
    restage,
    spool,
    stage_batch,
    staging_path,
    warm_up,
    write_pages,
)
from llmflation.warehouse.db import connect, transaction

__all__ = [
    "Page",
    "Staged",
    "Staging",
    "completed",
    "finish",
    "from_ipc",
    "restage",
    "spool",
    "stage_batch",
    "staging_path",
    "warm_up",
    "write_pages",
]


def completed(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any] | None:
    """The completed census of a day from the warehouse, or None."""
    rows = con.execute(
        "SELECT pages, models FROM hf_census_days WHERE day = ? AND status = 'complete'", [day]
    ).fetchall()
    return {"pages": rows[0][0], "models": rows[0][1]} if rows else None


def finish(db_path: Path, stage: Staging, day: date, run_id: str, source: str, memory_mb: int) -> dict[str, int]:
    """Apply a fully fetched census (its rows in memory, its page records in its staging folder) to the warehouse,
    in one transaction; then delete the staging folder. Returns models listed, new models, change rows, models no
    longer listed."""
    state = stage.progress()
    if state is None or not state["batches"]:
        raise RuntimeError(f"census staging {stage.path} has no staged page")
    rows, pages = stage.listing(), stage.pages()
    if rows.num_rows != state["models"] or pages.num_rows != state["pages"]:
        raise RuntimeError(
            f"census staging {stage.path} holds {rows.num_rows} rows of {pages.num_rows} pages, "
            f"but its progress counts {state['models']} of {state['pages']}"
        )
    con = connect(db_path)
    try:
        con.execute(f"SET memory_limit = '{memory_mb}MB'")
        con.register("stage_rows", rows)
        con.register("stage_pages", pages)
        del rows

        def release() -> None:  # the listing is in DuckDB now: its Arrow copy goes before the joins need memory
            con.unregister("stage_rows")
            stage.rows.clear()

        try:
            counts = _apply(con, day, run_id, source, state, release)
        finally:
            release()
            con.unregister("stage_pages")
    finally:
        con.close()
    stage.remove()
    return counts


def _apply(
    con: duckdb.DuckDBPyConnection,
    day: date,
    run_id: str,
    source: str,
    state: dict[str, Any],
    release: Callable[[], None] = lambda: None,
) -> dict[str, int]:
    with transaction(con):
        con.execute(
            "INSERT INTO raw_documents SELECT sha256, bytes, content_type, path, fetched_at FROM stage_pages "
            "ON CONFLICT DO NOTHING"
        )
        con.execute(
            "INSERT INTO fetches (run_id, source, url, fetched_at, http_status, bytes, sha256, error, final_url) "
            "SELECT ?, ?, url, fetched_at, http_status, bytes, sha256, NULL, final_url FROM stage_pages ORDER BY page",
            [run_id, source],
        )
        first = not con.execute("SELECT count(*) FROM (FROM hf_census_models LIMIT 1)").fetchall()[0][0]
        if first:
            new_models = _number_first(con, day, release)
        else:  # one join of the listing against the dictionary of repo ids; the few new ids get the next dense ids
            con.execute(
                "CREATE OR REPLACE TEMP TABLE census_seen AS "
                "SELECT s.page, m.model_id, CASE WHEN m.model_id IS NULL THEN s.repo_id END AS new_repo,"
                " s.downloads_30d, s.downloads_all_time, s.likes FROM stage_rows s "
                "LEFT JOIN hf_census_models m USING (repo_id)"
            )
            release()
            new_models = _add_new_models(con, day)
        # the first census's listing is already in model_id order; any other comes out of a join in no order
        in_order = "" if first else " ORDER BY model_id"
        state_rows = con.execute("SELECT count(*) FROM hf_census_state").fetchall()[0][0]
        next_kind = _join_state(con, state_rows)
        # a known model listed twice while the listing shifted under the walk keeps its row from the later page;
        # cheap to detect: a known model listed k times joins its state row k times
        known_rows = con.execute("SELECT count(*) FROM census_next WHERE known").fetchall()[0][0]
        if known_rows > state_rows:
            con.execute(
                "DELETE FROM census_seen WHERE rowid IN (SELECT rowid FROM census_seen "
                "QUALIFY row_number() OVER (PARTITION BY model_id ORDER BY page DESC, rowid DESC) > 1)"
            )
            _join_state(con, state_rows)
        changed = con.execute(
            "INSERT INTO hf_census_changes "
            "SELECT ?, model_id, coalesce(n_30d - coalesce(s_30d, 0), 0), coalesce(n_all - coalesce(s_all, 0), 0),"
            " coalesce(n_likes - coalesce(s_likes, 0), 0), listed "
            "FROM census_next "
            "WHERE NOT known OR (NOT listed AND was_listed) OR (listed AND (NOT was_listed OR n_30d <> s_30d"
            " OR n_all <> s_all OR n_likes <> s_likes))" + in_order,
            [day],
        ).fetchall()[0][0]
        unlisted = con.execute("SELECT count(*) FROM census_next WHERE NOT listed AND was_listed").fetchall()[0][0]
        con.execute(  # in model_id order: a fifth smaller after 30 days than in the join's order
            "CREATE TABLE hf_census_state_next AS "
            "SELECT model_id, coalesce(n_30d, s_30d) AS downloads_30d, coalesce(n_all, s_all) AS downloads_all_time,"
            " coalesce(n_likes, s_likes) AS likes, listed FROM census_next" + in_order
        )
        con.execute("DROP TABLE hf_census_state")
        con.execute("ALTER TABLE hf_census_state_next RENAME TO hf_census_state")
        listed = con.execute("SELECT count(*) FROM census_seen").fetchall()[0][0]
        con.execute(
            "INSERT INTO hf_census_days (day, run_id, status, next_url, pages, models, started_at, finished_at, "
            "rejected, unlisted) VALUES (?, ?, 'complete', NULL, ?, ?, ?, ?, ?, ?)",
            [
                day,
                run_id,
                state["pages"],
                listed,
                datetime.fromisoformat(state["started_at"]),
                datetime.now(UTC),
                state["rejected"],
                unlisted,
            ],
        )
        con.execute(f"DROP {next_kind} census_next")
        con.execute("DROP TABLE census_seen")
    return {"models": int(listed), "new_models": int(new_models), "changed": int(changed), "unlisted": int(unlisted)}


def _join_state(con: duckdb.DuckDBPyConnection, state_rows: int) -> str:
    """census_next: the day's listing against every model's current state, one row per model seen either side. With
    no state yet (the first census), the listing itself, read through a view rather than copied. Returns which of
    the two census_next is."""
    if not state_rows:
        con.execute(
            "CREATE OR REPLACE TEMP VIEW census_next AS "
            "SELECT model_id, true AS listed, downloads_30d AS n_30d, downloads_all_time AS n_all, likes AS n_likes,"
            " false AS known, CAST(NULL AS BOOLEAN) AS was_listed, CAST(NULL AS BIGINT) AS s_30d,"
            " CAST(NULL AS BIGINT) AS s_all, CAST(NULL AS BIGINT) AS s_likes FROM census_seen"
        )
        return "VIEW"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE census_next AS "
        "SELECT coalesce(n.model_id, s.model_id) AS model_id, n.model_id IS NOT NULL AS listed,"
        " n.downloads_30d AS n_30d, n.downloads_all_time AS n_all, n.likes AS n_likes,"
        " s.model_id IS NOT NULL AS known, s.listed AS was_listed,"
        " s.downloads_30d AS s_30d, s.downloads_all_time AS s_all, s.likes AS s_likes "
        "FROM census_seen n FULL JOIN hf_census_state s USING (model_id)"
    )
    return "TABLE"


def _number_first(con: duckdb.DuckDBPyConnection, day: date, release: Callable[[], None]) -> int:
    """census_seen for a warehouse's first census: every listed model is new and its id is its position in the
    listing, so no join, no numbering pass and no sort; the dictionary is written straight from it. A listing that
    names a model twice goes the general way (`_add_new_models`). Returns how many models were new."""
    listed = con.execute("SELECT count(*) FROM stage_rows").fetchall()[0][0]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE census_seen AS "
        "SELECT s.page, CAST(r.range AS INTEGER) AS model_id, s.repo_id AS new_repo, s.downloads_30d,"
        " s.downloads_all_time, s.likes FROM stage_rows s POSITIONAL JOIN range(1, ? + 1) r",
        [listed],
    )
    release()
    # as many distinct hashes as rows proves every repo id distinct; fewer (a repeat, or two ids with one hash)
    # is settled exactly
    if con.execute("SELECT count(DISTINCT hash(new_repo)) FROM census_seen").fetchall()[0][0] < listed:
        con.execute("UPDATE census_seen SET model_id = NULL")
        return _add_new_models(con, day)
    con.execute("INSERT INTO hf_census_models SELECT model_id, new_repo, ? FROM census_seen", [day])
    return int(listed)


def _add_new_models(con: duckdb.DuckDBPyConnection, day: date) -> int:
    """Give the listing's new repo ids (model_id NULL in census_seen) the next dense ids, in census_seen and in the
    dictionary; a new model listed twice keeps its row from the later page. Returns how many were new."""
    unknown, distinct = con.execute(
        "SELECT count(*), count(DISTINCT new_repo) FROM census_seen WHERE model_id IS NULL"
    ).fetchall()[0]
    if not unknown:
        return 0
    if distinct < unknown:
        con.execute(
            "DELETE FROM census_seen WHERE rowid IN (SELECT rowid FROM census_seen WHERE model_id IS NULL "
            "QUALIFY row_number() OVER (PARTITION BY new_repo ORDER BY page DESC, rowid DESC) > 1)"
        )
    top = con.execute("SELECT coalesce(max(model_id), 0) FROM hf_census_models").fetchall()[0][0]
    listed = con.execute("SELECT count(*) FROM census_seen").fetchall()[0][0]
    if 2 * distinct > listed:  # mostly new (a first census that lists a model twice): one pass, no join back
        con.execute(
            "CREATE OR REPLACE TEMP TABLE census_seen AS "
            "SELECT page, model_id, new_repo, downloads_30d, downloads_all_time, likes FROM census_seen "
            "WHERE model_id IS NOT NULL UNION ALL "
            "SELECT page, CAST(? + row_number() OVER () AS INTEGER), new_repo, downloads_30d, downloads_all_time,"
            " likes FROM census_seen WHERE model_id IS NULL",
            [top],
        )
        con.execute(
            "INSERT INTO hf_census_models SELECT model_id, new_repo, ? FROM census_seen WHERE new_repo IS NOT NULL",
            [day],
        )
    else:  # a few (a nightly census): number them, then one small join back
        con.execute(
            "INSERT INTO hf_census_models SELECT ? + row_number() OVER (), new_repo, ? FROM census_seen "
            "WHERE new_repo IS NOT NULL",
            [top, day],
        )
        con.execute(
            "UPDATE census_seen SET model_id = m.model_id FROM hf_census_models m "
            "WHERE census_seen.model_id IS NULL AND m.first_day = ? AND m.repo_id = census_seen.new_repo",
            [day],
        )
    return int(distinct)
