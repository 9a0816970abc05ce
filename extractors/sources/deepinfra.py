"""DeepInfra's OpenAI-compatible model list: `data[].metadata.pricing` in USD per 1M tokens.

Format learned from public clients of GET https://api.deepinfra.com/v1/openai/models (public, no key): the
RooCodeInc/Roo-Code DeepInfra fetcher's schema (`{data: [{id, object, owned_by, created, root, metadata:
{description, context_length, max_tokens, tags, pricing: {input_tokens, output_tokens, cache_read_tokens}}}]}`,
metadata may be null) and an integration note stating the values are USD per 1M tokens, pricing nested under
`metadata` (keyaos docs, verified 2026-02-20). The API base is documented at
https://deepinfra.com/docs/advanced/openai_api. No real capture has been tested yet: EXPERIMENTAL.
"""

from __future__ import annotations

from typing import Any

from llmflation.extractors.base import ParseResult, Payload, json_body
from llmflation.extractors.errors import ParseError
from llmflation.extractors.identity import model_key

NAME = "deepinfra"
URL = "https://api.deepinfra.com/v1/openai/models"
DESCRIPTION = "DeepInfra model list API: input, cached input and output USD per 1M tokens per model"
PROVIDER = "deepinfra"
KIND = "official"
# Why the source is experimental (a stable one says False), as `llmflation sources` shows it.
EXPERIMENTAL = (
    "no real capture of the API exists to test it against; kept because it gives DeepInfra's own prices, "
    "which take the place of the feeds' claims about DeepInfra (LiteLLM and models.dev price it)"
)

# metadata.pricing field -> metric; values are USD per 1M tokens.
FIELDS = {"input_tokens": "input", "output_tokens": "output", "cache_read_tokens": "cached_input"}


def parse(payload: Payload) -> ParseResult:
    """Parse the body of GET /v1/openai/models."""
    body = json_body(NAME, payload)
    models = body.get("data") if isinstance(body, dict) else None
    if not isinstance(models, list) or not models:
        raise ParseError(NAME, payload.url, 'no non-empty "data" list of models', payload.content)
    result = ParseResult(items=len(models))
    for model in models:
        _parse_model(model, result)
    return result.require_rows(NAME, payload, f"{len(models)} models")


def _parse_model(model: Any, result: ParseResult) -> None:
    model_id = model.get("id") if isinstance(model, dict) else None
    if not isinstance(model_id, str) or not model_id.strip():
        result.rejects.append((str(model)[:80], "model without an id"))
        return
    metadata = model.get("metadata")
    pricing = metadata.get("pricing") if isinstance(metadata, dict) else None
    if not isinstance(pricing, dict):
        result.skipped["model without metadata.pricing"] += 1
        return
    for field_name, value in pricing.items():
        if field_name not in FIELDS:
            result.skipped[f"unknown pricing field {field_name}"] += 1
            continue
        amount = result.amount(model_id, field_name, value, zero_reason="zero: free or not charged separately")
        if amount is None:
            continue
        result.add(
            provider=PROVIDER,
            provider_model_id=model_id,
            model_key=model_key(PROVIDER, model_id),
            metric=FIELDS[field_name],
            amount=amount,
        )
