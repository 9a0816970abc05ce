"""OpenRouter's model list: USD-per-token price strings, "-1" placeholders, long-prompt overrides."""

from __future__ import annotations

from typing import Any

from llmflation.extractors.base import ParseResult, Payload, tier_name, token_count_label
from llmflation.extractors.identity import model_key, strip_variant
from llmflation.extractors.sources import _model_list
from llmflation.extractors.units import PriceValueError, per_mtok, to_decimal

NAME = "openrouter"
URL = "https://openrouter.ai/api/v1/models"
DESCRIPTION = "OpenRouter API: every model it routes, priced as OpenRouter charges"
PROVIDER = "openrouter"
KIND = "reseller"
EXPERIMENTAL = False

# pricing field -> (metric, unit); token prices are USD per token, the rest per their own unit.
FIELDS: dict[str, tuple[str, str]] = {
    "prompt": ("input", "token"),
    "completion": ("output", "token"),
    "input_cache_read": ("cached_input", "token"),
    "input_cache_write": ("cache_write", "token"),
    "input_cache_write_1h": ("cache_write", "token"),
    "internal_reasoning": ("reasoning_output", "token"),
    "audio": ("audio_input", "token"),
    "input_audio_cache": ("cached_audio_input", "token"),
    "audio_output": ("audio_output", "token"),
    "image_output": ("image_output", "token"),
    "image": ("image_input", "image"),
    "request": ("request", "request"),
    "web_search": ("web_search", "search"),
}
# A zero here is a real price (free models); elsewhere it means "not charged separately".
ZERO_IS_PRICE = {"prompt", "completion"}


def parse(payload: Payload) -> ParseResult:
    """Parse the body of GET /api/v1/models."""
    models = _model_list.models(NAME, payload)
    result = ParseResult(items=len(models))
    for model in models:
        _parse_model(model, result)
    return result.require_rows(NAME, payload, f"{len(models)} models")


def _parse_model(model: Any, result: ParseResult) -> None:
    model_id = model.get("id") if isinstance(model, dict) else None
    pricing = model.get("pricing") if isinstance(model, dict) else None
    if not isinstance(model_id, str) or not isinstance(pricing, dict):
        result.rejects.append((str(model)[:80], "model without an id or a pricing object"))
        return
    key = model_key(PROVIDER, strip_variant(model_id))
    if isinstance(model.get("hugging_face_id"), str) and model["hugging_face_id"].strip():
        result.hf_repos[model_id] = model["hugging_face_id"].strip()
    _add_prices(model_id, key, pricing, "", result)
    for override in pricing.get("overrides") or []:
        tier = _override_tier(override)
        if tier is None:
            result.rejects.append((model_id, f"pricing override with unknown conditions: {override!r}"[:200]))
            continue
        _add_prices(model_id, key, override, tier, result)


def _add_prices(model_id: str, key: str, pricing: dict[str, Any], tier: str, result: ParseResult) -> None:
    for field_name, value in pricing.items():
        if field_name in ("overrides", "min_prompt_tokens", "discount"):
            continue
        if field_name not in FIELDS:
            result.skipped[f"unknown pricing field {field_name}"] += 1
            continue
        metric, unit = FIELDS[field_name]
        try:
            number = to_decimal(value)
        except PriceValueError as exc:
            result.rejects.append((model_id, f"{field_name}: {exc}"))
            continue
        if number < 0:
            result.skipped[f"placeholder {value} (no price)"] += 1
            continue
        if number == 0 and field_name not in ZERO_IS_PRICE:
            result.skipped["zero: not charged separately"] += 1
            continue
        row_tier = tier_name(cache="1h" if field_name.endswith("_1h") else "", context=tier)
        try:
            amount = per_mtok(number) if unit == "token" else number
        except PriceValueError as exc:
            result.rejects.append((model_id, f"{field_name}: {exc}"))
            continue
        result.add(
            provider=PROVIDER,
            provider_model_id=model_id,
            model_key=key,
            metric=metric,
            amount=amount,
            unit="mtok" if unit == "token" else unit,
            tier=row_tier,
        )


def _override_tier(override: Any) -> str | None:
    if not isinstance(override, dict):
        return None
    conditions = {k for k in override if k.startswith("min_") or k.startswith("max_")}
    threshold = override.get("min_prompt_tokens")
    if conditions != {"min_prompt_tokens"} or not isinstance(threshold, int) or threshold <= 0:
        return None
    return f">{token_count_label(threshold)}"
