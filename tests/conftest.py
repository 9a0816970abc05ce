from __future__ import annotations

from pathlib import Path

import pytest

from llmflation.flows.settings import Settings
from tests.helpers import ts
from tests.ledger_helpers import load_market, openrouter_payload, run_once


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a fresh warehouse in a temporary data folder, with fast HTTP retries."""
    return Settings(db=tmp_path / "data" / "llmflation.duckdb", http_timeout=5.0, http_retries=2, http_backoff=0.05)


@pytest.fixture(scope="session")
def market(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A warehouse holding the whole saved market: exchange rates, official pages, resellers and feeds."""
    settings = Settings(db=tmp_path_factory.mktemp("market") / "data" / "llmflation.duckdb")
    load_market(settings)
    return settings


@pytest.fixture
def warehouse(settings: Settings) -> Settings:
    """A warehouse holding one OpenRouter run of one model."""
    run_once(
        settings,
        "openrouter",
        openrouter_payload({"x/a": {"prompt": "0.000001", "completion": "0.000002"}}),
        ts("2026-01-01T00:00"),
    )
    return settings
