"""Mistral's API pricing on docs.mistral.ai: server-rendered tables Model | Input | Cached input | Output.

Format learned from public parsers of https://docs.mistral.ai/inference/pricing (since October 2026
https://mistral.ai/pricing/api redirects there): one table per family section; a line "Prices /M Tokens"
above a table means its bare "$0.5" cells are USD per 1M tokens, "Prices as marked" sections (OCR,
audio, TTS) carry their own units; cells may be "—", "Free", or a sale: <del>list</del><ins>price</ins>; the
model cell links /models/<docs-slug> (a docs page, not the API id). Sources: a daily collector's notes and
parser (`lib/mistral-catalog.mjs`, "7 Oct 2026: ... now answers 301 to docs.mistral.ai/inference/pricing") and
test fixtures of two other scrapers (`mistral-pricing.ts`, a Python `mistral_scraper`). The EUR variant is
client-side only. No real capture has been tested yet: EXPERIMENTAL.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag

from llmflation.extractors.base import ParseResult, Payload
from llmflation.extractors.errors import ParseError
from llmflation.extractors.identity import model_key

NAME = "mistral"
URL = "https://docs.mistral.ai/inference/pricing"
DESCRIPTION = "Mistral's pricing docs: input, cached input and output USD per 1M tokens per model"
PROVIDER = "mistral"
KIND = "official"
# Why the source is experimental (a stable one says False), as `llmflation sources` shows it.
EXPERIMENTAL = (
    "no real capture of docs.mistral.ai/inference/pricing exists to test it against; kept because it "
    "gives Mistral's own prices, which take the place of the feeds' claims about Mistral (LiteLLM, genai-"
    "prices, models.dev and llm-prices price it)"
)

UNIT_LINE = re.compile(r"Prices\s+(/\s*M\s+Tokens|as\s+marked)", re.I)
PER_MTOK_HEADER = re.compile(r"/\s*M\s+tokens|per\s+1?\s*M(illion)?\s+tokens", re.I)
AMOUNT = re.compile(r"^\$\s*([0-9][0-9,]*(?:\.[0-9]+)?)$")
NO_PRICE = {"", "—", "–", "-", "n/a"}
# Column order of every table the sources above describe, used only when a table has no header row.
DEFAULT_COLUMNS = {1: "input", 2: "cached_input", 3: "output"}


def parse(payload: Payload) -> ParseResult:
    """Parse every per-1M-token pricing table of the page."""
    soup = BeautifulSoup(payload.content, "html.parser")
    result = ParseResult()
    token_tables = 0
    for table in soup.find_all("table"):
        rows = table.find_all("tr")
        header = [_text(c).lower() for c in rows[0].find_all(["th", "td"])] if rows else []
        columns = {i: _metric(h) for i, h in enumerate(header) if _metric(h)}
        if not columns and rows and not rows[0].find("th"):
            columns, rows = dict(DEFAULT_COLUMNS), [Tag(name="tr"), *rows]  # no header row: documented order
        unit_line = table.find_previous(string=UNIT_LINE)
        if unit_line is not None and unit_line.find_next("table") is not table:
            unit_line = None  # the line belongs to an earlier table
        per_mtok_section = unit_line is not None and "marked" not in unit_line.lower()
        if not per_mtok_section and not any(PER_MTOK_HEADER.search(h) for h in header):
            result.skipped["table priced in other units (OCR, audio, ...)"] += max(len(rows) - 1, 0)
            continue
        if not {"input", "output"} <= set(columns.values()):
            result.skipped["per-token table without input and output columns"] += 1
            continue
        token_tables += 1
        for row in rows[1:]:
            cells = row.find_all(["td", "th"])
            if cells:
                _parse_row(cells, columns, result)
    if not token_tables:
        raise ParseError(NAME, payload.url, 'no "Prices /M Tokens" table with input and output', payload.content)
    return result.require_rows(NAME, payload, f"{result.items} model rows")


def _metric(header: str) -> str:
    if "cached" in header:
        return "cached_input"
    return "input" if "input" in header else "output" if "output" in header else ""


def _parse_row(cells: list[Tag], columns: dict[int, str], result: ParseResult) -> None:
    link = cells[0].find("a")
    name = _text(link or cells[0]).replace("↗", "").strip()
    if not name:
        result.rejects.append((_text(cells[0])[:80] or "?", "row without a model name"))
        return
    model_id = "-".join(name.lower().split())
    result.items += 1
    for index, metric in columns.items():
        cell = cells[index] if index < len(cells) else None
        if cell is not None and cell.find("del") and cell.find("ins"):
            result.skipped["struck-through list price (sale price used)"] += 1
            cell = cell.find("ins")
        text = re.sub(r"^(sale|original)\s+price:\s*", "", _text(cell), flags=re.I) if cell else ""
        if text.lower() in NO_PRICE:
            result.skipped["no price (—)"] += 1
            continue
        if text.lower() == "free":
            result.skipped["free: not a price"] += 1
            continue
        match = AMOUNT.match(text)
        if not match:
            result.rejects.append((model_id, f"{metric}: not a bare per-1M-token amount: {text!r}"))
            continue
        amount = result.amount(model_id, metric, match.group(1), zero_reason="free: not a price")
        if amount is None:
            continue
        key = model_key(PROVIDER, model_id)
        result.add(provider=PROVIDER, provider_model_id=model_id, model_key=key, metric=metric, amount=amount)


def _text(tag: Tag) -> str:
    return " ".join(tag.get_text(" ", strip=True).split())
