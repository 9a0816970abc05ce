from __future__ import annotations

from pathlib import Path

import pytest

from llmflation.flows.settings import Settings
from tests.helpers import MARKET, openrouter_body, payload, real, real_glob, ts
from tests.ledger_helpers import openrouter_payload, run_once


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a fresh warehouse in a temporary data folder, with fast HTTP retries."""
    return Settings(db=tmp_path / "data" / "llmflation.duckdb", http_timeout=5.0, http_retries=2, http_backoff=0.05)


@pytest.fixture(scope="session")
def market(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A warehouse holding the whole saved market: exchange rates, official pages, resellers and feeds."""
    settings = Settings(db=tmp_path_factory.mktemp("market") / "data" / "llmflation.duckdb")
    for source, name, as_of in MARKET:
        body = openrouter_body(real(name)) if source == "openrouter" else real(name).read_bytes()
        summary = run_once(settings, source, payload(source, body, url=f"file:{name}"), ts(as_of))
        assert summary.status == "ok", summary.outcomes
    vendors = [
        payload("llm_prices", path.read_bytes(), url=f"file:llm-prices/data/{path.name}")
        for path in real_glob("llm-prices/data/*.json")
    ]
    assert run_once(settings, "llm_prices", vendors, ts("2026-08-21T00:00")).status == "ok"
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
