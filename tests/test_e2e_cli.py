"""End to end: `llmflation run` on the embedded defaults (ephemeral Prefect API), replaying real snapshots."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from flows.pipeline import run_prices
from flows.settings import Settings
from tests.helpers import openrouter_body, real, ts
from tests.ledger_helpers import query

pytestmark = pytest.mark.e2e
NOISE = ("Traceback", "database is locked", "telemetry", "Error", "WARNING")


def test_first_runs_replay_cleanly_through_prefect(httpserver: HTTPServer, tmp_path: Path) -> None:
    snapshots = [
        ("openrouter/openrouter_models_2025-12-29.json", "2025-12-29T18:00:00Z"),
        ("openrouter/openrouter_models_2026-04-20.json", "2026-04-20T08:00:00Z"),
    ]
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LLMFLATION_"))}
    env.update(HOME=str(home), LLMFLATION_OPENROUTER_URL=httpserver.url_for("/api/v1/models"))
    for name, as_of in snapshots:
        httpserver.clear()
        httpserver.expect_request("/api/v1/models").respond_with_data(openrouter_body(real(name)))
        done = subprocess.run(
            [sys.executable, "-m", "flows.cli", "run", "--sources", "openrouter", "--as-of", as_of],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output
        assert not [word for word in NOISE if word in output], output
        assert "openrouter: ok" in output and f"as of {as_of[:10]}" in output
    # Prefect's state lives in llmflation's data folder, never in ~/.prefect
    assert (tmp_path / "data" / "prefect").is_dir()
    assert not (home / ".prefect").exists()

    # The flow wrote exactly what the plain pipeline writes for the same replay (itself checked against a diff).
    via_cli = Settings(db=tmp_path / "data" / "llmflation.duckdb")
    direct = Settings(db=tmp_path / "direct" / "llmflation.duckdb")
    for name, as_of in snapshots:
        httpserver.clear()
        httpserver.expect_request("/api/v1/models").respond_with_data(openrouter_body(real(name)))
        urls = {"openrouter": httpserver.url_for("/api/v1/models")}
        assert run_prices(replace(direct, source_urls=urls), ["openrouter"], ts(as_of[:16])).status == "ok"
    columns = (
        "provider, provider_model_id, metric, unit, tier, amount, valid_from, valid_to, last_seen_at, "
        "missing_runs, end_reason"
    )
    sql = f"SELECT {columns} FROM price_segments ORDER BY ALL"
    assert query(via_cli, sql) == query(direct, sql)
    assert len(query(via_cli, sql)) > 1000
