"""models_dev against the real models.dev api.json (the models-dev 1.0.398 package's data.json.gz, May 2026)."""

from __future__ import annotations

import copy
import gzip
import json
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from llmflation.extractors.base import ModelFacts, ParseResult
from llmflation.extractors.errors import ParseError
from llmflation.extractors.sources import models_dev
from llmflation.flows.settings import Settings
from llmflation.warehouse.models import validate_rows
from tests.helpers import payload, real, ts
from tests.ledger_helpers import query, run_once

FEED = "models-dev/models_dev_api_2026-05.json.gz"
ZERO = "zero (models.dev writes 0 for free, subscription, local and unknown prices)"
RESTATED = "context_over_200k restated by tiers"
AGAIN = "listed again under another models.dev provider (same offer and price)"
# The cost fields of this version and the metrics they are, written out here rather than read from the parser.
METRICS = {
    "input": "input",
    "output": "output",
    "cache_read": "cached_input",
    "cache_write": "cache_write",
    "reasoning": "reasoning_output",
    "input_audio": "audio_input",
    "output_audio": "audio_output",
}


ENDPOINTS = ("global", "regional")  # Bedrock's, for models with a global inference profile
PRICED_PAIRS, LOADED_PAIRS = 4141, 4033  # 108 pairs are second listings of Azure and Vertex offers


def _body() -> dict:
    return json.loads(gzip.decompress(real(FEED).read_bytes()))


def _parse(body: dict | None = None) -> ParseResult:
    content = real(FEED).read_bytes() if body is None else json.dumps(body).encode()
    return models_dev.parse(payload("models_dev", content))


def _numbers(cost: dict) -> list[float]:
    """Every price a cost object states: its own numbers, each tier's (not the tier's size), context_over_*'s."""
    found = []
    for name, value in cost.items():
        if name == "tiers":
            found += [v for tier in value for k, v in tier.items() if k != "tier"]
        elif isinstance(value, dict):
            found += list(value.values())
        else:
            found.append(value)
    return found


def _price(rows: list[dict], provider: str, model_id: str, metric: str, tier: str = "standard") -> tuple:
    found = [
        (r["amount"], r["model_key"])
        for r in rows
        if (r["provider"], r["provider_model_id"], r["metric"], r["tier"]) == (provider, model_id, metric, tier)
    ]
    assert len(found) == 1, (provider, model_id, metric, tier, found)
    return found[0]


def test_every_priced_model_of_every_provider_is_loaded_or_skipped_with_a_reason() -> None:
    body = _body()
    result = _parse()
    rows, rejects = validate_rows(result.rows)
    assert result.rejects == [] and rejects == []
    assert len(rows) == len(result.rows)
    # Independent walk: a (provider, model) pair is priced when its cost states a number above zero.
    models = [(p, m, entry) for p, provider in body.items() for m, entry in provider["models"].items()]
    assert (len(body), len(models)) == (132, 4803) and result.items == 4803
    priced = {(p, m) for p, m, e in models if any(v > 0 for v in _numbers(e.get("cost") or {}))}
    loaded = {(r.provider, r.provider_model_id) for r in rows}
    assert {(models_dev.provider_slug(p), m) for p, m in priced} == loaded
    assert (len(priced), len(loaded)) == (PRICED_PAIRS, LOADED_PAIRS)
    # Every price stated is a row or a counted skip; every model without a cost is counted once.
    numbers = [v for _, _, e in models for v in _numbers(e.get("cost") or {})]
    assert all(isinstance(v, int | float) for v in numbers)
    restated = sum(
        len(e["cost"].get("context_over_200k", {})) for _, _, e in models if "tiers" in (e.get("cost") or {})
    )
    assert result.skipped[ZERO] == sum(1 for v in numbers if v == 0) == 1141
    assert result.skipped[RESTATED] == restated == 477
    assert result.skipped["model without cost"] == sum(1 for _, _, e in models if "cost" not in e) == 236
    assert len(numbers) == len(rows) + result.skipped[ZERO] + result.skipped[RESTATED] + result.skipped[AGAIN]
    assert set(result.skipped) == {ZERO, RESTATED, AGAIN, "model without cost"} | {
        reason for reason in result.skipped if reason.startswith("release_date")
    }
    # The prices listed twice are Azure's and Vertex's second listings, the same as the first.
    again = 0
    for second, first in (("azure-cognitive-services", "azure"), ("google-vertex-anthropic", "google-vertex")):
        for model_id, model in body[second]["models"].items():
            cost = model.get("cost") or {}
            assert cost == body[first]["models"][model_id].get("cost"), model_id
            again += sum(1 for v in _numbers({k: v for k, v in cost.items() if k != "context_over_200k"}) if v > 0)
    assert result.skipped[AGAIN] == again


def test_every_flat_price_is_exact_and_every_tier_is_its_threshold() -> None:
    body = _body()
    got = {(r["provider"], r["provider_model_id"], r["metric"], r["tier"]): r["amount"] for r in _parse().rows}
    checked = 0
    for provider_id, provider in body.items():
        slug = models_dev.provider_slug(provider_id)
        for model_id, model in provider["models"].items():
            cost = model.get("cost") or {}
            tiers = {"": {k: v for k, v in cost.items() if k in METRICS}}
            for tier in cost.get("tiers", []):
                tiers[f">{tier['tier']['size'] // 1000}k"] = {k: v for k, v in tier.items() if k != "tier"}
            for context, stated in tiers.items():
                for field_name, value in stated.items():
                    if value > 0:
                        tiers_of_offer = [context or "standard", *(f"{e} {context}".strip() for e in ENDPOINTS)]
                        found = [got.get((slug, model_id, METRICS[field_name], t)) for t in tiers_of_offer]
                        assert [a for a in found if a is not None] == [Decimal(repr(value))], (model_id, field_name)
                        checked += 1
    assert checked > 10_000


def test_pinned_prices_groq_together_bedrock() -> None:
    rows = _parse().rows
    assert _price(rows, "groq", "llama-3.3-70b-versatile", "input") == (
        Decimal("0.59"),
        "meta-llama/llama-3.3-70b-versatile",
    )
    assert _price(rows, "groq", "llama-3.3-70b-versatile", "output")[0] == Decimal("0.79")
    assert _price(rows, "groq", "openai/gpt-oss-120b", "output") == (Decimal("0.6"), "openai/gpt-oss-120b")
    # a zero output beside a real input: the input is a price, the zero is not
    assert _price(rows, "groq", "canopylabs/orpheus-arabic-saudi", "input")[0] == Decimal("40")
    assert not [
        r for r in rows if r["provider_model_id"] == "canopylabs/orpheus-arabic-saudi" and r["metric"] == "output"
    ]
    together = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    assert _price(rows, "together", together, "input") == (Decimal("0.88"), "meta-llama/llama-3.3-70b-instruct-turbo")
    assert _price(rows, "together", "moonshotai/Kimi-K2.6", "cached_input") == (Decimal("0.2"), "moonshotai/kimi-k2.6")
    assert _price(rows, "together", "moonshotai/Kimi-K2.6", "output")[0] == Decimal("4.5")
    sonnet = "anthropic/claude-sonnet-4.6"
    assert _price(rows, "aws-bedrock", "global.anthropic.claude-sonnet-4-6", "input", "global") == (
        Decimal("3"),
        sonnet,
    )
    assert _price(rows, "aws-bedrock", "global.anthropic.claude-sonnet-4-6", "cache_write", "global")[0] == Decimal(
        "3.75"
    )
    assert _price(rows, "aws-bedrock", "us.anthropic.claude-sonnet-4-6", "input", "regional") == (Decimal("3"), sonnet)
    assert _price(rows, "aws-bedrock", "au.anthropic.claude-opus-4-6-v1", "output", "regional") == (
        Decimal("82.5"),
        "anthropic/claude-opus-4.6",
    )
    # a model without a global profile has one price, in the standard tier
    llama = "meta.llama3-3-70b-instruct-v1:0"
    assert _price(rows, "aws-bedrock", llama, "input") == (Decimal("0.72"), "meta-llama/llama3-3-70b-instruct")
    assert _price(rows, "aws-bedrock", "us.meta.llama4-scout-17b-instruct-v1:0", "output")[0] == Decimal("0.66")


def test_context_tiers_provider_slugs_and_facts() -> None:
    result = _parse()
    rows = result.rows
    # tiers state the threshold; context_over_200k restates it under an older name and is not a second price
    assert _price(rows, "openai", "gpt-5.4", "input", ">272k")[0] == Decimal("5")
    assert _price(rows, "openai", "gpt-5.4", "cached_input", ">272k")[0] == Decimal("0.5")
    assert not [r for r in rows if r["provider_model_id"] == "gpt-5.4" and r["tier"] == ">200k"]
    assert _price(rows, "google", "gemini-2.5-pro", "output", ">200k")[0] == Decimal("15")
    assert _price(rows, "aihubmix", "doubao-seed-2-0-pro", "input", ">32k")[0] == Decimal("0.72")
    assert _price(rows, "aihubmix", "doubao-seed-2-0-pro", "input", ">128k")[0] == Decimal("1.45")
    slugs = {r["provider"] for r in rows}
    assert {"together", "fireworks", "aws-bedrock", "google-vertex", "moonshot", "novita", "nvidia-nim"} <= slugs
    assert not slugs & {"togetherai", "fireworks-ai", "amazon-bedrock", "google-vertex-anthropic", "wafer.ai"}
    assert models_dev.provider_slug("wafer.ai") == "wafer-ai"  # its models are all priced at zero here
    assert result.facts[("groq", "llama-3.3-70b-versatile")] == ModelFacts(True, date(2024, 12, 6))
    assert result.facts[("aws-bedrock", "openai.gpt-oss-120b-1:0")] == ModelFacts(False, date(2025, 8, 5))
    assert result.facts[("groq", "allam-2-7b")] == ModelFacts(False, None)  # "2024-09": no day, none guessed
    assert result.facts[("frogbot", "gpt-oss-120b")].release_date is None  # 1970-01-01
    assert result.facts[("scaleway", "qwen3-embedding-8b")].release_date is None  # "2025-25-11"
    assert result.skipped["release_date without a day (not guessed)"] == 188
    assert result.skipped["release_date 1970-01-01 (a placeholder)"] == 4
    assert result.skipped["release_date not a date"] == 1


def test_older_and_newer_shapes_of_the_format() -> None:
    baseline = _parse()
    # An older version: no `tiers`, only context_over_200k, which then is the >200k price.
    older = _body()
    for provider in older.values():
        for model in provider["models"].values():
            (model.get("cost") or {}).pop("tiers", None)
    result = _parse(older)
    over = {
        (r["provider"], r["provider_model_id"], r["metric"]): r["amount"] for r in result.rows if ">200k" in r["tier"]
    }
    for provider_id, provider in older.items():
        for model_id, model in provider["models"].items():
            for field_name, value in (model.get("cost") or {}).get("context_over_200k", {}).items():
                key = (models_dev.provider_slug(provider_id), model_id, METRICS[field_name])
                assert over[key] == Decimal(repr(value)) if value else key not in over
    assert _price(result.rows, "openai", "gpt-5.4", "input", ">200k")[0] == Decimal("5")
    assert RESTATED not in result.skipped and result.rejects == []
    # A newer version: a cost field and a tier type this parser does not know, and no optional facts.
    newer = _body()
    costs = 0
    for provider in newer.values():
        for model in provider["models"].values():
            for name in ("open_weights", "release_date", "family", "limit", "modalities", "last_updated"):
                model.pop(name, None)
            if "cost" in model:
                model["cost"]["input_video"] = 1.5
                model["cost"].setdefault("tiers", []).append({"input": 9, "tier": {"type": "time", "start": "22:00"}})
                costs += 1
    result = _parse(newer)
    assert result.skipped["unknown cost field input_video"] == costs
    assert result.skipped["tier of type time"] == costs
    assert result.rows == baseline.rows
    assert result.facts == {}
    # Values that are not prices are rejected one by one, with the model and field named; the rest still loads.
    broken = copy.deepcopy(_body())
    broken["groq"]["models"]["llama-3.3-70b-versatile"]["cost"]["input"] = "n/a"
    broken["groq"]["models"]["llama3-8b-8192"]["cost"] = None
    broken["groq"]["models"]["gemma2-9b-it"]["cost"]["output"] = -0.2
    result = _parse(broken)
    assert sorted(result.rejects) == [
        ("groq gemma2-9b-it", "output: negative price: -0.2"),
        ("groq llama-3.3-70b-versatile", "input: not a number: 'n/a'"),
    ]
    assert result.skipped["model without cost"] == 237
    assert len(result.rows) == len(baseline.rows) - 4


def test_the_gzip_it_ships_in_and_plain_json_parse_alike_and_a_cut_gzip_is_an_error() -> None:
    packed = real(FEED).read_bytes()
    plain = models_dev.parse(payload("models_dev", gzip.decompress(packed)))
    assert plain.rows == _parse().rows and plain.facts == _parse().facts
    with pytest.raises(ParseError, match="gzip body cut short"):
        models_dev.parse(payload("models_dev", packed[: len(packed) // 2]))
    with pytest.raises(ParseError, match="no providers with a models object"):
        models_dev.parse(payload("models_dev", {"providers": []}))


OFFICIAL = [
    ("openai", "html/openai_api_pricing_developers.openai.com_2026-08-21.html", "2026-08-21T00:00"),
    ("anthropic", "html/anthropic_pricing_2025-11-13.html", "2025-11-13T00:00"),
    ("google", "html/gemini_api_pricing_2026-09-04.html", "2026-09-04T00:00"),
    ("aws_bedrock", "bedrock/aws_price_list_bedrock_subset.json", "2026-10-01T00:00"),
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(db=tmp_path_factory.mktemp("models_dev") / "data" / "llmflation.duckdb")
    for source, name, as_of in OFFICIAL:
        summary = run_once(settings, source, payload(source, real(name).read_bytes(), url=f"file:{name}"), ts(as_of))
        assert summary.status == "ok", summary.outcomes
    summary = run_once(settings, "models_dev", payload("models_dev", real(FEED).read_bytes()), ts("2026-05-21T00:00"))
    assert summary.status == "ok", summary.outcomes
    (outcome,) = summary.outcomes
    assert (outcome.items, outcome.parsed, outcome.loaded, outcome.rejected) == (4803, 10631, 10631, 0)
    assert "skipped 1141 (zero" in (outcome.notes or "")
    return settings


def test_the_catalogue_takes_stated_facts_where_it_and_the_identity_rules_say_nothing(loaded: Settings) -> None:
    models = {
        row[0]: row[1:] for row in query(loaded, "SELECT model_key, open_weights, release_date, catalogued FROM models")
    }
    # curated values win: the catalogue's gpt-4 date, not the later one most listings state
    assert models["openai/gpt-4"] == (False, date(2023, 3, 14), True)
    # the family rule wins over a listing's default false (Bedrock lists Gemma 3 12B as closed)
    assert models["google/gemma-3-12b-it"][0] is True
    # no family rule: what the listings state (open when any says so), and the date most of them state
    assert models["nvidia/nemotron-3-super-120b-a12b"][:2] == (True, date(2026, 3, 11))
    assert models["mistralai/mistral-medium-2505"][0] is False
    # Bedrock writes 1970-01-01 for none; frogbot's does not pull gpt-oss-120b's date away from 2025-08-05
    dates = defaultdict(set)
    for key, day in query(
        loaded, "SELECT model_key, release_date FROM model_identities WHERE release_date IS NOT NULL"
    ):
        dates[key].add(day)
    assert date(1970, 1, 1) not in {d for days in dates.values() for d in days}
    assert models["meta-llama/llama-3.3-70b-versatile"][1] == date(2024, 12, 6)
    uncatalogued = query(loaded, "SELECT count(*) FROM models WHERE NOT catalogued AND release_date IS NOT NULL")
    assert uncatalogued[0][0] > 1000


def test_agreement_with_the_official_pages(loaded: Settings) -> None:
    shares = query(
        loaded,
        "SELECT provider, official_prices_compared, matching, share_matching FROM source_agreement "
        "WHERE source = 'models_dev' ORDER BY provider",
    )
    assert {row[0] for row in shares} >= {"anthropic", "aws-bedrock", "google", "openai"}
    for _provider, compared, matching, share in shares:
        assert compared > 0 and 0 <= matching <= compared
        assert float(share) == pytest.approx(matching / compared, abs=1e-4)
    print("\n".join(f"models_dev {p:12} {c:4} {m:4} {float(s):.1%}" for p, c, m, s in shares))
    disagreements = query(
        loaded,
        "SELECT provider, provider_model_id_b, metric, tier, price_a, price_b FROM price_disagreements "
        "WHERE source_a = 'aws_bedrock' AND source_b = 'models_dev'",
    )
    # models.dev lists the global price for Bedrock's regional endpoints, which AWS charges 10% more
    sonnet = ("aws-bedrock", "us.anthropic.claude-sonnet-4-6", "input", "regional", Decimal("3.3"), Decimal("3"))
    assert sonnet in disagreements
    assert not [row for row in disagreements if row[3] == "global"]
    # and it rounds OpenAI's cached prices to the cent
    rounded = query(
        loaded,
        "SELECT price_a, price_b FROM price_disagreements WHERE source_a = 'models_dev' AND source_b = 'openai' "
        "AND provider_model_id_a = 'gpt-4o-mini' AND metric = 'cached_input'",
    )
    assert rounded == [(Decimal("0.08"), Decimal("0.075"))]
