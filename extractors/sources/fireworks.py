"""Fireworks' serverless pricing docs page, as Markdown: per-model and per-size tables in USD per 1M tokens.

Format learned from the page itself, https://docs.fireworks.ai/serverless/pricing (Mintlify; the `.md`
URL serves the same page as Markdown, as its "llms.txt" index says): "Prices below are per 1 million tokens
in US dollars"; a per-model table, either `| Model | Input | Cached input | Output |` or, later,
`| Model | Standard | Priority |` with cells "input / cached input / output" and "—" where Priority is not
offered; model cells link https://app.fireworks.ai/models/<account>/<model> (API id
accounts/<account>/models/<model>, per https://docs.fireworks.ai/serverless/overview); then size-based prices
for other base models that "apply uniformly to input and output", and embeddings priced on input only.
No real capture has been tested yet: EXPERIMENTAL.
"""

from __future__ import annotations

import re

from llmflation.extractors.base import ParseResult, Payload, tier_name
from llmflation.extractors.errors import ParseError
from llmflation.extractors.identity import model_key

NAME = "fireworks"
URL = "https://docs.fireworks.ai/serverless/pricing.md"
DESCRIPTION = "Fireworks serverless pricing docs: per-model and per-size USD per 1M tokens, standard and priority"
PROVIDER = "fireworks"
KIND = "official"
# Why the source is experimental (a stable one says False), as `llmflation sources` shows it.
EXPERIMENTAL = (
    "no real capture of the pricing page exists to test it against; kept because it gives Fireworks' own"
    " prices, which take the place of the feeds' claims about Fireworks (LiteLLM, genai-prices and "
    "models.dev price its models, none its per-size prices)"
)

UNIT = re.compile(r"per\s+1\s*(million|M)\s+tokens|\$\s*/\s*1M\s+(input\s+)?tokens", re.I)
LINK = re.compile(r"^\[([^\]]+)\]\(([^)\s]+)\)")
MODEL_PAGE = re.compile(r"/models/([^/\s]+)/([^/?#\s]+)/?$")
AMOUNT = re.compile(r"^\$\s*([0-9][0-9,]*(?:\.[0-9]+)?)$")
TRIPLE = ("input", "cached_input", "output")


def parse(payload: Payload) -> ParseResult:
    """Parse every Markdown table whose columns name input, output, standard, priority or a $ price."""
    text = payload.content.decode("utf-8", "replace")
    if not UNIT.search(text):
        raise ParseError(NAME, payload.url, 'no "per 1 million tokens" unit statement', payload.content)
    result = ParseResult()
    tables = 0
    for header, rows in _tables(text.splitlines()):
        columns = {i: _column(h) for i, h in enumerate(header) if i and _column(h)}
        if not columns:
            result.skipped["table without price columns"] += 1
            continue
        tables += 1
        for cells in rows:
            _parse_row(cells, columns, result)
    if not tables:
        raise ParseError(NAME, payload.url, "no Markdown pricing table", payload.content)
    return result.require_rows(NAME, payload, f"{result.items} model rows")


def _tables(lines: list[str]) -> list[tuple[list[str], list[list[str]]]]:
    """Markdown pipe tables: (header cells, data rows); the separator row is dropped."""
    tables: list[tuple[list[str], list[list[str]]]] = []
    block: list[list[str]] = []
    for line in [*lines, ""]:
        if line.strip().startswith("|"):
            block.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif block:
            if len(block) >= 2 and all(set(c) <= set(":- ") for c in block[1]):
                tables.append((block[0], block[2:]))
            block = []
    return tables


def _column(header: str) -> tuple[str, ...]:
    """Header -> the metrics a cell holds: one, the input/cached/output triple, or input and output alike."""
    h = header.replace("*", "").lower()
    if "priority" in h or "standard" in h:
        return ("priority",) if "priority" in h else ("standard",)
    if "cached" in h:
        return ("cached_input",)
    if "input" in h:
        return ("input",)
    if "output" in h:
        return ("output",)
    return ("input", "output") if "$" in h or "price" in h else ()


def _parse_row(cells: list[str], columns: dict[int, tuple[str, ...]], result: ParseResult) -> None:
    link = LINK.match(cells[0])
    name = (link.group(1) if link else cells[0]).replace("*", "").strip()
    if not name:
        result.rejects.append((" | ".join(cells)[:80], "row without a model name"))
        return
    page = MODEL_PAGE.search(link.group(2)) if link else None
    model_id = f"accounts/{page.group(1)}/models/{page.group(2)}" if page else "-".join(name.lower().split())
    key = model_key(PROVIDER, model_id)
    result.items += 1
    for index, kind in columns.items():
        cell = cells[index] if index < len(cells) else ""
        if kind in (("standard",), ("priority",)):
            parts = [p.strip() for p in cell.split("/")]
            if len(parts) != 3:
                _no_price(cell, model_id, kind[0], result)
                continue
            pairs = list(zip(TRIPLE, parts, strict=True))
            tier = tier_name(service="priority" if kind == ("priority",) else "")
        else:
            pairs, tier = [(metric, cell) for metric in kind], tier_name()
        for metric, raw in pairs:
            match = AMOUNT.match(raw.replace("*", "").strip())
            if not match:
                _no_price(raw, model_id, metric, result)
                continue
            amount = result.amount(model_id, metric, match.group(1), zero_reason="zero: free or not charged")
            if amount is None:
                continue
            result.add(
                provider=PROVIDER, provider_model_id=model_id, model_key=key, metric=metric, amount=amount, tier=tier
            )


def _no_price(cell: str, model_id: str, metric: str, result: ParseResult) -> None:
    if cell.strip().lower() in ("", "—", "–", "-", "n/a"):
        result.skipped["no price (—)"] += 1
    elif cell.strip().lower() == "free":
        result.skipped["free: not a price"] += 1
    else:
        result.rejects.append((model_id, f"{metric}: not a $ per 1M tokens amount: {cell!r}"))
