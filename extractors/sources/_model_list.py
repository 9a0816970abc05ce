"""OpenAI-style model lists (GET /v1/models): the list of models, and each model's prices read field by field.

Shared by the sources that read one (openrouter, hf_providers, together, deepinfra): a body
{"data": [{"id": ..., ...}]} (or, where a host documents it, a bare JSON array), each model an object with an id
and a pricing object whose fields map to metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmflation.extractors.base import ParseResult, Payload, json_body
from llmflation.extractors.errors import ParseError
from llmflation.extractors.identity import model_key


def models(source: str, payload: Payload, *, bare_list: bool = False) -> list[Any]:
    """The non-empty list of models of the body (its "data", or the body itself when bare_list and it is a list),
    or a ParseError saying what is wrong."""
    body = json_body(source, payload)
    if isinstance(body, dict) and "data" not in body and isinstance(body.get("body"), dict):
        body = body["body"]  # a saved response wrapped as {fetched_at, url, body: {...}} by a collector
    found = body if bare_list and isinstance(body, list) else body.get("data") if isinstance(body, dict) else None
    if not isinstance(found, list):
        raise ParseError(source, payload.url, 'no "data" list of models', payload.content)
    if not found:
        raise ParseError(source, payload.url, 'the "data" list is empty', payload.content)
    return found


def parse_prices(
    source: str,
    payload: Payload,
    *,
    provider: str,
    fields: dict[str, str],
    pricing_of: Callable[[dict[str, Any]], Any],
    no_pricing: str,
    zero_reason: str,
    not_token: dict[str, str] | None = None,
    bare_list: bool = False,
) -> ParseResult:
    """Every model's prices: pricing_of(model) gives its pricing object (fields in USD per 1M tokens); a model
    without an id is a reject, one without pricing is skipped under no_pricing, a documented field that is not a
    token price under its reason in not_token, any other unknown field by name."""
    listed = models(source, payload, bare_list=bare_list)
    result = ParseResult(items=len(listed))
    for model in listed:
        model_id = model.get("id") if isinstance(model, dict) else None
        if not isinstance(model_id, str) or not model_id.strip():
            result.rejects.append((str(model)[:80], "model without an id"))
            continue
        pricing = pricing_of(model)
        if not isinstance(pricing, dict):
            result.skipped[no_pricing] += 1
            continue
        for field_name, value in pricing.items():
            if not_token and field_name in not_token:
                result.skipped[not_token[field_name]] += 1
                continue
            if field_name not in fields:
                result.skipped[f"unknown pricing field {field_name}"] += 1
                continue
            amount = result.amount(model_id, field_name, value, zero_reason=zero_reason)
            if amount is not None:
                result.add(
                    provider=provider,
                    provider_model_id=model_id,
                    model_key=model_key(provider, model_id),
                    metric=fields[field_name],
                    amount=amount,
                )
    return result.require_rows(source, payload, f"{len(listed)} models")
