"""Offers, not claims: the comparisons read sellers' own prices, a feed's claim only until the seller's own word
prices the model, a landmark only until nightly data of its provider, and never a free variant.

The seller's own word is the real OpenAI page; the claims are LiteLLM bodies and the free variants an OpenRouter
body, built here in their real formats and run through the real pipeline.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from llmflation.flows.settings import Settings
from tests.helpers import payload, real, ts
from tests.ledger_helpers import openrouter_payload, query, run_once

OPENAI_PAGE = "html/openai_api_pricing_developers.openai.com_2026-08-21.html"
OFFICIAL_AT = "2026-08-21T00:00"


def _litellm(entries: dict[str, tuple[str, str, str]]) -> bytes:
    """A LiteLLM map body: {id: (litellm_provider, USD per input token, USD per output token)}."""
    return json.dumps(
        {
            key: {
                "litellm_provider": provider,
                "mode": "chat",
                "input_cost_per_token": float(i),
                "output_cost_per_token": float(o),
            }
            for key, (provider, i, o) in entries.items()
        }
    ).encode()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(db=tmp_path_factory.mktemp("offers") / "data" / "llmflation.duckdb")
    # before the official page is read, a feed claims OpenAI's gpt-4o-mini below the page's price, and prices
    # Together's Llama 3.2 3B (nightly data of Together: the 2024 landmark of that model ends there)
    early = {
        "gpt-4o-mini": ("openai", "1e-7", "4e-7"),
        "together_ai/meta-llama/Llama-3.2-3B-Instruct-Turbo": ("together_ai", "1e-7", "1e-7"),
    }
    assert run_once(settings, "litellm", payload("litellm", _litellm(early)), ts("2026-07-01T00:00")).status == "ok"
    page = payload("openai", real(OPENAI_PAGE).read_bytes(), url=f"file:{OPENAI_PAGE}")
    assert run_once(settings, "openai", page, ts(OFFICIAL_AT)).status == "ok"
    # after it, the feed claims a cut far below the page: a claim against a live price, never an offer
    late = {**early, "gpt-4o-mini": ("openai", "5e-8", "2e-7")}
    assert run_once(settings, "litellm", payload("litellm", _litellm(late)), ts("2026-09-01T00:00")).status == "ok"
    # a reseller's free variants (one at zero, one at a token price) beside its paid offer of the same model
    variants = openrouter_payload(
        {
            "meta-llama/llama-3.2-3b-instruct:free": {"prompt": "0", "completion": "0"},
            "meta-llama/llama-3.1-8b-instruct:free": {"prompt": "0.000000001", "completion": "0.000000001"},
            "meta-llama/llama-3.2-3b-instruct": {"prompt": "0.00000002", "completion": "0.00000002"},
        }
    )
    assert run_once(settings, "openrouter", variants, ts("2026-09-01T00:00")).status == "ok"
    return settings


def _small(settings: Settings, day: str) -> tuple:
    (row,) = query(
        settings,
        "SELECT open_model, open_offered_by, open_blended, open_price_from, closed_model, closed_offered_by, "
        "closed_blended, closed_price_from, closed_evidence FROM open_vs_closed WHERE class = 'small' AND day = ?",
        [date.fromisoformat(day)],
    )
    return row


def test_a_claim_counts_until_the_sellers_own_word_prices_the_model(loaded: Settings) -> None:
    # before the page: the claim is the only word on gpt-4o-mini, and OpenAI's landmarks ended with it
    closed = _small(loaded, "2026-07-15")[4:8]
    assert closed == ("openai/gpt-4o-mini", "openai via litellm", 0.175, "feed")
    # after: the page's own prices, never the feed's later cut (0.05 / 0.20, blended 0.0875)
    for day in ("2026-08-21", "2026-09-30"):
        model, offered_by, blended, price_from, evidence = _small(loaded, day)[4:]
        assert (offered_by, price_from) == ("openai via openai", "official") and blended > 0.0875
        (sha,) = query(loaded, "SELECT raw_sha256 FROM source_runs WHERE source = 'openai'")[0]
        assert evidence == f"raw sha256 {sha}"
        cheapest = query(
            loaded,
            "SELECT min((3 * i.usd_per_mtok + o.usd_per_mtok) / 4) FROM price_history i JOIN price_history o "
            "USING (source, provider_model_id, tier, region) JOIN models m ON m.model_key = i.model_key "
            "WHERE i.source = 'openai' AND i.tier = 'standard' AND i.metric = 'input' AND o.metric = 'output' "
            "AND m.class = 'small' AND NOT m.open_weights",
        )
        assert blended == round(float(cheapest[0][0]), 6), model
    claims = query(
        loaded,
        "SELECT count(*) FROM offers WHERE source = 'litellm' AND model_key = 'openai/gpt-4o-mini' "
        "AND (valid_to IS NULL OR valid_to > TIMESTAMPTZ '2026-08-21 00:00:00+00')",
    )
    assert claims == [(0,)]
    # the claimed cut is no all-time low either
    lows = query(
        loaded,
        "SELECT source, effective_at FROM event_candidates WHERE event_type = 'all_time_low' "
        "AND model_key = 'openai/gpt-4o-mini' AND effective_at >= TIMESTAMPTZ '2026-08-21 00:00:00+00'",
    )
    assert all(source == "openai" for source, _ in lows), lows
    # the feed's claim stays in price_history: what the feed said is kept, only the comparisons leave it out
    stated = query(
        loaded,
        "SELECT count(*) FROM price_history WHERE source = 'litellm' AND model_key = 'openai/gpt-4o-mini' "
        "AND valid_from = TIMESTAMPTZ '2026-09-01 00:00:00+00'",
    )
    assert stated == [(2,)]


def test_a_landmark_counts_only_until_nightly_data_of_its_provider(loaded: Settings) -> None:
    # in force in 2025, the 2024 landmark names Together's Llama 3.2 3B ($0.06) as the cheapest small open model
    assert _small(loaded, "2025-06-01")[:4] == (
        "meta-llama/llama-3.2-3b-instruct",
        "together via landmark",
        0.06,
        "landmark",
    )
    # the first nightly price of Together (another id, at 0.10) ends it, as the feed's first OpenAI claim ends
    # OpenAI's landmarks
    lasting = query(
        loaded,
        "SELECT count(*) FROM offers WHERE price_from = 'landmark' AND provider IN ('together', 'openai') "
        "AND (valid_to IS NULL OR valid_to > TIMESTAMPTZ '2026-07-01 00:00:00+00')",
    )
    assert lasting == [(0,)]
    # no comparison row names a landmark of a provider on a day its nightly data had begun
    nightly = dict(query(loaded, "SELECT provider, min(valid_from) FROM price_history GROUP BY provider"))
    rows = query(
        loaded,
        "SELECT day, open_offered_by, open_price_from, closed_offered_by, closed_price_from FROM open_vs_closed",
    )
    landmark_days = 0
    for day, open_by, open_from, closed_by, closed_from in rows:
        for offered_by, price_from in ((open_by, open_from), (closed_by, closed_from)):
            provider = offered_by.split(" via ")[0]
            if price_from == "landmark" and provider in nightly:
                landmark_days += 1
                assert day < nightly[provider].date(), (day, offered_by)
    assert landmark_days > 0


def test_a_free_variant_is_never_an_offer(loaded: Settings) -> None:
    # the reseller's paid 0.02 wins, not its :free variants at zero or at 0.001
    assert _small(loaded, "2026-09-30")[:4] == (
        "meta-llama/llama-3.2-3b-instruct",
        "openrouter via openrouter",
        0.02,
        "reseller",
    )
    assert query(loaded, "SELECT count(*) FROM offers WHERE provider_model_id LIKE '%:free'") == [(0,)]
    assert query(loaded, "SELECT count(*) FROM price_history WHERE provider_model_id LIKE '%:free'") == [(4,)]
    used = query(loaded, "SELECT count(*) FROM monthly_prices WHERE model LIKE '%:free' OR input = 0 OR output = 0")
    assert used == [(0,)]


def test_every_comparison_row_says_where_its_price_came_from(loaded: Settings) -> None:
    kinds = query(
        loaded,
        "SELECT DISTINCT open_price_from FROM open_vs_closed UNION SELECT DISTINCT closed_price_from "
        "FROM open_vs_closed UNION SELECT DISTINCT price_from FROM monthly_prices",
    )
    unsourced = query(
        loaded, "SELECT count(*) FROM open_vs_closed WHERE open_evidence IS NULL OR closed_evidence IS NULL"
    )
    assert {k for (k,) in kinds} == {"official", "reseller", "feed", "landmark"}
    assert unsourced == [(0,)]


def test_todays_comparison_names_hosts_only_the_new_feeds_bring_and_compares_offers_only(market: Settings) -> None:
    rows = query(
        market,
        "SELECT class, open_model, open_offered_by, open_price_from, closed_model, closed_offered_by, "
        "closed_price_from FROM open_vs_closed WHERE day = current_date ORDER BY class",
    )
    print("\n".join(map(str, rows)))
    assert {row[0] for row in rows} == {"frontier", "mid", "small"}
    sources = dict(query(market, "SELECT provider, list(DISTINCT source) FROM price_history GROUP BY provider"))
    only_new = {provider for provider, listed in sources.items() if set(listed) <= {"models_dev", "hf_providers"}}
    named = {offered_by.split(" via ")[0] for row in rows for offered_by in (row[2], row[5])}
    assert named & only_new, (named, only_new)
    own = set(
        query(
            market,
            "SELECT DISTINCT h.provider, h.model_key FROM price_history h JOIN source_runs r USING (source) "
            "WHERE r.kind IN ('official', 'reseller') AND h.valid_from <= current_timestamp",
        )
    )
    for _class, *sides in rows:
        for model, offered_by, price_from in (sides[:3], sides[3:]):
            provider, source = offered_by.split(" via ")
            assert ":free" not in model and price_from != "landmark"
            if price_from == "feed":  # a claim only where the seller's own word does not price the model
                assert (provider, model) not in own, (provider, model, source)
