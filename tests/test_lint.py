from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT


def test_ruff_is_clean() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_schema_matches_the_row_contract() -> None:
    import duckdb

    from llmflation.warehouse.db import migrate
    from llmflation.warehouse.load import OBSERVATION_SCHEMA
    from llmflation.warehouse.models import PriceObservation

    con = duckdb.connect(":memory:")
    migrate(con)
    columns = [row[0] for row in con.execute("DESCRIBE observations").fetchall()]
    assert columns == OBSERVATION_SCHEMA.names
    ledger_only = {"run_id", "source", "observed_at", "raw_sha256"}
    assert set(columns) - ledger_only == set(PriceObservation.model_fields)
