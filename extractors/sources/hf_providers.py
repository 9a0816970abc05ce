"""Hugging Face Inference Providers: the router's model list, each Hub model with the providers serving it.

GET https://router.huggingface.co/v1/models answers {"data": [{id (a Hub repo id), owned_by, providers: [{provider,
status, pricing: {input, output} in USD per 1M tokens, is_free, context_length, ...}]}]}. Each price is what that
inference provider charges for the model through Hugging Face, so an offer is (provider, Hub repo id) under the
provider's own llmflation slug (fireworks-ai is `fireworks`), and the repo id is kept as the offer's Hub repo.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from llmflation.extractors.base import ParseResult, Payload
from llmflation.extractors.identity import hf_router_provider_slug, model_key
from llmflation.extractors.sources import _model_list
from llmflation.extractors.units import PriceValueError, per_mtok

NAME = "hf_providers"
URL = "https://router.huggingface.co/v1/models"
DESCRIPTION = "Hugging Face Inference Providers router: each provider's price for each Hub model, through Hugging Face"
KIND = "reseller"
EXPERIMENTAL = False

# pricing field -> metric; USD per 1M tokens.
FIELDS = {"input": "input", "output": "output"}
# Fields of a provider entry that describe the offer but price nothing.
DESCRIPTIVE = {
    "provider",
    "status",
    "pricing",
    "is_free",
    "context_length",
    "supports_tools",
    "supports_structured_output",
    "first_token_latency_ms",
    "throughput",
    "is_model_author",
}
# The one status under which the router serves a provider's offer.
SERVED = "live"
HUB_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def parse(payload: Payload) -> ParseResult:
    """Parse the body of GET /v1/models."""
    models = _model_list.models(NAME, payload)
    result = ParseResult(items=len(models))
    for model in models:
        _parse_model(model, result)
    return result.require_rows(NAME, payload, f"{len(models)} models")


def _parse_model(model: Any, result: ParseResult) -> None:
    repo = model.get("id") if isinstance(model, dict) else None
    providers = model.get("providers") if isinstance(model, dict) else None
    if not isinstance(repo, str) or not repo.strip() or not isinstance(providers, list):
        result.rejects.append((str(model)[:80], "model without an id or a providers list"))
        return
    repo = repo.strip()
    if not providers:
        result.skipped["model with no provider"] += 1
        return
    if HUB_REPO.match(repo):
        result.hf_repos[repo] = repo
    for entry in providers:
        _parse_offer(repo, entry, result)


def _parse_offer(repo: str, entry: Any, result: ParseResult) -> None:
    name = entry.get("provider") if isinstance(entry, dict) else None
    if not isinstance(name, str) or not name.strip():
        result.rejects.append((repo, f"provider entry without a provider name: {entry!r}"[:200]))
        return
    for field_name in sorted(set(entry) - DESCRIPTIVE):
        result.skipped[f"unknown provider field {field_name}"] += 1
    status = entry.get("status")
    if status != SERVED:
        result.skipped[f"status {status}: not served" if isinstance(status, str) else "no status"] += 1
        return
    pricing = entry.get("pricing")
    if pricing is None:
        result.skipped["no pricing stated"] += 1
        return
    if not isinstance(pricing, dict):
        result.rejects.append((f"{repo} on {name}", f"pricing is not an object: {pricing!r}"[:200]))
        return
    provider = hf_router_provider_slug(name)
    key = model_key(provider, repo)
    amounts: dict[str, Decimal] = {}
    rejected = False
    for field_name, value in pricing.items():
        if field_name not in FIELDS:
            result.skipped[f"unknown pricing field {field_name}"] += 1
            continue
        try:
            amounts[FIELDS[field_name]] = per_mtok(value, "mtok")
        except PriceValueError as exc:
            result.rejects.append((f"{repo} on {name}", f"{field_name}: {exc}"))
            rejected = True
    if not amounts and not rejected:
        result.skipped["pricing without an input or output price"] += 1
        return
    if entry.get("is_free") is not True:
        # a zero on an offer not marked free states no price: the offer is neither free nor priced
        zeros = [metric for metric, amount in amounts.items() if amount == 0]
        if zeros and len(zeros) == len(amounts):
            result.skipped["zero prices, not marked free: no price"] += 1
            return
        for metric in zeros:
            result.skipped[f"zero {metric} beside a price, not marked free: no price"] += 1
            del amounts[metric]
    for metric, amount in amounts.items():
        result.add(provider=provider, provider_model_id=repo, model_key=key, metric=metric, amount=amount)
