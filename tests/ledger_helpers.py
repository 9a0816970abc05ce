"""Drive the real pipeline (start -> ingest -> finish) with payloads built in tests, and read the ledger."""

from __future__ import annotations

from datetime import datetime

import duckdb

from llmflation.extractors.base import Payload
from llmflation.extractors.errors import FetchError
from llmflation.flows import ledger, pipeline
from llmflation.flows.settings import Settings
from tests.helpers import MARKET, openrouter_body, payload, real, real_glob, ts


def openrouter_payload(prices: dict[str, dict[str, str]]) -> Payload:
    """An OpenRouter body with the given {model_id: pricing} entries."""
    return payload("openrouter", {"data": [{"id": k, "pricing": v} for k, v in prices.items()]})


def run_once(settings: Settings, source: str, fetched: Payload | FetchError, as_of: datetime) -> ledger.RunSummary:
    """One run of one source through the real pipeline functions."""
    with ledger.recorded(settings, [source], as_of) as run:
        run.outcomes.append(pipeline.ingest(settings, run.run_id, source, run.as_of, fetched))
        return run.close()


def history(settings: Settings, source: str | None = None) -> list[tuple]:
    """price_history as sorted tuples (provider_model_id, metric, tier, amount, valid_from, valid_to, missing_runs)."""
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        where = "WHERE source = ?" if source else ""
        return con.execute(
            "SELECT provider_model_id, metric, tier, price_per_mtok, valid_from, valid_to, missing_runs "
            f"FROM price_history {where} ORDER BY ALL",
            [source] if source else [],
        ).fetchall()
    finally:
        con.close()


def query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    """Run a read-only query against the test warehouse."""
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def load_market(settings: Settings) -> None:
    """Load the whole saved market into settings' warehouse: exchange rates, official pages, resellers and feeds,
    one run each at its saved time, then the llm-prices vendor files."""
    for source, name, as_of in MARKET:
        body = openrouter_body(real(name)) if source == "openrouter" else real(name).read_bytes()
        summary = run_once(settings, source, payload(source, body, url=f"file:{name}"), ts(as_of))
        assert summary.status == "ok", summary.outcomes
    vendors = [
        payload("llm_prices", path.read_bytes(), url=f"file:llm-prices/data/{path.name}")
        for path in real_glob("llm-prices/data/*.json")
    ]
    assert run_once(settings, "llm_prices", vendors, ts("2026-08-21T00:00")).status == "ok"
