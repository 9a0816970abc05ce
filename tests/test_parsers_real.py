"""Parsers against the real saved payloads in the shared fixtures folder."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import pytest

from llmflation.extractors.sources import hf_providers, litellm, openrouter
from llmflation.warehouse.models import validate_rows
from tests.helpers import openrouter_body, payload, real, real_glob

HF_ROUTER_FILE = "hf/hf_router_v1_models_fixture_genai-prices_2026-07-30.json"
# Router provider id -> llmflation slug, written out here independently of the parser, for the ids this file holds.
HF_ROUTER_SLUGS = {"together": "together", "fireworks-ai": "fireworks"}
OPENROUTER_FILES = [
    "openrouter/openrouter_models_2025-12-29.json",
    "openrouter/openrouter_models_2026-04-20.json",
    "openrouter/openrouter_models_top-weekly_2026-07-17.json",
]


def _by_key(rows: list[dict]) -> dict[tuple[str, str, str], Decimal]:
    return {(r["provider_model_id"], r["metric"], r["tier"]): r["amount"] for r in rows if r["unit"] == "mtok"}


@pytest.mark.parametrize("name", OPENROUTER_FILES)
def test_openrouter_every_priced_model_is_parsed(name: str) -> None:
    body = openrouter_body(real(name))
    models = json.loads(body)["data"]
    result = openrouter.parse(payload("openrouter", body))
    rows, rejects = validate_rows(result.rows)
    assert rejects == [] and result.rejects == []
    assert result.items == len(models)
    # Independent route: a model is priced when prompt or completion is a non-negative number.
    priced = {m["id"] for m in models if any(float(m["pricing"][f]) >= 0 for f in ("prompt", "completion"))}
    assert {r.provider_model_id for r in rows} == priced
    placeholders = {m["id"] for m in models if m["pricing"]["prompt"] == "-1"}
    assert placeholders, "the real snapshots all contain -1 placeholders"
    assert not placeholders & {r.provider_model_id for r in rows}
    got = _by_key(result.rows)
    for model in models:
        for field_name, metric in (
            ("prompt", "input"),
            ("completion", "output"),
            ("input_cache_read", "cached_input"),
        ):
            raw = model["pricing"].get(field_name)
            if raw is None or Decimal(raw) < 0 or (Decimal(raw) == 0 and field_name == "input_cache_read"):
                assert (model["id"], metric, "standard") not in got
            else:
                assert got[(model["id"], metric, "standard")] == Decimal(raw) * 1_000_000


def test_openrouter_long_prompt_overrides_become_tiers() -> None:
    body = openrouter_body(real("openrouter/openrouter_models_top-weekly_2026-07-17.json"))
    got = _by_key(openrouter.parse(payload("openrouter", body)).rows)
    assert got[("openai/gpt-5.6-sol", "input", "standard")] == Decimal("5")
    assert got[("openai/gpt-5.6-sol", "output", "standard")] == Decimal("30")
    assert got[("openai/gpt-5.6-sol", "input", ">272k")] == Decimal("10")
    assert got[("openai/gpt-5.6-sol", "output", ">272k")] == Decimal("45")
    assert got[("openai/gpt-5.6-sol", "cache_write", ">272k")] == Decimal("12.5")
    checked = 0
    for model in json.loads(body)["data"]:
        for override in model["pricing"].get("overrides") or []:
            tier = f">{override['min_prompt_tokens'] // 1000}k"
            for field_name, metric in (("prompt", "input"), ("completion", "output")):
                if field_name in override:
                    assert got[(model["id"], metric, tier)] == Decimal(override[field_name]) * 1_000_000
                    checked += 1
    assert checked >= 43


def test_openrouter_pinned_prices() -> None:
    got = _by_key(openrouter.parse(payload("openrouter", openrouter_body(real(OPENROUTER_FILES[0])))).rows)
    assert got[("openai/gpt-4o", "input", "standard")] == Decimal("2.5")
    assert got[("openai/gpt-4o", "output", "standard")] == Decimal("10")
    assert got[("openai/gpt-4o-mini", "input", "standard")] == Decimal("0.15")
    assert got[("meta-llama/llama-3-8b-instruct", "output", "standard")] == Decimal("0.06")


def test_litellm_every_version_parses_completely() -> None:
    files = real_glob("litellm/*.json")
    assert len(files) >= 6
    for path in files:
        data = json.loads(path.read_bytes())
        result = litellm.parse(payload("litellm", path.read_bytes()))
        rows, rejects = validate_rows(result.rows)
        assert result.rejects == [], path.name
        entries = {k: v for k, v in data.items() if isinstance(v, dict) and k != "sample_spec"}
        assert result.items == len(entries)
        got = {(r.provider_model_id, r.metric, r.tier, r.unit): r.amount for r in rows}
        # Independent route: every positive input/output per-token price appears, times 1e6.
        checked = 0
        for key, entry in entries.items():
            for field_name, metric in (
                ("input_cost_per_token", "input"),
                ("output_cost_per_token", "output"),
            ):
                value = entry.get(field_name)
                if isinstance(value, int | float) and value > 0:
                    exact = Decimal(repr(value)) * 1_000_000
                    assert got[(key, metric, "standard", "mtok")] == exact, key
                    checked += 1
        assert checked > 100, path.name
        # Nothing but real conflicts are rejected, and no row is a per-token figure left unscaled.
        assert all("conflicting" in reason for _, reason in rejects), rejects[:3]
        assert "sample_spec" not in {r.provider_model_id for r in rows}


@pytest.mark.parametrize(
    ("name", "key", "metric", "expected"),
    [
        ("model_prices_pypi-1.53.1_2024-11.json", "gpt-4o", "input", "2.5"),
        ("model_prices_2025-02-06.json", "gpt-4o", "input", "2.5"),
        ("model_prices_2026-07-24.json", "gpt-4o", "output", "10"),
        ("model_prices_2025-09-15.json", "claude-3-5-sonnet-20241022", "output", "15"),
        ("model_prices_2025-02-06.json", "claude-3-5-sonnet-20240620", "input", "3"),
        ("model_prices_2026-07-24.json", "gpt-4o-mini", "input", "0.15"),
        ("model_prices_pypi-1.14.4_2023-12.json", "gpt-4", "output", "60"),
        ("model_prices_pypi-1.14.4_2023-12.json", "gpt-3.5-turbo", "input", "1.5"),
        ("model_prices_2025-02-06.json", "gemini-2.0-flash-001", "input", "150"),
        ("model_prices_2025-03-14.json", "gemini-2.0-flash-001", "input", "0.15"),
        ("model_prices_2026-07-24.json", "bedrock/us-east-1/meta.llama3-8b-instruct-v1:0", "input", "0.3"),
    ],
)
def test_litellm_pinned_prices(name: str, key: str, metric: str, expected: str) -> None:
    rows = litellm.parse(payload("litellm", real(f"litellm/{name}").read_bytes())).rows
    match = [
        r
        for r in rows
        if r["provider_model_id"] == key and r["metric"] == metric and r["tier"] == "standard" and r["unit"] == "mtok"
    ]
    assert len(match) == 1
    assert match[0]["amount"] == Decimal(expected)


def test_litellm_regions_tiers_and_units() -> None:
    rows = litellm.parse(payload("litellm", real("litellm/model_prices_2026-07-24.json").read_bytes())).rows
    bedrock = [r for r in rows if r["provider_model_id"] == "bedrock/us-east-1/meta.llama3-8b-instruct-v1:0"]
    assert {r["region"] for r in bedrock} == {"us-east-1"} and {r["provider"] for r in bedrock} == {"aws-bedrock"}
    tiers = {r["tier"] for r in rows}
    assert {">200k", ">272k", "priority", "flex", "1h"} <= tiers
    metrics = {r["metric"] for r in rows if r["unit"] == "mtok"}
    assert {"input", "output", "cached_input", "cache_write", "batch_input", "batch_output"} <= metrics
    # per-image and per-second prices keep their unit and never land among token prices
    assert {r["unit"] for r in rows} >= {"mtok", "image", "second"}
    assert not [r for r in rows if r["unit"] == "mtok" and r["metric"] in ("image_input",) and r["amount"] > 10_000]


def test_hf_router_every_provider_and_model_pair_is_loaded_or_skipped_with_a_reason() -> None:
    content = real(HF_ROUTER_FILE).read_bytes()
    models = json.loads(content)["data"]
    result = hf_providers.parse(payload("hf_providers", content))
    rows, rejects = validate_rows(result.rows)
    assert result.rejects == [] and rejects == []
    assert result.items == len(models)
    # Independent route: every (provider, model) pair of the file, and what should become of it.
    expected_rows: dict[tuple[str, str, str], Decimal] = {}
    expected_skips: Counter[str] = Counter()
    pairs = 0
    for model in models:
        for entry in model["providers"]:
            pairs += 1
            assert set(entry.get("pricing", {})) <= {"input", "output"}  # the only fields this file has
            slug = HF_ROUTER_SLUGS[entry["provider"]]  # a provider this test does not know fails here
            if entry["status"] != "live":
                expected_skips[f"status {entry['status']}: not served"] += 1
            elif "pricing" not in entry:
                expected_skips["no pricing stated"] += 1
            elif all(v == 0 for v in entry["pricing"].values()) and not entry["is_free"]:
                expected_skips["zero prices, not marked free: no price"] += 1
            else:
                for metric, value in entry["pricing"].items():
                    expected_rows[(slug, model["id"], metric)] = Decimal(str(value))
    got = {(r.provider, r.provider_model_id, r.metric): r.amount for r in rows}
    assert got == expected_rows
    assert result.skipped == expected_skips
    loaded_pairs = {(provider, model_id) for provider, model_id, _ in got}
    assert len(loaded_pairs) + sum(expected_skips.values()) == pairs
    assert (pairs, len(loaded_pairs), dict(expected_skips)) == (
        7,
        5,
        {"no pricing stated": 1, "zero prices, not marked free: no price": 1},
    )
    # every model is kept as the Hub repo its offers carry
    assert result.hf_repos == {m["id"]: m["id"] for m in models}


def test_hf_router_pinned_prices_slugs_and_keys() -> None:
    rows = hf_providers.parse(payload("hf_providers", real(HF_ROUTER_FILE).read_bytes())).rows
    got = {(r["provider"], r["provider_model_id"], r["metric"]): r["amount"] for r in rows}
    assert got[("together", "moonshotai/Kimi-K3", "input")] == Decimal("3")
    assert got[("fireworks", "moonshotai/Kimi-K3", "output")] == Decimal("15")
    assert got[("fireworks", "zai-org/GLM-5.2", "input")] == Decimal("1.4")
    assert got[("together", "thinkingmachines/Inkling", "output")] == Decimal("4.05")
    assert ("fireworks", "thinkingmachines/Inkling", "input") not in got  # that host states no price
    assert not [r for r in rows if r["provider_model_id"].startswith("prism-ml/")]  # 0/0, not marked free
    keys = {r["provider_model_id"]: r["model_key"] for r in rows}
    assert keys == {
        "moonshotai/Kimi-K3": "moonshotai/kimi-k3",
        "zai-org/GLM-5.2": "z-ai/glm-5.2",
        "thinkingmachines/Inkling": "thinkingmachines/inkling",
    }
    assert {(r["tier"], r["region"], r["unit"], r["currency"]) for r in rows} == {
        ("standard", "default", "mtok", "USD")
    }
