from __future__ import annotations

from pathlib import Path

import pytest

from llmflation.flows.settings import Settings
from tests.helpers import openrouter_body, payload, real, real_glob, ts
from tests.ledger_helpers import openrouter_payload, run_once

# The real saved payloads of every stable price source (tests/test_official_vs_aggregators.py's official pages and
# the feeds and resellers saved beside them), each loaded at the time it was saved.
OFFICIAL = [
    ("openai", "html/openai_api_pricing_developers.openai.com_2026-08-21.html", "2026-08-21T00:00"),
    ("anthropic", "html/anthropic_pricing_2025-11-13.html", "2025-11-13T00:00"),
    ("google", "html/gemini_api_pricing_2026-09-04.html", "2026-09-04T00:00"),
    ("deepseek", "html/deepseek_pricing_zh-cn_2026-07-17.html", "2026-07-17T00:00"),
    ("aws_bedrock", "bedrock/aws_price_list_bedrock_subset.json", "2026-10-01T00:00"),
]
MARKET = [
    ("ecb", "fx/eurofxref-hist_2026-10-30.zip", "2026-10-30T18:00"),
    *OFFICIAL,
    ("openrouter", "openrouter/openrouter_models_top-weekly_2026-07-17.json", "2026-07-17T18:48"),
    ("hf_providers", "hf/hf_router_v1_models_fixture_genai-prices_2026-07-30.json", "2026-07-30T00:00"),
    ("litellm", "litellm/model_prices_2026-07-24.json", "2026-07-24T00:00"),
    ("models_dev", "models-dev/models_dev_api_2026-05.json.gz", "2026-05-21T00:00"),
    ("genai_prices", "llm-prices/genai-prices_v2_data_2026-08-21.json", "2026-08-21T00:00"),
]


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
