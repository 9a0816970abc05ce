"""The free text of one Gemini pricing cell line ("$1.25, prompts <= 200k tokens") read into prices."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from llmflation.extractors.base import token_count_label
from llmflation.extractors.units import PriceValueError, quantize, to_decimal

PRICE = re.compile(r"\$\s*(\d[\d,]*(?:\.\d+)?)")
KIND_WORDS = {"text": "text", "image": "image", "images": "image", "video": "video", "audio": "audio"}
LABEL_KIND_WORDS = {**KIND_WORDS, "song": "audio", "music": "audio"}
KIND = re.compile(r"\b(" + "|".join(LABEL_KIND_WORDS) + r")\b", re.I)
PARENS = re.compile(r"\(([^()$]*)\)")
RESOLUTION = re.compile(r"\b(\d+(?:\.\d+)?k|\d{3,4}p)\b", re.I)
CONTEXT = re.compile(r"prompts?\s*(<=|≤|<|>=|≥|>)\s*(\d+)\s*([km])\b", re.I)
DATE = r"([A-Z][a-z]+ \d{1,2}, \d{4})"
THROUGH = re.compile(r"\bthrough " + DATE)
STARTING = re.compile(r"\b(?:starting|beginning|effective)(?: on| from)? " + DATE)
ANY_DATE = re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}\w*,? \d{4}")
MILLION = Decimal(1_000_000)

# What follows a price says its unit: (pattern, unit, kind it implies). Checked in order; first match wins.
PER_HOUR = re.compile(r"^\s*(?:/|per)\s*(1M|[\d,]+)\s*tokens?\s+per\s+hour\b", re.I)
PER_N_CALLS = re.compile(
    r"^\s*(?:/|per)\s*([\d,]+)\s+(?:[a-z]+\s+)?(?:requests?|prompts?|quer(?:y|ies)|calls?)\b", re.I
)
PER_IMAGE = re.compile(r"^\s*(?:/|per)\s*((?:\d+(?:\.\d+)?k/?)*)\s*(?:resolution\s+)?images?\b", re.I)
PER_UNIT = [
    (re.compile(r"^\*?\s*(?:/|per)\s*min(?:ute)?\b", re.I), "minute", ""),
    (re.compile(r"^\s*(?:/|per)\s*sec(?:ond)?\b", re.I), "second", ""),
    (re.compile(r"^\s*(?:/|per)\s*frame\b", re.I), "frame", "video"),
    (re.compile(r"^\s*(?:/|per)\s*song\b", re.I), "request", "audio"),
    (re.compile(r"^\s*(?:/|per)\s*request\b", re.I), "request", ""),
    (re.compile(r"^\s*(?:/|per)\s*(?:1M|1,000,000|one million) tokens\b", re.I), "mtok", ""),
]


class CellError(ValueError):
    """A line with a price this reader cannot place safely."""


@dataclass(frozen=True)
class Price:
    """One price in a cell line, as stated: amount per unit, the media kinds and tiers it names, its dates."""

    amount: Decimal
    unit: str
    kinds: tuple[str, ...]
    tiers: tuple[str, ...]
    effective_from: datetime | None = None
    effective_to: datetime | None = None


def label_kind(label: str) -> str:
    """The first media kind a row label names ('Video input price' -> 'video'), or ''."""
    match = KIND.search(label)
    return LABEL_KIND_WORDS[match.group(1).lower()] if match else ""


def read_line(line: str, table_unit: str) -> list[Price]:
    """All prices in one <br>-separated line of a paid cell; table_unit is the unit the column header states."""
    matches = list(PRICE.finditer(line))
    if not matches:
        return []
    effective_from, effective_to = _dates(line)
    context = _context(line)
    # "Non-thinking: $0.60" / "Thinking: $3.50" (2025 previews): the thinking variant is reasoning output.
    kinds: list[str] = ["thinking"] if re.match(r"\s*thinking\b", line, re.I) else []
    resolutions: list[str] = []
    for inner in PARENS.findall(line):
        kinds += [KIND_WORDS[w.lower()] for w in re.findall(r"[A-Za-z]+", inner) if w.lower() in KIND_WORDS]
        resolutions += [r.lower() for r in RESOLUTION.findall(inner)]
    prices = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        amount, unit, kind, own_resolutions = _unit(match.group(1), line[match.end() : end], table_unit)
        tiers = own_resolutions or resolutions or [""]
        if context:
            tiers = [" ".join(p for p in (context, t) if p) for t in tiers]
        all_kinds = tuple(dict.fromkeys([*kinds, kind] if kind else kinds))
        prices.append(Price(amount, unit, all_kinds, tuple(tiers), effective_from, effective_to))
    return prices


def _unit(number: str, after: str, table_unit: str) -> tuple[Decimal, str, str, list[str]]:
    try:
        value = to_decimal(number)
        if match := PER_HOUR.match(after):
            tokens = MILLION if match.group(1).upper() == "1M" else to_decimal(match.group(1))
            return quantize(value * MILLION / tokens), "hour", "", []
        if match := PER_N_CALLS.match(after):
            return quantize(value / to_decimal(match.group(1))), "request", "", []
        if match := PER_IMAGE.match(after):
            return quantize(value), "image", "image", [r.lower() for r in RESOLUTION.findall(match.group(1))]
        for pattern, unit, kind in PER_UNIT:
            if pattern.match(after):
                return quantize(value), unit, kind, []
        return quantize(value), table_unit, "", []
    except (PriceValueError, ArithmeticError) as exc:
        raise CellError(f"not a usable price: ${number}") from exc


def _context(line: str) -> str:
    match = CONTEXT.search(line)
    if not match:
        return ""
    operator, count = match.group(1), int(match.group(2)) * (1000 if match.group(3).lower() == "k" else 1_000_000)
    if operator in ("<", "<=", "≤"):
        return ""  # the lower band is the standard price; its upper neighbour carries the '>' tier
    return (">" if operator == ">" else ">=") + token_count_label(count)


def _dates(line: str) -> tuple[datetime | None, datetime | None]:
    through, starting = THROUGH.search(line), STARTING.search(line)
    effective_to = _day(through.group(1)) + timedelta(days=1) if through else None
    effective_from = _day(starting.group(1)) if starting else None
    if len(ANY_DATE.findall(line)) != bool(through) + bool(starting):
        raise CellError("a date in wording this reader does not know")
    return effective_from, effective_to


def _day(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%B %d, %Y").replace(tzinfo=UTC)
    except ValueError as exc:
        raise CellError(f"not a date: {text!r}") from exc
