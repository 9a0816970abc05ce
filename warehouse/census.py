"""The full-Hub census in the warehouse: a day in progress, its staged pages, and the day applied as changes.

A census day is a row of hf_census_days. While it is fetched (status 'fetching') the row holds its cursor
(next_url, kept without credentials) and its counts so far. Each batch of pages is archived as one pack (a zstandard
frame per page, synced) and then recorded, in the transaction that moves the cursor past it: its raw documents, its
fetches and its place in the listing (hf_census_pages). So a killed census resumes at the first page not recorded,
and a pack that no transaction recorded is never read (the next attempt deletes it).

Nothing of a day reaches the census tables until `apply`: in one transaction it adds new repo ids, writes one change
row per model whose counters moved (or that left or re-entered the listing), replaces the current state and marks
the day complete.
"""

from __future__ import annotations

import uuid
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from llmflation.extractors.base import Payload
from llmflation.warehouse import archive
from llmflation.warehouse.db import DamagedWarehouse, connect, transaction

ROWS = pa.schema(
    [
        ("page", pa.int32()),
        ("repo_id", pa.string()),
        ("downloads_30d", pa.int64()),
        ("downloads_all_time", pa.int64()),
        ("likes", pa.int64()),
    ]
)
Columns = tuple[list[str], list[int], list[int], list[int]]


@dataclass(frozen=True)
class Day:
    """A census day as the warehouse holds it."""

    status: str  # fetching, complete
    next_url: str | None  # where a resumed census continues (None: every page is staged)
    pages: int
    models: int
    rejected: int


@dataclass
class Page:
    """A fetched page and what the census keeps of it: its columns and the number of items rejected."""

    payload: Payload
    columns: Columns
    rejected: int


def state(con: duckdb.DuckDBPyConnection, day: date) -> Day | None:
    rows = con.execute(
        "SELECT status, next_url, pages, models, rejected FROM hf_census_days WHERE day = ?", [day]
    ).fetchall()
    return Day(*rows[0]) if rows else None


def begin(con: duckdb.DuckDBPyConnection, data_dir: Path, day: date, run_id: str, first_url: str) -> Day:
    """The day's census as it stands, started at first_url if it never was; packs of this day that no transaction
    recorded (a census killed between writing a pack and recording it) are deleted."""
    if state(con, day) is None:
        con.execute(
            "INSERT INTO hf_census_days (day, run_id, status, next_url, pages, models, started_at, rejected, unlisted)"
            " VALUES (?, ?, 'fetching', ?, 0, 0, ?, 0, 0)",
            [day, run_id, first_url, datetime.now(UTC)],
        )
    folder = data_dir / pack_folder(day)
    if folder.is_dir():
        recorded = {
            path
            for (path,) in con.execute(
                "SELECT DISTINCT split_part(path, '#', 1) FROM raw_documents WHERE starts_with(path, ?)",
                [pack_folder(day) + "/"],
            ).fetchall()
        }
        for pack in folder.iterdir():
            if f"{pack_folder(day)}/{pack.name}" not in recorded:
                pack.unlink()
    day_state = state(con, day)
    assert day_state is not None
    return day_state


def pack_folder(day: date) -> str:
    """Where a day's raw pages are archived, relative to the data folder: one pack per batch."""
    return f"raw/census/{day.isoformat()}"


def stage(
    con: duckdb.DuckDBPyConnection,
    data_dir: Path,
    day: date,
    run_id: str,
    source: str,
    pages: list[Page],
    next_url: str | None,
) -> int:
    """Archive a batch of pages as one pack (synced), then record them and move the cursor to next_url, in one
    transaction. Returns the number of the batch's first page in the day's listing."""
    first = state(con, day).pages  # type: ignore[union-attr]
    pack = archive.Pack(data_dir, f"{pack_folder(day)}/{first:06d}-{uuid.uuid4().hex[:8]}.zst")
    try:
        members = [pack.add(page.payload.content) for page in pages]
    except BaseException:
        pack.discard()
        raise
    pack.close()
    batch = pa.table(
        {
            "page": pa.array(range(first, first + len(pages)), pa.int32()),
            "url": [p.payload.url for p in pages],
            "final_url": pa.array([p.payload.final_url for p in pages], pa.string()),
            "fetched_at": pa.array([p.payload.fetched_at for p in pages], pa.timestamp("us", tz="UTC")),
            "http_status": pa.array([p.payload.status for p in pages], pa.int32()),
            "bytes": pa.array([len(p.payload.content) for p in pages], pa.int64()),
            "sha256": [p.payload.sha256 for p in pages],
            "content_type": [p.payload.content_type for p in pages],
            "path": members,
        }
    )
    con.register("census_batch", batch)
    try:
        with transaction(con):
            con.execute(
                "INSERT INTO raw_documents SELECT sha256, bytes, content_type, path, fetched_at FROM census_batch "
                "QUALIFY row_number() OVER (PARTITION BY sha256 ORDER BY page) = 1 ON CONFLICT DO NOTHING"
            )
            con.execute(
                "INSERT INTO fetches (run_id, source, url, fetched_at, http_status, bytes, sha256, error, final_url) "
                "SELECT ?, ?, url, fetched_at, http_status, bytes, sha256, NULL, final_url FROM census_batch "
                "ORDER BY page",
                [run_id, source],
            )
            con.execute("INSERT INTO hf_census_pages SELECT ?, page, sha256 FROM census_batch", [day])
            con.execute(
                "UPDATE hf_census_days SET next_url = ?, pages = pages + ?, models = models + ?, "
                "rejected = rejected + ? WHERE day = ?",
                [
                    next_url,
                    len(pages),
                    sum(len(p.columns[0]) for p in pages),
                    sum(p.rejected for p in pages),
                    day,
                ],
            )
    finally:
        con.unregister("census_batch")
    return first


def staged_pages(con: duckdb.DuckDBPyConnection, data_dir: Path, day: date) -> Iterator[tuple[int, bytes]]:
    """(page number, raw bytes) of every page staged for the day, in listing order, each checked against its
    sha256."""
    records = con.execute(
        "SELECT p.page, p.sha256, r.path FROM hf_census_pages p JOIN raw_documents r USING (sha256) "
        "WHERE p.day = ? ORDER BY p.page",
        [day],
    ).fetchall()
    for page, sha256, path in records:
        damage = archive.check(data_dir, path, sha256)
        if damage is not None:
            raise DamagedWarehouse(f"archived census page {path} is {damage}; run `llmflation verify`")
        yield page, archive.read(data_dir, path)


def discard(con: duckdb.DuckDBPyConnection, day: date) -> None:
    """Forget a day's census in progress (its fetches and raw pages stay, as evidence): the next run starts over."""
    with transaction(con):
        con.execute("DELETE FROM hf_census_pages WHERE day = ?", [day])
        con.execute("DELETE FROM hf_census_days WHERE day = ? AND status <> 'complete'", [day])


def last_complete(con: duckdb.DuckDBPyConnection, before: date) -> tuple[date, int] | None:
    """The day and listed models of the latest complete census before a day."""
    rows = con.execute(
        "SELECT day, models FROM hf_census_days WHERE status = 'complete' AND day < ? ORDER BY day DESC LIMIT 1",
        [before],
    ).fetchall()
    return (rows[0][0], rows[0][1]) if rows else None


def page_rows(page: int, columns: Columns) -> pa.RecordBatch:
    """A page's rows as a batch of ROWS: its number, then the repo id and the three counters of every model."""
    ids, d30, total, likes = columns
    number = pa.Array.from_buffers(pa.int32(), len(ids), [None, pa.py_buffer(array("i", [page]) * len(ids))])
    arrays = [number, pa.array(ids, pa.string()), pa.array(d30, pa.int64()), pa.array(total, pa.int64())]
    return pa.RecordBatch.from_arrays([*arrays, pa.array(likes, pa.int64())], schema=ROWS)


def apply(db_path: Path, day: date, run_id: str, rows: list[pa.RecordBatch], memory_mb: int) -> dict[str, int]:
    """Apply a fully staged census (its rows, in page order; the list is emptied as soon as DuckDB holds them) to
    the warehouse, in one transaction. Returns models listed, new models, change rows, models no longer listed."""
    con = connect(db_path)
    try:
        con.execute(f"SET memory_limit = '{memory_mb}MB'")
        con.register("stage_rows", pa.Table.from_batches(rows, schema=ROWS))

        def release() -> None:  # the listing is in DuckDB now: its Arrow copy goes before the joins need memory
            con.unregister("stage_rows")
            rows.clear()

        try:
            return _apply(con, day, run_id, release)
        finally:
            release()
    finally:
        con.close()


def _apply(con: duckdb.DuckDBPyConnection, day: date, run_id: str, release: Callable[[], None]) -> dict[str, int]:
    with transaction(con):
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
            "UPDATE hf_census_days SET status = 'complete', run_id = ?, next_url = NULL, models = ?, finished_at = ?,"
            " unlisted = ? WHERE day = ?",
            [run_id, listed, datetime.now(UTC), unlisted, day],
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
