"""The payload every fetch produces, the parse result, and the source registry."""

from __future__ import annotations

import hashlib
import importlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from types import ModuleType
from typing import Any

from extractors.errors import UnknownSourceError

# Module name under extractors.sources == source slug.
PRICE_SOURCES = ("openrouter", "litellm")


@dataclass(frozen=True)
class Payload:
    """One fetched document, exactly as received."""

    source: str
    url: str
    fetched_at: datetime
    status: int
    content: bytes
    content_type: str = ""

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


DEFAULT_REGION = "default"
DEFAULT_TIER = "standard"


def tier_name(*, service: str = "", cache: str = "", context: str = "") -> str:
    """Compose a tier label in one order everywhere: service tier, cache duration, context length."""
    parts = [part for part in (service, cache, context) if part]
    return " ".join(parts) if parts else DEFAULT_TIER


def token_count_label(count: int) -> str:
    """272000 -> '272k', 1000000 -> '1m'."""
    if count % 1_000_000 == 0:
        return f"{count // 1_000_000}m"
    if count % 1000 == 0:
        return f"{count // 1000}k"
    return str(count)


@dataclass
class ParseResult:
    """What a parser read: price rows, the number of items (models), deliberate skips, and rejects."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    items: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    rejects: list[tuple[str, str]] = field(default_factory=list)

    def add(
        self,
        *,
        provider: str,
        provider_model_id: str,
        model_key: str,
        metric: str,
        amount: Any,
        unit: str = "mtok",
        currency: str = "USD",
        region: str = DEFAULT_REGION,
        tier: str = DEFAULT_TIER,
    ) -> None:
        """Append one price row."""
        self.rows.append(
            {
                "provider": provider,
                "provider_model_id": provider_model_id,
                "model_key": model_key,
                "region": region,
                "tier": tier,
                "metric": metric,
                "unit": unit,
                "currency": currency,
                "amount": amount,
            }
        )


def source_module(name: str) -> ModuleType:
    """Return the module of a registered source, or raise UnknownSourceError."""
    if name not in PRICE_SOURCES:
        known = ", ".join(PRICE_SOURCES)
        raise UnknownSourceError(f"unknown source {name!r}; known sources: {known}")
    return importlib.import_module(f"extractors.sources.{name}")


def parse_source_list(text: str | None) -> list[str]:
    """Turn 'a,b' into a validated list of source names; None or '' means all."""
    if not text:
        return list(PRICE_SOURCES)
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        source_module(name)
    return list(dict.fromkeys(names))
