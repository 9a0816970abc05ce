"""genai_prices against the real v2 feed (pydantic/genai-prices prices/new_data/v2/data.json, 2026-08-21)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from decimal import Decimal

import pytest

from llmflation.extractors.errors import ParseError
from llmflation.extractors.sources import genai_prices
from llmflation.warehouse.models import validate_rows
from tests.helpers import payload, real, ts

FEED = "llm-prices/genai-prices_v2_data_2026-08-21.json"


def _rows() -> list[dict]:
    return genai_prices.parse(payload("genai_prices", real(FEED).read_bytes())).rows


def _price(rows: list[dict], provider: str, model: str, metric: str, tier: str = "standard", since: str | None = None):
    start = ts(since) if since else None
    found = [
        r
        for r in rows
        if (r["provider"], r["provider_model_id"], r["metric"], r["tier"], r["effective_from"])
        == (provider, model, metric, tier, start)
    ]
    assert len(found) == 1, (provider, model, metric, tier, since, len(found))
    return found[0]["amount"], found[0]["effective_to"]


def test_every_priced_model_of_every_provider_is_parsed() -> None:
    feed = json.loads(real(FEED).read_bytes())
    result = genai_prices.parse(payload("genai_prices", real(FEED).read_bytes()))
    rows, rejects = validate_rows(result.rows)
    assert rejects == [] and result.rejects == []
    assert result.items == sum(len(p["models"]) for p in feed) == 1466
    # Independent walk: a model is priced when it states at least one price, flat or conditional.
    priced: dict[str, set[str]] = defaultdict(set)
    for provider in feed:
        for model in provider["models"]:
            prices = model["prices"]
            sets = [c["prices"] for c in prices] if isinstance(prices, list) else [prices]
            if any(sets):
                priced[provider["id"]].add(model["id"])
    assert sum(map(len, priced.values())) == 1466 - result.skipped["model without prices (free or unpriced)"]
    assert len(priced["openai"]) == 85 and len(priced["anthropic"]) == 21 and len(priced["openrouter"]) == 545
    slugs = {"aws": "aws-bedrock", "x-ai": "xai", "moonshotai": "moonshot", "google": "google"}
    got: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        got[row.provider].add(row.provider_model_id)
    for feed_id, models in priced.items():
        slug = slugs.get(feed_id, feed_id.replace("_", "-"))
        assert got.pop(slug) == models, feed_id
    assert not got, f"rows under providers the feed does not list: {sorted(got)}"


def test_every_flat_input_and_output_price_is_exact() -> None:
    feed = json.loads(real(FEED).read_bytes())
    rows = _rows()
    got = {(r["provider_model_id"], r["metric"]): r["amount"] for r in rows if r["provider"] == "openai"}
    checked = 0
    for provider in feed:
        if provider["id"] != "openai":
            continue
        for model in provider["models"]:
            for field_name, metric in (("input_mtok", "input"), ("output_mtok", "output")):
                value = model["prices"].get(field_name) if isinstance(model["prices"], dict) else None
                if isinstance(value, int | float):
                    assert got[(model["id"], metric)] == Decimal(repr(value)), model["id"]
                    checked += 1
    assert checked > 120


def test_pinned_prices() -> None:
    rows = _rows()
    assert _price(rows, "openai", "gpt-4o", "input") == (Decimal("2.5"), None)
    assert _price(rows, "openai", "gpt-4o", "output") == (Decimal("10"), None)
    assert _price(rows, "openai", "gpt-4o", "cached_input") == (Decimal("1.25"), None)
    assert _price(rows, "anthropic", "claude-3-5-sonnet", "output") == (Decimal("15"), None)
    assert _price(rows, "anthropic", "claude-3-5-sonnet", "cache_write") == (Decimal("3.75"), None)
    assert _price(rows, "anthropic", "claude-3-5-sonnet", "cache_write", "1h") == (Decimal("6"), None)
    # $10 per thousand web searches is $0.01 a search
    assert _price(rows, "anthropic", "claude-3-5-sonnet", "web_search") == (Decimal("0.01"), None)
    assert _price(rows, "perplexity", "sonar", "request") == (Decimal("0.012"), None)
    assert _price(rows, "google", "gemini-2.5-pro", "input") == (Decimal("1.25"), None)
    assert _price(rows, "google", "gemini-2.5-pro", "input", ">200k") == (Decimal("2.5"), None)
    assert _price(rows, "google", "gemini-2.5-pro", "output", ">200k") == (Decimal("15"), None)
    assert _price(rows, "anthropic", "claude-sonnet-4-5", "cache_write", "1h >200k") == (Decimal("12"), None)


def test_dated_prices_end_where_the_feed_starts_the_next() -> None:
    rows = _rows()
    # o3's price cut of 2025-06-10
    assert _price(rows, "openai", "o3", "input") == (Decimal("10"), ts("2025-06-10T00:00"))
    assert _price(rows, "openai", "o3", "input", since="2025-06-10T00:00") == (Decimal("2"), None)
    assert _price(rows, "openai", "o3", "output", since="2025-06-10T00:00") == (Decimal("8"), None)
    # Opus 4.6's long-context premium ends on 2026-03-13; the dated price has no >200k tier
    assert _price(rows, "anthropic", "claude-opus-4-6", "input", ">200k") == (Decimal("10"), ts("2026-03-13T00:00"))
    assert _price(rows, "anthropic", "claude-opus-4-6", "input", since="2026-03-13T00:00") == (Decimal("5"), None)
    opus = [r for r in rows if r["provider_model_id"] == "claude-opus-4-6" and r["provider"] == "anthropic"]
    assert not [r for r in opus if r["tier"].endswith(">200k") and r["effective_from"] is not None]
    # a price announced ahead of time
    assert _price(rows, "google", "gemini-3.6-flash", "output") == (Decimal("3.75"), ts("2027-01-01T00:00"))
    assert _price(rows, "google", "gemini-3.6-flash", "output", since="2027-01-01T00:00") == (Decimal("7.5"), None)
    # a dated price that is itself tiered
    luna = "gpt-5.6-luna"
    assert _price(rows, "openai", luna, "input", ">272k", "2026-07-30T00:00") == (Decimal("0.4"), None)
    # nothing undated gets a date
    feed_dates = {
        c["constraint"]["start_date"]
        for p in json.loads(real(FEED).read_bytes())
        for m in p["models"]
        if isinstance(m["prices"], list)
        for c in m["prices"]
        if "start_date" in c.get("constraint", {})
    }
    stated = {ts(d + "T00:00") for d in feed_dates}
    assert {r["effective_from"] for r in rows} - {None} == stated
    assert {r["effective_to"] for r in rows} - {None} <= stated


def test_hour_windows_and_bedrock_endpoints() -> None:
    rows = _rows()
    # DeepSeek: the feed's default is the off-peak price, the 00:30-16:30 UTC window the standard one
    assert _price(rows, "deepseek", "deepseek-chat", "input", "16:30-00:30 UTC") == (Decimal("0.135"), None)
    assert _price(rows, "deepseek", "deepseek-chat", "input", "00:30-16:30 UTC") == (Decimal("0.27"), None)
    sonnet = "regional.anthropic.claude-sonnet-5-v1:0"
    assert _price(rows, "aws-bedrock", sonnet, "input", "regional") == (Decimal("2.2"), ts("2026-09-01T00:00"))
    assert _price(rows, "aws-bedrock", sonnet, "input", "regional", "2026-09-01T00:00") == (Decimal("3.3"), None)
    glob = "global.anthropic.claude-sonnet-4-6-v1:0"
    assert {r["tier"] for r in rows if r["provider_model_id"] == glob} <= {"global", "global >200k"}
    plain = {r["tier"] for r in rows if r["provider_model_id"] == "meta.llama3-8b-instruct-v1:0"}
    assert plain == {"standard"}
    assert {r["model_key"] for r in rows if r["provider_model_id"] == sonnet} == {
        r["model_key"] for r in rows if r["provider_model_id"] == "global.anthropic.claude-sonnet-5-v1:0"
    }


def test_a_feed_without_models_raises() -> None:
    text = real(FEED).read_text()
    broken = text.replace('"models":', '"model_list":')
    with pytest.raises(ParseError, match="no providers"):
        genai_prices.parse(payload("genai_prices", broken))


def test_a_feed_with_renamed_price_fields_raises() -> None:
    text = real(FEED).read_text()
    broken = re.sub(r'"(\w+)_(mtok|kcount)":', r'"\1_per_unit":', text)
    with pytest.raises(ParseError, match="not one price"):
        genai_prices.parse(payload("genai_prices", broken))
