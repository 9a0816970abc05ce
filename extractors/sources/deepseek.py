"""DeepSeek's "Models & Pricing" page: one table, a column per model, prices per 1M tokens (USD or CNY).

The English page (api-docs.deepseek.com/quick_start/pricing) states USD ("1M INPUT TOKENS (CACHE HIT)", "$0.07");
the Chinese one (/zh-cn/...) states CNY ("百万tokens输入（缓存命中）", "0.2元"). Both are read by structure: the
row whose first cell is MODEL/模型 names the model columns; rows labelled with input/output per 1M tokens hold
prices. Older pages with one row per model are read transposed. Time-of-day discounts (off-peak, DISCOUNT PRICE)
are skipped and counted; a peak-hours band is tier "peak". Prices for a stated period (a "Starting from ..." or
"until ..." paragraph before the table) and limited-time prices keep their dates only when the page states date,
time and zone exactly; a limited-time price without them is skipped.
"""

from __future__ import annotations

import re
from datetime import datetime

from bs4 import BeautifulSoup, Tag

from llmflation.extractors.base import ParseResult, Payload
from llmflation.extractors.errors import ParseError
from llmflation.extractors.identity import model_key
from llmflation.extractors.sources._deepseek_html import grid, stated_period, struck, text

NAME = "deepseek"
URL = "https://api-docs.deepseek.com/quick_start/pricing"
DESCRIPTION = "DeepSeek API pricing page: cache hit, cache miss and output per 1M tokens (USD or CNY)"
PROVIDER = "deepseek"
KIND = "official"
EXPERIMENTAL = False

Grid = list[list[Tag | None]]
HEADER = re.compile(r"^(?:model|模型)(?:\s*name|名称)?$", re.IGNORECASE)
PRICE_LABEL = re.compile(r"1\s*m\b|million|百万|price|pricing|价格", re.IGNORECASE)
PRICE = re.compile(
    r"(?:\$|US\$|USD)\s*(?P<a>\d+(?:\.\d+)?)|[¥￥]\s*(?P<b>\d+(?:\.\d+)?)"
    r"|(?P<c>\d+(?:\.\d+)?)\s*(?:元|CNY|RMB)|(?P<d>\d+(?:\.\d+)?)\s*USD"
)
OFF_PEAK = re.compile(r"off[- ]?peak|discount|优惠|闲时|低谷|谷时|夜间", re.IGNORECASE)
PEAK = re.compile(r"\bpeak\b|高峰|峰时", re.IGNORECASE)
FREE = re.compile(r"\bfree\b|免费", re.IGNORECASE)
LIMITED = re.compile(r"限时|limited[- ]time|promotion", re.IGNORECASE)


def parse(payload: Payload) -> ParseResult:
    """Parse the pricing page, English or Chinese."""
    soup = BeautifulSoup(payload.content, "html.parser")
    layouts = [(table, found) for table in soup.find_all("table") if (found := _layout(table))]
    if not layouts:
        detail = "no pricing table (a <table> with a MODEL/模型 row and per-1M-token price rows)"
        raise ParseError(NAME, payload.url, detail, payload.content)
    result = ParseResult()
    models: set[str] = set()
    for table, (cells, header, columns) in layouts:
        ids = {c: _model_id(cells[header][c]) for c in columns}
        models.update(ids.values())
        period = stated_period(_prose_before(table))
        for r, row in enumerate(cells):
            label = _label(row, columns)
            metric = _metric(label) if r != header else None
            if metric:
                for c in columns:
                    _add(result, ids[c], metric, label, row[c], period, table)
    result.items = len(models)
    return result.require_rows(NAME, payload, f"{len(models)} models")


def _add(
    result: ParseResult,
    model_id: str,
    metric: str,
    label: str,
    cell: Tag | None,
    period: tuple[datetime | None, datetime | None],
    table: Tag,
) -> None:
    if OFF_PEAK.search(label):
        result.skipped["off-peak or time-of-day discount price (no dated period)"] += 1
        return
    current = text(cell)
    prices = _prices(current)
    if not prices:
        if FREE.search(current):
            result.skipped["free (no price)"] += 1
        elif current.strip(" -–—/") == "":
            result.skipped["no price in the cell"] += 1
        else:
            result.rejects.append((model_id, f"{metric}: no price in {current!r}"[:200]))
        return
    if len(prices) > 1:
        result.rejects.append((model_id, f"{metric}: several prices in one cell {current!r}"[:200]))
        return
    value, currency = prices.pop()
    start, end = period
    if struck(cell):
        result.skipped["struck-through former price"] += 1
    if struck(cell) or LIMITED.search(label + " " + current):
        end = end or stated_period(_prose_after(table))[1]
        if end is None:
            result.skipped["limited-time price without an exact end date"] += 1
            return
    amount = result.amount(model_id, metric, value, zero_reason="free (no price)")
    if amount is None:
        return
    result.add(
        provider=PROVIDER,
        provider_model_id=model_id,
        model_key=model_key(PROVIDER, model_id),
        metric=metric,
        amount=amount,
        currency=currency,
        tier="peak" if PEAK.search(label) else "standard",
        effective_from=start,
        effective_to=end,
    )


def _prices(cell_text: str) -> set[tuple[str, str]]:
    """Every distinct (number, currency) in a cell: '$0.07' -> USD, '0.2元' or '¥0.2' -> CNY."""
    found = set()
    for match in PRICE.finditer(cell_text):
        usd = match.group("a") or match.group("d")
        found.add((usd, "USD") if usd else (match.group("b") or match.group("c"), "CNY"))
    return found


def _layout(table: Tag) -> tuple[Grid, int, list[int]] | None:
    """(cells, header row, model columns) of a pricing table, reading one-row-per-model tables transposed."""
    cells = grid(table)
    for attempt in (cells, [list(column) for column in zip(*cells, strict=True)]):
        header = next((r for r, row in enumerate(attempt) if row and HEADER.match(text(row[0]))), None)
        if header is None:
            continue
        label_cell, seen, columns = attempt[header][0], set(), []
        for c, cell in enumerate(attempt[header]):
            if cell is not None and cell is not label_cell and id(cell) not in seen and text(cell):
                seen.add(id(cell))
                columns.append(c)
        if columns and any(_metric(_label(row, columns)) for r, row in enumerate(attempt) if r != header):
            return attempt, header, columns
    return None


def _label(row: list[Tag | None], columns: list[int]) -> str:
    """The row's label: its cells outside the model columns (group, price kind, time band), in order."""
    cells = [cell for c, cell in enumerate(row) if c not in columns and cell is not None]
    return " ".join(text(cell) for i, cell in enumerate(cells) if cell not in cells[:i])


def _metric(label: str) -> str | None:
    """Cache hit -> cached_input, cache miss -> input, output -> output, for per-1M-token price labels only."""
    lowered = label.lower()
    if not PRICE_LABEL.search(lowered):
        return None
    if "cache miss" in lowered or "未命中" in lowered:
        return "input"
    if "cache hit" in lowered or "命中" in lowered:
        return "cached_input"
    if "output" in lowered or "输出" in lowered:
        return "output"
    if "input" in lowered or "输入" in lowered:
        return "input"
    return None


def _model_id(cell: Tag | None) -> str:
    name = re.sub(r"\s*[(（]\d+[)）]$", "", text(cell))
    return re.sub(r"\s+", "-", name.strip().lower())


def _prose_before(table: Tag) -> str:
    """The paragraph right before the table, which may say from or until when its prices apply."""
    previous = table.find_previous(["p", "h1", "h2", "h3", "h4", "table"])
    return text(previous) if previous is not None and previous.name == "p" else ""


def _prose_after(table: Tag) -> str:
    """Footnotes after the table, up to the next heading or table."""
    notes = []
    for node in table.find_all_next(["p", "li", "h1", "h2", "h3", "h4", "table"], limit=20):
        if node.name not in ("p", "li"):
            break
        notes.append(text(node))
    return "\n".join(notes)
