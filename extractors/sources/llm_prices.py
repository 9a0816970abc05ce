"""simonw/llm-prices: one JSON file per vendor, USD per 1M tokens, with a dated price history per model."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from llmflation.extractors.base import ParseResult, Payload, json_body, tier_name, token_count_label
from llmflation.extractors.errors import FetchError, ParseError
from llmflation.extractors.identity import model_key
from llmflation.extractors.units import PriceValueError, per_mtok

if TYPE_CHECKING:
    import requests

NAME = "llm_prices"
URL = "https://api.github.com/repos/simonw/llm-prices/contents/data"
DESCRIPTION = "simonw/llm-prices: hand-curated vendor prices with from/to dates (llm-prices.com)"
KIND = "feed"
EXPERIMENTAL = False

# Vendor (the file's "vendor" field or its file name) -> llmflation slug; others are lowercased as they are.
VENDORS = {"meta-ai": "meta", "moonshot-ai": "moonshot", "z.ai": "zai"}
# price_history field -> metric; prices are USD per 1M tokens ("Prices are $ per 1M tokens" in the site's code).
FIELDS = {"input": "input", "output": "output", "input_cached": "cached_input"}
ZERO_IS_PRICE = {"input", "output"}
DATES = {"from_date", "to_date"}
# Long-context prices are listed as their own model: id "gpt-5.4-272k", name "GPT-5.4 >272k".
LONG_CONTEXT_NAME = re.compile(r">\s*(\d+)\s*k\s*$", re.IGNORECASE)


def fetch(session: requests.Session, url: str, *, timeout: float) -> list[Payload]:
    """GET the GitHub contents listing of data/, then every vendor *.json file in it (one Payload each).

    The listing itself is not kept: it holds no prices, and parse() reads one vendor file at a time.
    """
    from llmflation.extractors import http  # only fetch() does I/O; parse() stays importable without requests

    listing = http.fetch(session, NAME, url, timeout=timeout, headers={"Accept": "application/vnd.github+json"})
    try:
        entries = json.loads(listing.content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FetchError(NAME, url, f"the contents listing is not JSON ({exc})") from exc
    if not isinstance(entries, list):
        raise FetchError(NAME, url, "the contents listing is not a JSON array of files")
    files = sorted(
        (e["name"], e["download_url"])
        for e in entries
        if isinstance(e, dict)
        and e.get("type", "file") == "file"
        and str(e.get("name", "")).endswith(".json")
        and isinstance(e.get("download_url"), str)
    )
    if not files:
        raise FetchError(NAME, url, "the contents listing names no *.json vendor file")
    return [http.fetch(session, NAME, download_url, timeout=timeout) for _, download_url in files]


def parse(payload: Payload) -> ParseResult:
    """Parse one vendor file: {"vendor": ..., "models": [{"id", "name", "price_history": [...]}]}."""
    body = json_body(NAME, payload)
    models = body.get("models") if isinstance(body, dict) else None
    if not isinstance(models, list) or not models:
        raise ParseError(NAME, payload.url, 'no "models" list in the vendor file', payload.content)
    vendor = body.get("vendor")
    if not isinstance(vendor, str) or not vendor.strip():
        vendor = urlparse(payload.url).path.rsplit("/", 1)[-1].removesuffix(".json")
    vendor = vendor.strip().lower()
    provider = VENDORS.get(vendor, vendor)
    result = ParseResult(items=len(models))
    for model in models:
        _parse_model(provider, model, result)
    return result.require_rows(NAME, payload, f"{len(models)} models")


def _parse_model(provider: str, model: Any, result: ParseResult) -> None:
    model_id = model.get("id") if isinstance(model, dict) else None
    history = model.get("price_history") if isinstance(model, dict) else None
    if not isinstance(model_id, str) or not model_id.strip() or not isinstance(history, list):
        result.rejects.append((str(model)[:80], "model without an id or a price_history list"))
        return
    offer_id, context = _long_context(model_id, model.get("name"))
    key = model_key(provider, offer_id)
    for entry in history:
        if not isinstance(entry, dict):
            result.rejects.append((model_id, f"price_history entry is not an object: {entry!r}"[:200]))
            continue
        try:
            start, end = _day(entry.get("from_date")), _day(entry.get("to_date"))
        except ValueError as exc:
            result.rejects.append((model_id, str(exc)))
            continue
        if start and end and end <= start:
            result.rejects.append((model_id, f"to_date {end:%Y-%m-%d} is not after from_date {start:%Y-%m-%d}"))
            continue
        for field_name, value in entry.items():
            if field_name in DATES:
                continue
            if field_name not in FIELDS:
                result.skipped[f"unknown price field {field_name}"] += 1
                continue
            if value is None:
                result.skipped[f"{field_name}: not stated"] += 1
                continue
            try:
                amount = per_mtok(value, "mtok")
            except PriceValueError as exc:
                result.rejects.append((model_id, f"{field_name}: {exc}"))
                continue
            if amount == 0 and field_name not in ZERO_IS_PRICE:
                result.skipped["zero: not charged separately"] += 1
                continue
            result.add(
                provider=provider,
                provider_model_id=offer_id,
                model_key=key,
                metric=FIELDS[field_name],
                amount=amount,
                tier=tier_name(context=context),
                effective_from=start,
                effective_to=end,
            )


def _long_context(model_id: str, name: Any) -> tuple[str, str]:
    """("gpt-5.4-272k", "GPT-5.4 >272k") -> ("gpt-5.4", ">272k"): only when the id and the name both say so."""
    match = LONG_CONTEXT_NAME.search(name) if isinstance(name, str) else None
    suffix = f"-{match.group(1)}k" if match else ""
    if not match or not model_id.lower().endswith(suffix) or len(model_id) == len(suffix):
        return model_id, ""
    return model_id[: -len(suffix)], f">{token_count_label(int(match.group(1)) * 1000)}"


def _day(value: Any) -> datetime | None:
    """'2025-02-08' -> 2025-02-08T00:00Z. to_date is exclusive in the feed (data/README.md), as effective_to is."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None:
        raise ValueError(f"date not in YYYY-MM-DD form: {value!r}")
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
