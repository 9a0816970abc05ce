"""Together AI's model list API: one JSON item per model with `pricing` in USD per 1M tokens.

Format learned from the API reference https://docs.together.ai/reference/models (GET /v1/models returns a
JSON array of {id, object, created, type, display_name, organization, link, license, context_length,
pricing: {hourly, input, output, base, finetune}}) and from client types in public code (e.g. a TypeScript
`Together.ModelPricing {hourly, input, output, base, finetune}`). The endpoint needs an API key
(`Authorization: Bearer $TOGETHER_API_KEY`); fetch() adds the header only when its caller passes `api_key`,
since sources read no configuration themselves. The public https://www.together.ai/pricing page was not
used: no documented shape for it was found. No real capture has been tested yet: EXPERIMENTAL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmflation.extractors.base import ParseResult, Payload, json_body
from llmflation.extractors.errors import ParseError
from llmflation.extractors.identity import model_key

if TYPE_CHECKING:
    import requests

NAME = "together"
URL = "https://api.together.xyz/v1/models"
DESCRIPTION = "Together AI model list API: serverless input/output USD per 1M tokens per model (needs a key)"
PROVIDER = "together"
KIND = "official"
# Why the source is experimental (a stable one says False), as `llmflation sources` shows it.
EXPERIMENTAL = (
    "no real capture of the API (which needs an API key) exists to test it against; kept because it gives"
    " Together's own prices, which take the place of the feeds' claims about Together (genai-prices, "
    "LiteLLM and models.dev price it)"
)

# pricing field -> metric; values are USD per 1M tokens.
FIELDS = {"input": "input", "output": "output"}
# Documented fields that are not per-token serving prices.
NOT_TOKEN = {
    "hourly": "hourly: dedicated endpoint price, not per token",
    "base": "base: non-token base price",
    "finetune": "finetune: fine-tuning price, not serving",
}


def fetch(session: requests.Session, url: str, *, timeout: float, api_key: str | None = None) -> list[Payload]:
    """GET the model list; the key is the caller's to give (none: the API answers 401)."""
    from llmflation.extractors import http

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    return [http.fetch(session, NAME, url, timeout=timeout, headers=headers)]


def parse(payload: Payload) -> ParseResult:
    """Parse the body of GET /v1/models: a JSON array (or an OpenAI-style {"data": [...]})."""
    body = json_body(NAME, payload)
    models = body.get("data") if isinstance(body, dict) else body
    if not isinstance(models, list) or not models:
        raise ParseError(NAME, payload.url, "no non-empty list of models", payload.content)
    result = ParseResult(items=len(models))
    for model in models:
        _parse_model(model, result)
    return result.require_rows(NAME, payload, f"{len(models)} models")


def _parse_model(model: Any, result: ParseResult) -> None:
    model_id = model.get("id") if isinstance(model, dict) else None
    if not isinstance(model_id, str) or not model_id.strip():
        result.rejects.append((str(model)[:80], "model without an id"))
        return
    pricing = model.get("pricing")
    if not isinstance(pricing, dict):
        result.skipped["model without a pricing object"] += 1
        return
    for field_name, value in pricing.items():
        if field_name in NOT_TOKEN:
            result.skipped[NOT_TOKEN[field_name]] += 1
            continue
        if field_name not in FIELDS:
            result.skipped[f"unknown pricing field {field_name}"] += 1
            continue
        amount = result.amount(model_id, field_name, value, zero_reason="zero: free or not priced per token")
        if amount is None:
            continue
        result.add(
            provider=PROVIDER,
            provider_model_id=model_id,
            model_key=model_key(PROVIDER, model_id),
            metric=FIELDS[field_name],
            amount=amount,
        )
