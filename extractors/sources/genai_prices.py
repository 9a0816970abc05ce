"""pydantic/genai-prices v2 feed: USD per 1M tokens per provider, input-length tiers, dated and hourly prices."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from llmflation.extractors.base import ParseResult, Payload, json_body, tier_name, token_count_label
from llmflation.extractors.errors import ParseError
from llmflation.extractors.identity import model_key, strip_variant
from llmflation.extractors.units import PriceValueError, per_mtok, quantize, to_decimal

NAME = "genai_prices"
URL = "https://raw.githubusercontent.com/pydantic/genai-prices/main/prices/new_data/v2/data.json"
DESCRIPTION = "pydantic/genai-prices v2 feed: curated prices of 30+ providers, with dated price changes"
KIND = "feed"
EXPERIMENTAL = False

# Feed provider id -> llmflation slug; any other id is lowercased with "_" -> "-" ("huggingface_groq").
PROVIDERS = {"aws": "aws-bedrock", "x-ai": "xai", "moonshotai": "moonshot"}
# ModelPrice field -> (metric, cache label). All are USD per 1M tokens (the v2 schema says so per field).
MTOK_FIELDS: dict[str, tuple[str, str]] = {
    "input_mtok": ("input", ""),
    "input_text_mtok": ("input", ""),
    "output_mtok": ("output", ""),
    "output_text_mtok": ("output", ""),
    "cache_read_mtok": ("cached_input", ""),
    "cache_text_read_mtok": ("cached_input", ""),
    "cache_write_mtok": ("cache_write", ""),
    "cache_write_5m_mtok": ("cache_write", ""),
    "cache_text_write_mtok": ("cache_write", ""),
    "cache_write_1h_mtok": ("cache_write", "1h"),
    "input_audio_mtok": ("audio_input", ""),
    "output_audio_mtok": ("audio_output", ""),
    "cache_audio_read_mtok": ("cached_audio_input", ""),
    "input_image_mtok": ("image_input", ""),
    "output_image_mtok": ("image_output", ""),
    "cache_image_read_mtok": ("cached_image_input", ""),
    "input_video_mtok": ("video_input", ""),
    "output_video_mtok": ("video_output", ""),
    "cache_video_read_mtok": ("cached_video_input", ""),
    "output_reasoning_mtok": ("reasoning_output", ""),
    "output_citation_mtok": ("citation", ""),
}
# "_kcount" fields are USD per thousand; stored per one, in their own unit.
KCOUNT_FIELDS: dict[str, tuple[str, str]] = {
    "web_searches_kcount": ("web_search", "search"),
    "requests_kcount": ("request", "request"),
}
# A zero here is a stated price; elsewhere it means "not charged separately".
ZERO_IS_PRICE = {"input_mtok", "output_mtok", "input_text_mtok", "output_text_mtok"}
# Bedrock ids that genai-prices prefixes with the cross-region endpoint they are priced for.
AWS_ENDPOINTS = ("global", "regional")
CLOCK = re.compile(r"^(\d\d):(\d\d)(?::\d\d(?:\.\d+)?)?Z$")


class Unsupported(ValueError):
    """A model's price list whose constraints we cannot turn into rows without guessing."""


def parse(payload: Payload) -> ParseResult:
    """Parse prices/new_data/v2/data.json: a JSON array of providers, each with its models."""
    body = json_body(NAME, payload)
    result = ParseResult()
    providers = []
    for entry in body if isinstance(body, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("id"), str) and isinstance(entry.get("models"), list):
            providers.append(entry)
        else:
            result.rejects.append((str(entry)[:80], "provider without an id or a models list"))
    if not providers:
        raise ParseError(NAME, payload.url, "no providers with an id and a models list", payload.content)
    for provider in providers:
        slug = PROVIDERS.get(provider["id"], provider["id"].lower().replace("_", "-"))
        for model in provider["models"]:
            result.items += 1
            _parse_model(slug, model, result)
    return result.require_rows(NAME, payload, f"{result.items} models")


def _parse_model(provider: str, model: Any, result: ParseResult) -> None:
    model_id = model.get("id") if isinstance(model, dict) else None
    if not isinstance(model_id, str) or not model_id or "prices" not in model:
        result.rejects.append((str(model)[:80], "model without an id or prices"))
        return
    try:
        periods = _periods(model["prices"])
    except Unsupported as exc:
        result.rejects.append((model_id, str(exc)))
        return
    if not any(prices for prices, *_ in periods):
        result.skipped["model without prices (free or unpriced)"] += 1
        return
    endpoint, key_id = "", model_id
    if provider == "aws-bedrock" and model_id.split(".", 1)[0] in AWS_ENDPOINTS and "." in model_id:
        endpoint, key_id = model_id.split(".", 1)
    key = model_key(provider, strip_variant(key_id) if provider == "openrouter" else key_id)
    for prices, start, end, hours in periods:
        if start is not None and end is not None and end <= start:
            result.rejects.append((model_id, f"price starting {start:%Y-%m-%d} is superseded before it starts"))
            continue
        for field_name, value in prices.items():
            if field_name in MTOK_FIELDS:
                metric, cache = MTOK_FIELDS[field_name]
                unit = "mtok"
            elif field_name in KCOUNT_FIELDS:
                (metric, unit), cache = KCOUNT_FIELDS[field_name], ""
            else:
                result.skipped[f"unknown price field {field_name}"] += 1
                continue
            try:
                steps = _steps(value, unit)
            except (PriceValueError, Unsupported) as exc:
                result.rejects.append((model_id, f"{field_name}: {exc}"))
                continue
            for context, amount in steps:
                if amount == 0 and field_name not in ZERO_IS_PRICE:
                    result.skipped["zero: not charged separately"] += 1
                    continue
                result.add(
                    provider=provider,
                    provider_model_id=model_id,
                    model_key=key,
                    metric=metric,
                    amount=amount,
                    unit=unit,
                    tier=tier_name(endpoint=endpoint, service=hours, cache=cache, context=context),
                    effective_from=start,
                    effective_to=end,
                )


def _periods(prices: Any) -> list[tuple[dict[str, Any], datetime | None, datetime | None, str]]:
    """(prices, effective_from, effective_to, hours label) for each price set the model states.

    The feed's rule (v2 schema, ConditionalPrice): conditional prices are tried last to first and the last active one
    is used; a start_date price is active from that date on. So a price ends where a later dated one starts, and an
    unconstrained first price is the one in effect outside a later time-of-day window.
    """
    if isinstance(prices, dict):
        return [(prices, None, None, "")]
    if not isinstance(prices, list) or not prices:
        raise Unsupported("prices is neither an object nor a list of conditional prices")
    entries: list[tuple[dict[str, Any], Any]] = []
    for item in prices:
        if not isinstance(item, dict) or not isinstance(item.get("prices"), dict):
            raise Unsupported(f"conditional price without prices: {item!r}"[:200])
        entries.append((item["prices"], item.get("constraint")))
    constraints = [c for _, c in entries]
    if any(c is None for c in constraints[1:]):
        raise Unsupported("an unconstrained price after the first hides the ones before it")
    if all(c is None or (isinstance(c, dict) and "start_date" in c) for c in constraints):
        starts = [_start_date(c) for c in constraints]
        periods = []
        for i, (entry_prices, _) in enumerate(entries):
            later = [s for s in starts[i + 1 :] if s is not None]
            end = min(later) if later else None
            periods.append((entry_prices, starts[i], end, ""))
        return periods
    if len(entries) == 2 and constraints[0] is None and isinstance(constraints[1], dict):
        opens, closes = _clock(constraints[1], "start_time"), _clock(constraints[1], "end_time")
        return [
            (entries[0][0], None, None, f"{closes}-{opens} UTC"),
            (entries[1][0], None, None, f"{opens}-{closes} UTC"),
        ]
    raise Unsupported(f"constraints not understood: {constraints!r}"[:200])


def _start_date(constraint: Any) -> datetime | None:
    if constraint is None:
        return None
    if not isinstance(constraint, dict) or set(constraint) != {"start_date"}:
        raise Unsupported(f"constraint not understood: {constraint!r}"[:200])
    try:
        day = date.fromisoformat(str(constraint["start_date"]))
    except ValueError as exc:
        raise Unsupported(f"bad start_date {constraint['start_date']!r}") from exc
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _clock(constraint: dict[str, Any], field_name: str) -> str:
    match = CLOCK.match(str(constraint.get(field_name, "")))
    if set(constraint) != {"start_time", "end_time"} or not match:
        raise Unsupported(f"time-of-day constraint not understood: {constraint!r}"[:200])
    return f"{match.group(1)}:{match.group(2)}"


def _steps(value: Any, unit: str) -> list[tuple[str, Any]]:
    """A flat price -> [("", amount)]; a TieredPrices object -> base plus one (">200k", amount) per tier.

    Tiers are thresholds on input tokens that re-price every token of the request (v2 schema, TieredPrices).
    """
    if not isinstance(value, dict):
        return [("", _amount(value, unit))]
    tiers = value.get("tiers")
    if set(value) != {"base", "tiers"} or not isinstance(tiers, list):
        raise Unsupported(f"tiered price not understood: {value!r}"[:200])
    steps = [("", _amount(value["base"], unit))]
    for tier in tiers:
        start = tier.get("start") if isinstance(tier, dict) else None
        if not isinstance(start, int) or isinstance(start, bool) or start <= 0 or "price" not in tier:
            raise Unsupported(f"tier not understood: {tier!r}"[:200])
        steps.append((f">{token_count_label(start)}", _amount(tier["price"], unit)))
    return steps


def _amount(value: Any, unit: str) -> Any:
    if unit == "mtok":
        return per_mtok(value, "mtok")
    return quantize(to_decimal(value).scaleb(-3))
