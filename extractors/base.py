"""The payload every fetch produces, the parse result, and the source registry."""

from __future__ import annotations

import hashlib
import importlib
import json
import pkgutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from types import ModuleType
from typing import Any, NamedTuple

from llmflation.extractors.errors import ParseError, UnknownSourceError
from llmflation.extractors.units import PriceValueError, per_mtok

# Kinds of source, in the order they are listed and loaded: reference data (exchange rates) first, so that the prices
# a run loads after them are converted with the rates of the same run. An official source is a seller's own page or
# API; a reseller's API states what the reseller itself charges (OpenRouter, the Hugging Face router); a feed is a
# third party's table of sellers' prices (a claim about them, e.g. LiteLLM's map, models.dev).
# Adoption data (Hub download statistics, not prices) comes last: it runs in its own flow, track_adoption.
REFERENCE = "reference"
ADOPTION = "adoption"
KINDS = (REFERENCE, "official", "reseller", "feed", ADOPTION)


@dataclass(frozen=True)
class Payload:
    """One fetched document, exactly as received."""

    source: str
    url: str  # as asked for, without credentials (extractors.redact)
    fetched_at: datetime
    status: int
    content: bytes
    content_type: str = ""
    # Link header relations of the response (rel -> absolute or relative URL), e.g. {"next": "...?cursor=..."}
    links: dict[str, str] = field(default_factory=dict, compare=False)
    # response headers, names in lower case (e.g. the Hub's "ratelimit")
    headers: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    # where the body came from when the request was redirected (without credentials); None when it was not
    final_url: str | None = field(default=None, compare=False)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


DEFAULT_REGION = "default"
DEFAULT_TIER = "standard"


def tier_name(*, endpoint: str = "", service: str = "", cache: str = "", context: str = "") -> str:
    """Compose a tier label in one order everywhere: endpoint (global/regional), service tier, cache duration,
    context length. Examples: 'standard', '>200k', 'priority >272k', '1h', 'global', 'regional flex'."""
    parts = [part for part in (endpoint, service, cache, context) if part]
    return " ".join(parts) if parts else DEFAULT_TIER


def token_count_label(count: int) -> str:
    """272000 -> '272k', 1000000 -> '1m'."""
    if count % 1_000_000 == 0:
        return f"{count // 1_000_000}m"
    if count % 1000 == 0:
        return f"{count // 1000}k"
    return str(count)


@dataclass(frozen=True)
class ModelFacts:
    """What a source states about a model besides its prices; None where it states nothing."""

    open_weights: bool | None = None
    release_date: date | None = None


@dataclass
class ParseResult:
    """What a parser read: price rows, the number of items (models), deliberate skips, and rejects."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    items: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    rejects: list[tuple[str, str]] = field(default_factory=list)
    # provider_model_id -> Hugging Face repo id, where the payload states one (open-weights models)
    hf_repos: dict[str, str] = field(default_factory=dict)
    # (provider, provider_model_id) -> facts the payload states about that listing (the catalogue's fallback)
    facts: dict[tuple[str, str], ModelFacts] = field(default_factory=dict)

    def amount(self, item: str, label: str, value: object, *, zero_reason: str, unit: str = "mtok") -> Decimal | None:
        """A stated token price as Decimal per 1M tokens, or None after recording why not: a value that is not a
        price is a reject (item, "label: reason"); a zero is skipped under zero_reason (free, not a price)."""
        try:
            amount = per_mtok(value, unit)
        except PriceValueError as exc:
            self.rejects.append((item, f"{label}: {exc}"))
            return None
        if amount == 0:
            self.skipped[zero_reason] += 1
            return None
        return amount

    def require_rows(self, source: str, payload: Payload, what: str) -> ParseResult:
        """Return self, or raise ParseError when the payload gave not one price ("12 models but not one price")."""
        if not self.rows:
            raise ParseError(source, payload.url, f"{what} but not one price", payload.content)
        return self

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
        effective_from: datetime | None = None,
        effective_to: datetime | None = None,
    ) -> None:
        """Append one price row; effective_from/effective_to only when the source itself states them."""
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
                "effective_from": effective_from,
                "effective_to": effective_to,
            }
        )


class Rate(NamedTuple):
    """One dated exchange rate as a reference source states it: units of a currency per 1 EUR on a day."""

    date: date
    currency: str
    units_per_eur: Decimal


@dataclass
class RateResult:
    """What a parser of exchange rates reads, as it is read: `rates` yields the rates one at a time (a history of
    decades never sits in memory whole); items (days), skipped and rejects are complete once `rates` is exhausted.
    Reading `rates` raises ParseError when the payload stops looking as expected, or when it held not one rate."""

    rates: Iterator[Rate] = field(default_factory=lambda: iter(()))
    items: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    rejects: list[tuple[str, str]] = field(default_factory=list)


def source_names() -> list[str]:
    """Every source: one module per source in extractors/sources, named by its slug (found without importing)."""
    import llmflation.extractors.sources

    return sorted(
        m.name for m in pkgutil.iter_modules(llmflation.extractors.sources.__path__) if not m.name.startswith("_")
    )


def source_module(name: str) -> ModuleType:
    """Return the module of a source, or raise UnknownSourceError."""
    names = source_names()
    if name not in names:
        known = ", ".join(names)
        raise UnknownSourceError(f"unknown source {name!r}; known sources: {known}")
    return importlib.import_module(f"llmflation.extractors.sources.{name}")


def listed_sources() -> list[ModuleType]:
    """All source modules, reference data first, then official pages, resellers and feeds; by name within a kind."""
    modules = [source_module(name) for name in source_names()]
    return sorted(modules, key=lambda m: (KINDS.index(m.KIND), m.NAME))


def is_reference(name: str) -> bool:
    """Whether a source gives reference data (exchange rates) rather than prices."""
    return name in source_names() and getattr(source_module(name), "KIND", None) == REFERENCE


def is_adoption(name: str) -> bool:
    """Whether a source gives adoption data (huggingface), which runs in its own flow."""
    return name in source_names() and getattr(source_module(name), "KIND", None) == ADOPTION


def parse_source_list(text: str | None) -> list[str]:
    """Turn 'a,b' into a validated list of source names; None or '' means every stable (non-experimental) source of
    prices or reference data. Adoption sources (huggingface) run only when named."""
    if not text:
        return [m.NAME for m in listed_sources() if not m.EXPERIMENTAL and m.KIND != ADOPTION]
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        source_module(name)
    return list(dict.fromkeys(names))


def json_body(source: str, payload: Payload) -> Any:
    """The payload decoded as JSON, or a ParseError naming the source, the URL and the payload's start."""
    try:
        return json.loads(payload.content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(source, payload.url, f"not valid JSON ({exc})", payload.content) from exc
