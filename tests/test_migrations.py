"""A later release migrates an existing warehouse file in place, without losing data."""

from __future__ import annotations

import pytest

from flows.settings import Settings
from tests.helpers import ts
from tests.ledger_helpers import history, openrouter_payload, run_once
from warehouse import db


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
    monkeypatch.setattr(db, "migrations", lambda: [*shipped, (7, "0007_x.sql", "SELECT 1;")])
    db.connect(settings.db).close()
    monkeypatch.setattr(db, "migrations", lambda: shipped)
    with pytest.raises(db.WarehouseError, match="schema version 7, newer than this release knows"):
        db.connect(settings.db)
