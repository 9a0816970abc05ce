"""AWS Price List for Amazon Bedrock: on-demand token prices per SKU and region, dated by AWS.

The Price List publishes Bedrock as two offers, each at .../offers/v1.0/aws/<offer>/current/<region>/index.json
with `products` (SKU -> attributes) and `terms.OnDemand` (SKU -> term -> priceDimensions, USD as a string):
- AmazonBedrock: Amazon's own and open-weight models; attributes `model`, `provider`, `inferenceType`, `feature`,
  `service_tier` (standard/flex/priority/batch); token prices per 1K tokens.
- AmazonBedrockFoundationModels: Marketplace-sold models (Claude ...), named only in `servicename`; usage types
  such as `USE1-MP:USE1_InputTokenCount_Global-Units`; token prices per 1M tokens.
The unit comes from the price dimension's `unit` and `description`; the region from `regionCode` (or `location`);
the term's `effectiveDate` is AWS's own statement of when the price took effect, so it is `effective_from`.

URL is the real AmazonBedrock us-east-1 offer file. fetch() also GETs the AmazonBedrockFoundationModels file,
derived from URL by swapping the offer segment, so one URL (or its LLMFLATION_AWS_BEDROCK_URL override) drives
both and each file is archived raw as its own payload; a URL without that segment is fetched alone. parse()
reads one raw offer file, or a saved bundle {"AmazonBedrock": {...}, "AmazonBedrockFoundationModels": {...}}.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from llmflation.extractors.base import ParseResult, Payload, json_body, tier_name
from llmflation.extractors.errors import ParseError
from llmflation.extractors.identity import model_key
from llmflation.extractors.sources._aws_bedrock_regions import LOCATIONS
from llmflation.extractors.sources._aws_bedrock_usage import Reject, Skip, classify, token_scale
from llmflation.extractors.units import PriceValueError, per_mtok, to_decimal

if TYPE_CHECKING:
    import requests

NAME = "aws_bedrock"
URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonBedrock/current/us-east-1/index.json"
DESCRIPTION = "AWS Price List for Amazon Bedrock: on-demand token prices per model, region and tier"
PROVIDER = "aws-bedrock"
KIND = "official"
EXPERIMENTAL = False
OFFER_SEGMENT = ("/AmazonBedrock/", "/AmazonBedrockFoundationModels/")


def fetch(session: requests.Session, url: str, *, timeout: float = 30.0) -> list[Payload]:
    """GET both Bedrock offer files (the second derived from url), each kept as its own payload."""
    from llmflation.extractors import http  # only the fetch path needs the HTTP client

    old, new = OFFER_SEGMENT
    urls = [url, url.replace(old, new, 1)] if old in url else [url]
    return [http.fetch(session, NAME, each, timeout=timeout) for each in urls]


def parse(payload: Payload) -> ParseResult:
    """Parse a raw offer file or a bundle of offer files."""
    body = json_body(NAME, payload)
    offers = _offers(body)
    if not offers:
        raise ParseError(NAME, payload.url, "neither a Price List offer file nor a bundle of them", payload.content)
    result = ParseResult()
    models: set[str] = set()
    seen: dict[tuple[Any, ...], Decimal] = {}
    for name, offer in offers:
        products, terms = offer.get("products"), offer.get("terms")
        on_demand = terms.get("OnDemand") if isinstance(terms, dict) else None
        if not isinstance(products, dict) or not products:
            raise ParseError(NAME, payload.url, f"{name}: no products", payload.content)
        if not isinstance(on_demand, dict) or not on_demand:
            raise ParseError(NAME, payload.url, f"{name}: no terms.OnDemand", payload.content)
        for sku, product in products.items():
            try:
                row = _row(product, on_demand.get(sku))
            except Skip as why:
                result.skipped[str(why)] += 1
                continue
            except Reject as why:
                result.rejects.append((str(sku), str(why)))
                continue
            models.add(row["provider_model_id"])
            key = tuple(row[k] for k in ("provider_model_id", "region", "tier", "metric", "effective_from"))
            if seen.get(key) == row["amount"]:
                result.skipped["same offer and price as another SKU (e.g. the Bedrock Mantle endpoint)"] += 1
                continue
            seen[key] = row["amount"]
            result.add(**row)
    result.items = len(models)
    if not result.rows:
        raise ParseError(NAME, payload.url, f"{len(offers)} offers but not one token price", payload.content)
    return result


def _offers(body: Any) -> list[tuple[str, dict[str, Any]]]:
    def is_offer(value: Any) -> bool:
        return isinstance(value, dict) and bool({"products", "terms", "offerCode"} & value.keys())

    if is_offer(body):
        return [(str(body.get("offerCode") or "offer"), body)]
    return [(str(k), v) for k, v in body.items() if is_offer(v)] if isinstance(body, dict) else []


def _row(product: Any, terms: Any) -> dict[str, Any]:
    attrs = product.get("attributes") if isinstance(product, dict) else None
    if not isinstance(attrs, dict):
        raise Reject("product without attributes")
    usage = str(attrs.get("usagetype") or "")
    if not isinstance(terms, dict) or not terms:
        raise Reject(f"{usage}: no OnDemand term")
    dims = [(t, d) for t in terms.values() if isinstance(t, dict) for d in _dimensions(t)]
    if len(terms) != 1 or len(dims) != 1 or not isinstance(dims[0][1], dict):
        raise Reject(f"{usage}: {len(terms)} terms with {len(dims)} price dimensions, expected one")
    term, dim = dims[0]
    unit, description = str(dim.get("unit") or ""), str(dim.get("description") or "")
    if not re.search(r"token", f"{unit} {description} {usage}", re.I):
        raise Skip(f"not a token price (unit {unit or '?'})")
    scale = token_scale(usage, unit, description)
    metric, endpoint, service, cache = classify(attrs, usage, description)
    try:
        number = to_decimal((dim.get("pricePerUnit") or {}).get("USD"))
        amount = per_mtok(number, scale)
    except PriceValueError as exc:
        raise Reject(f"{usage}: {exc}") from exc
    if amount == 0:
        raise Skip("free (zero price)")
    model_id = _model_id(attrs)
    return {
        "provider": PROVIDER,
        "provider_model_id": model_id,
        "model_key": model_key(PROVIDER, model_id),
        "metric": metric,
        "amount": amount,
        "region": _region(attrs),
        "tier": tier_name(endpoint=endpoint, service=service, cache=cache),
        "effective_from": _effective(term, usage),
    }


def _dimensions(term: dict[str, Any]) -> list[Any]:
    found = term.get("priceDimensions")
    return list(found.values()) if isinstance(found, dict) else []


def _model_id(attrs: dict[str, Any]) -> str:
    """The `model` attribute, else `servicename` without '(Amazon Bedrock Edition)', as a lowercase slug."""
    name = str(attrs.get("model") or "").strip()
    if not name:
        name = re.sub(r"\s*\([^)]*\)\s*$", "", str(attrs.get("servicename") or "")).strip()
    if not name:
        raise Reject(f"{attrs.get('usagetype')}: no model or servicename")
    return re.sub(r"\s+", "-", name.lower())


def _region(attrs: dict[str, Any]) -> str:
    region = attrs.get("regionCode") or LOCATIONS.get(str(attrs.get("location") or ""))
    if not region:
        raise Reject(f"{attrs.get('usagetype')}: unknown location {attrs.get('location')!r}")
    return str(region)


def _effective(term: dict[str, Any], usage: str) -> datetime | None:
    stated = term.get("effectiveDate")
    if not stated:
        return None
    try:
        moment = datetime.fromisoformat(str(stated))
    except ValueError as exc:
        raise Reject(f"{usage}: effectiveDate {stated!r} is not a date") from exc
    # The Price List writes UTC ("2026-09-01T00:00:00Z"); a bare timestamp there is UTC too.
    return moment.replace(tzinfo=UTC) if moment.utcoffset() is None else moment.astimezone(UTC)
