"""Groq's pricing page: HTML tables of model, speed, and input/output USD per 1M tokens.

Format learned from public scrapers of https://groq.com/pricing, not from a capture: BerriAI/litellm
`groq_scraper.py` (header cells "Input Token Price" / "Output Token Price", a "Try now" link ending in
`?model=<id>`), c0st1nus/AiTomaton-PriceParser `parsers/groq.py` (`table > tbody > tr`, "$" amounts in the
3rd and 4th cells), a 2025 Playwright scraper (cells such as "$0.075 (13.3M / $1)*", "128k" after the name)
and https://tokenmix.ai/blog/groq-api-access-2026-free-tier-rate-limits (2026 page lists prompt-cache input
prices). No real capture has been tested yet: EXPERIMENTAL.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from bs4 import BeautifulSoup, Tag

from llmflation.extractors.base import ParseResult, Payload
from llmflation.extractors.errors import ParseError
from llmflation.extractors.identity import model_key

NAME = "groq"
URL = "https://groq.com/pricing"
DESCRIPTION = "Groq's pricing page: input, output (and cached input) USD per 1M tokens per model"
PROVIDER = "groq"
KIND = "official"
# Why the source is experimental (a stable one says False), as `llmflation sources` shows it.
EXPERIMENTAL = (
    "no real capture of groq.com/pricing exists to test it against; kept because it gives Groq's own "
    "prices, which take the place of the feeds' claims about Groq (genai-prices, models.dev and LiteLLM "
    "price it)"
)

MONEY = re.compile(r"\$\s*([0-9][0-9,]*(?:\.[0-9]+)?)")
OTHER_UNIT = re.compile(r"\b(hour|minute|character|image|second)s?\b", re.I)
CONTEXT_SUFFIX = re.compile(r"\s+\d+(?:\.\d+)?[km]$", re.I)


def parse(payload: Payload) -> ParseResult:
    """Parse every table of the page that has an input and an output token-price column."""
    soup = BeautifulSoup(payload.content, "html.parser")
    result = ParseResult()
    priced_tables = 0
    for table in soup.find_all("table"):
        header = table.find("tr")
        columns = _price_columns([_text(c) for c in header.find_all(["th", "td"])]) if header else {}
        if not {"input", "output"} <= set(columns.values()):
            result.skipped["table without input and output token-price columns"] += 1
            continue
        priced_tables += 1
        for row in table.find_all("tr"):
            cells = row.find_all("td")
            if cells and row is not header:
                _parse_row(cells, columns, result)
    if not priced_tables:
        raise ParseError(NAME, payload.url, "no table with input and output token-price columns", payload.content)
    return result.require_rows(NAME, payload, f"{result.items} model rows")


def _price_columns(headers: list[str]) -> dict[int, str]:
    """Column index -> metric, read from header text such as 'Input Token Price (Per Million Tokens)'."""
    columns: dict[int, str] = {}
    for index, text in enumerate(headers):
        lowered = text.lower()
        if "cached" in lowered or "cache hit" in lowered:
            columns[index] = "cached_input"
        elif "input" in lowered:
            columns[index] = "input"
        elif "output" in lowered:
            columns[index] = "output"
    return columns


def _parse_row(cells: list[Tag], columns: dict[int, str], result: ParseResult) -> None:
    model_id = _model_id(cells)
    if not model_id:
        result.rejects.append((_text(cells[0])[:80] or "?", "row without a model name"))
        return
    result.items += 1
    before = len(result.rows)
    for index, metric in columns.items():
        text = _text(cells[index]) if index < len(cells) else ""
        match = MONEY.search(text)
        if not match:
            result.skipped["price cell without a $ amount"] += 1
            continue
        if OTHER_UNIT.search(text):
            result.rejects.append((model_id, f"{metric}: not a per-token price: {text!r}"))
            continue
        amount = result.amount(model_id, metric, match.group(1), zero_reason="zero: free, not a price")
        if amount is None:
            continue
        key = model_key(PROVIDER, model_id)
        result.add(provider=PROVIDER, provider_model_id=model_id, model_key=key, metric=metric, amount=amount)
    if len(result.rows) == before:
        result.skipped["model row without a token price"] += 1


def _model_id(cells: list[Tag]) -> str:
    """The API id from a '?model=<id>' link anywhere in the row, else the first cell's display name as a slug."""
    for cell in cells:
        for link in cell.find_all("a", href=True):
            ids = parse_qs(urlparse(str(link["href"])).query).get("model")
            if ids and ids[0].strip():
                return ids[0].strip()
    name = CONTEXT_SUFFIX.sub("", _text(cells[0]))
    return "-".join(name.lower().split())


def _text(tag: Tag) -> str:
    return " ".join(tag.get_text(" ", strip=True).split())
