"""A later release migrates an existing warehouse file in place, without losing data."""

from __future__ import annotations

import pytest

from llmflation.flows.settings import Settings
from llmflation.warehouse import db
from tests.helpers import ts
from tests.ledger_helpers import history, openrouter_payload, run_once


def test_a_new_migration_is_applied_to_an_existing_file_and_keeps_its_data(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_once(settings, "openrouter", openrouter_payload({"x/a": {"prompt": "0.000001"}}), ts("2026-01-01T00:00"))
    before = history(settings)
    shipped = db.migrations()
    later = (99, "0099_model_notes.sql", "ALTER TABLE observations ADD COLUMN note VARCHAR;")
    monkeypatch.setattr(db, "migrations", lambda: [*shipped, later])
    con = db.connect(settings.db)
    try:
        assert db.schema_version(con) == 99
        assert "note" in [row[0] for row in con.execute("DESCRIBE observations").fetchall()]
        assert con.execute("SELECT count(*) FROM observations").fetchone() == (1,)
    finally:
        con.close()
    assert history(settings) == before


def test_a_file_from_a_newer_release_is_refused_with_a_clear_error(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.connect(settings.db).close()
    shipped = db.migrations()
    newer = shipped[-1][0] + 1
    monkeypatch.setattr(db, "migrations", lambda: [*shipped, (newer, f"{newer:04}_x.sql", "SELECT 1;")])
    db.connect(settings.db).close()
    monkeypatch.setattr(db, "migrations", lambda: shipped)
    with pytest.raises(db.WarehouseError, match=f"schema version {newer}, newer than this release knows"):
        db.connect(settings.db)


def test_census_values_become_differences_with_the_same_counters_on_every_day(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = db.migrations()
    views = db.view_sql()
    monkeypatch.setattr(db, "migrations", lambda: [m for m in shipped if m[0] <= 3])  # a warehouse of the 0003 layout
    monkeypatch.setattr(db, "view_sql", lambda: [])  # the views of that release are not this one's
    con = db.connect(settings.db)
    con.execute("INSERT INTO hf_census_models VALUES (1, 'a/one', DATE '2026-08-01'), (2, 'b/two', DATE '2026-08-01')")
    con.execute(
        "INSERT INTO hf_census_changes VALUES (DATE '2026-08-01', 1, 10, 100, 1), (DATE '2026-08-01', 2, 5, 50, 0),"
        " (DATE '2026-08-02', 1, 12, 103, 1), (DATE '2026-08-03', 1, 9, 104, 2)"
    )
    con.execute(
        "INSERT INTO hf_census_state VALUES (1, 9, 104, 2, DATE '2026-08-03'), (2, 5, 50, 0, DATE '2026-08-02')"
    )
    for day in (1, 2, 3):
        con.execute(
            "INSERT INTO hf_census_days VALUES (?, 'r', 'complete', NULL, 1, 2, now(), now())", [f"2026-08-0{day}"]
        )
    con.execute(
        "INSERT INTO hf_census_days VALUES ('2026-08-04', 'r', 'fetching', 'http://x/?cursor=1', 1, 2, now(), NULL)"
    )
    con.execute("INSERT INTO hf_census_staging VALUES (DATE '2026-08-04', 'a/one', 1, 1, 1)")
    con.close()
    monkeypatch.setattr(db, "migrations", lambda: shipped)
    monkeypatch.setattr(db, "view_sql", lambda: views)
    con = db.connect(settings.db)
    try:
        changes = con.execute(
            "SELECT model_id, day::VARCHAR, downloads_30d_change, downloads_all_time_change, likes_change, listed "
            "FROM hf_census_changes ORDER BY model_id, day"
        ).fetchall()
        assert changes == [
            (1, "2026-08-01", 10, 100, 1, True),
            (1, "2026-08-02", 2, 3, 0, True),
            (1, "2026-08-03", -3, 1, 1, True),
            (2, "2026-08-01", 5, 50, 0, True),
        ]
        as_of = "SELECT repo_id, downloads_30d, downloads_all_time, likes FROM census_as_of(DATE '{}') ORDER BY 1"
        assert con.execute(as_of.format("2026-08-02")).fetchall() == [("a/one", 12, 103, 1), ("b/two", 5, 50, 0)]
        assert con.execute(as_of.format("2026-08-03")).fetchall() == [("a/one", 9, 104, 2), ("b/two", 5, 50, 0)]
        state = con.execute("SELECT model_id, downloads_30d, listed FROM hf_census_state ORDER BY 1").fetchall()
        assert state == [(1, 9, True), (2, 5, False)]  # b/two was not in the last complete census
        assert con.execute("SELECT count(*) FROM hf_census_days WHERE status <> 'complete'").fetchall() == [(0,)]
        tables = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert "hf_census_staging" not in tables
    finally:
        con.close()


def test_history_from_before_events_is_a_baseline_that_is_never_alerted(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmflation.warehouse import events

    detect = events.detect
    monkeypatch.setattr(events, "detect", lambda *args, **kwargs: 0)  # a warehouse from a release without events
    run_once(settings, "openrouter", openrouter_payload({"x/a": {"prompt": "0.000002"}}), ts("2026-01-01T00:00"))
    run_once(settings, "openrouter", openrouter_payload({"x/a": {"prompt": "0.000001"}}), ts("2026-01-02T00:00"))
    con = db.connect(settings.db)
    try:  # what 0005 records on a warehouse that already has runs
        con.execute("UPDATE event_detection SET baseline_pending = true")
    finally:
        con.close()
    monkeypatch.setattr(events, "detect", detect)
    summary = run_once(
        settings, "openrouter", openrouter_payload({"x/a": {"prompt": "0.000001"}}), ts("2026-01-03T00:00")
    )
    con = db.connect(settings.db)
    try:
        found = con.execute("SELECT event_type, run_id, news FROM events ORDER BY ALL").fetchall()
        assert ("price_cut", None, False) in found and all(run is None for _, run, _ in found)
        assert con.execute("SELECT count(*) FROM events WHERE run_id = ?", [summary.run_id]).fetchall() == [(0,)]
        assert con.execute("SELECT baseline_pending FROM event_detection").fetchall() == [(False,)]
    finally:
        con.close()


def test_fx_rates_from_the_hand_kept_file_become_a_view_over_observed_rates(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = db.migrations()
    views = db.view_sql()
    monkeypatch.setattr(db, "migrations", lambda: [m for m in shipped if m[0] <= 8])  # a warehouse of the 0008 layout
    monkeypatch.setattr(db, "view_sql", lambda: [])
    con = db.connect(settings.db)
    con.execute(  # as that release's views made it, from the hand-kept file
        "CREATE TABLE fx_rates AS SELECT DATE '2024-07-01' AS date, 'CNY' AS currency, 7.1265::DECIMAL(18, 6) AS "
        "units_per_usd, 'https://zh.helm.news/' AS source_url"
    )
    con.close()
    monkeypatch.setattr(db, "migrations", lambda: shipped)
    monkeypatch.setattr(db, "view_sql", lambda: views)
    con = db.connect(settings.db)
    try:
        kinds = con.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_name LIKE 'fx_rates%' ORDER BY 1"
        ).fetchall()
        assert kinds == [("fx_rates", "VIEW"), ("fx_rates_curated", "BASE TABLE"), ("fx_rates_observed", "BASE TABLE")]
        assert con.execute("SELECT count(*) FROM fx_rates").fetchall() == [(0,)]  # the ECB gives what the file held
    finally:
        con.close()


def test_source_kinds_are_renamed_and_every_event_is_recomputed_once_without_alerts(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = db.migrations()
    monkeypatch.setattr(db, "migrations", lambda: [m for m in shipped if m[0] <= 10])  # the 0010 layout
    run_once(settings, "openrouter", openrouter_payload({"x/a": {"prompt": "0.000001"}}), ts("2026-01-01T00:00"))
    con = db.connect(settings.db)
    try:  # what the 0010 release recorded
        con.execute("UPDATE source_runs SET kind = 'aggregator'")
        con.execute("INSERT INTO source_runs (run_id, source, kind, observed_at, started_at, status) VALUES "
                    "('r', 'litellm', 'aggregator', now(), now(), 'ok')")  # fmt: skip
        assert con.execute("SELECT baseline_pending FROM event_detection").fetchall() == [(False,)]
    finally:
        con.close()
    monkeypatch.setattr(db, "migrations", lambda: shipped)
    con = db.connect(settings.db)
    try:
        kinds = con.execute("SELECT source, kind FROM source_runs ORDER BY source").fetchall()
        pending = con.execute("SELECT baseline_pending FROM event_detection").fetchall()
    finally:
        con.close()
    assert kinds == [("litellm", "feed"), ("openrouter", "reseller")]
    assert pending == [(True,)]
    # the next run recomputes every event as a baseline: nothing it finds is news
    run_once(settings, "openrouter", openrouter_payload({"x/a": {"prompt": "0.000002"}}), ts("2026-01-02T00:00"))
    con = db.connect(settings.db)
    try:
        assert con.execute("SELECT baseline_pending FROM event_detection").fetchall() == [(False,)]
        assert con.execute("SELECT count(*) FROM events WHERE news").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM events WHERE event_type = 'price_increase'").fetchall() == [(1,)]
    finally:
        con.close()
