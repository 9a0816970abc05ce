"""BerriAI/litellm's model price map: per-token floats under a field-name grammar, tiers as suffixes."""

from __future__ import annotations

import re
from typing import Any

from llmflation.extractors.base import DEFAULT_REGION, ParseResult, Payload, json_body, tier_name, token_count_label
from llmflation.extractors.errors import ParseError
from llmflation.extractors.identity import AWS_REGION, litellm_provider_slug, model_key
from llmflation.extractors.units import PriceValueError, per_mtok, quantize, to_decimal

NAME = "litellm"
URL = "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
DESCRIPTION = "LiteLLM's price map: claims about 100+ providers, observed through LiteLLM"
KIND = "feed"
EXPERIMENTAL = False

# Base field name -> (metric, unit). Token units are normalised to per 1M tokens; the rest keep their unit.
BASES: dict[str, tuple[str, str]] = {
    "input_cost_per_token": ("input", "token"),
    "output_cost_per_token": ("output", "token"),
    "cache_read_input_token_cost": ("cached_input", "token"),
    "cache_creation_input_token_cost": ("cache_write", "token"),
    "input_cost_per_token_cache_hit": ("cached_input", "token"),
    "output_cost_per_reasoning_token": ("reasoning_output", "token"),
    "input_cost_per_audio_token": ("audio_input", "token"),
    "output_cost_per_audio_token": ("audio_output", "token"),
    "cache_read_input_audio_token_cost": ("cached_audio_input", "token"),
    "cache_creation_input_audio_token_cost": ("audio_cache_write", "token"),
    "input_cost_per_image_token": ("image_input", "token"),
    "output_cost_per_image_token": ("image_output", "token"),
    "output_cost_per_video_token": ("video_output", "token"),
    "citation_cost_per_token": ("citation", "token"),
    "computer_use_input_cost_per_1k_tokens": ("computer_use_input", "1k_tokens"),
    "computer_use_output_cost_per_1k_tokens": ("computer_use_output", "1k_tokens"),
    "input_cost_per_image": ("image_input", "image"),
    "output_cost_per_image": ("image_output", "image"),
    "input_cost_per_pixel": ("image_input", "pixel"),
    "output_cost_per_pixel": ("image_output", "pixel"),
    "input_cost_per_second": ("input", "second"),
    "output_cost_per_second": ("output", "second"),
    "input_cost_per_character": ("input", "character"),
    "output_cost_per_character": ("output", "character"),
    "input_cost_per_video_per_second": ("video_input", "second"),
    "output_cost_per_video_per_second": ("video_output", "second"),
    "input_cost_per_audio_per_second": ("audio_input", "second"),
    "input_cost_per_query": ("query", "query"),
    "input_cost_per_request": ("request", "request"),
    "search_context_cost_per_query": ("web_search", "query"),
    "ocr_cost_per_page": ("ocr", "page"),
    "annotation_cost_per_page": ("annotation", "page"),
    "code_interpreter_cost_per_session": ("code_interpreter", "session"),
    "file_search_cost_per_1k_calls": ("file_search", "1k_calls"),
    "file_search_cost_per_gb_per_day": ("file_search_storage", "gb_day"),
    "vector_store_cost_per_gb_per_day": ("vector_store", "gb_day"),
}
BATCH_METRICS = {"input": "batch_input", "output": "batch_output"}
SUFFIXES = (
    (re.compile(r"_above_(\d+)([km]?)_tokens$"), "context"),
    (re.compile(r"_above_(\d+)s_interval$"), "interval"),
    (re.compile(r"_above_1hr$"), "cache"),
    (re.compile(r"_(priority|flex)$"), "service"),
    (re.compile(r"_(batches|batch_requests)$"), "batch"),
)
NOT_MONEY = re.compile(r"_dbu?_cost_")  # Databricks DBUs are not a currency


def parse(payload: Payload) -> ParseResult:
    """Parse model_prices_and_context_window.json (any version since 2023)."""
    body = json_body(NAME, payload)
    if not isinstance(body, dict):
        raise ParseError(NAME, payload.url, "top level is not an object of models", payload.content)
    entries = {k: v for k, v in body.items() if isinstance(v, dict) and k != "sample_spec"}
    if not entries:
        raise ParseError(NAME, payload.url, "no model entries", payload.content)
    result = ParseResult(items=len(entries))
    for key, entry in entries.items():
        _parse_entry(key, entry, result)
    return result.require_rows(NAME, payload, f"{len(entries)} entries")


def _parse_entry(key: str, entry: dict[str, Any], result: ParseResult) -> None:
    litellm_provider = entry.get("litellm_provider")
    if not isinstance(litellm_provider, str) or not litellm_provider:
        result.skipped["entry without litellm_provider"] += 1
        return
    provider = litellm_provider_slug(litellm_provider)
    region, name = _region_and_name(key)
    canonical = model_key(provider, name)
    for field_name, value in entry.items():
        if "cost" not in field_name:
            continue
        if NOT_MONEY.search(field_name):
            result.skipped["Databricks DBU price (not a currency)"] += 1
            continue
        decoded = _decode_field(field_name)
        if decoded is None:
            result.skipped[f"unknown price field {field_name}"] += 1
            continue
        metric, unit, service, cache, context = decoded
        values = value.items() if isinstance(value, dict) else [("", value)]
        for variant, raw in values:
            label = " ".join(p for p in (service, variant.removeprefix("search_context_size_")) if p)
            tier = tier_name(service=label, cache=cache, context=context)
            _add(result, key, provider, canonical, region, metric, unit, tier, field_name, raw)


def _add(
    result: ParseResult,
    key: str,
    provider: str,
    canonical: str,
    region: str,
    metric: str,
    unit: str,
    tier: str,
    field_name: str,
    raw: Any,
) -> None:
    if raw is None:
        result.skipped["null price"] += 1
        return
    try:
        number = to_decimal(raw)
        if number == 0:
            result.skipped["zero (LiteLLM writes 0 for free, self-hosted and unknown prices)"] += 1
            return
        amount = per_mtok(number, unit) if unit in ("token", "1k_tokens") else quantize(number)
    except PriceValueError as exc:
        result.rejects.append((key, f"{field_name}: {exc}"))
        return
    result.add(
        provider=provider,
        provider_model_id=key,
        model_key=canonical,
        metric=metric,
        amount=amount,
        unit="mtok" if unit in ("token", "1k_tokens") else unit,
        region=region,
        tier=tier,
    )


def _decode_field(field_name: str) -> tuple[str, str, str, str, str] | None:
    """'input_cost_per_token_above_200k_tokens_priority' -> ('input', 'token', 'priority', '', '>200k')."""
    base = field_name
    parts: dict[str, str] = {}
    changed = True
    while changed and base not in BASES:
        changed = False
        for pattern, kind in SUFFIXES:
            match = pattern.search(base)
            if match and kind not in parts:
                parts[kind] = _suffix_label(kind, match)
                base = base[: match.start()]
                changed = True
                break
    if base not in BASES:
        return None
    metric, unit = BASES[base]
    service = parts.get("service", "")
    if "batch" in parts:
        if metric in BATCH_METRICS:
            metric = BATCH_METRICS[metric]
        else:
            service = "batch"
    context = " ".join(p for p in (parts.get("context", ""), parts.get("interval", "")) if p)
    return metric, unit, service, parts.get("cache", ""), context


def _suffix_label(kind: str, match: re.Match[str]) -> str:
    if kind == "context":
        scale = {"k": 1000, "m": 1_000_000, "": 1}[match.group(2)]
        return f">{token_count_label(int(match.group(1)) * scale)}"
    if kind == "interval":
        return f">{match.group(1)}s"
    if kind == "cache":
        return "1h"
    return match.group(1)


def _region_and_name(key: str) -> tuple[str, str]:
    """'bedrock/us-east-1/meta.llama3-8b-instruct-v1:0' -> ('us-east-1', 'meta.llama3-8b-instruct-v1:0')."""
    segments = key.split("/")
    region = DEFAULT_REGION
    for segment in segments[:-1]:
        if AWS_REGION.match(segment):
            region = segment
    name_segments = [s for s in segments[1:] if not AWS_REGION.match(s) and not s.endswith("-commitment")]
    if len(segments) == 1:
        return region, key
    return region, "/".join(name_segments) if name_segments else segments[-1]
