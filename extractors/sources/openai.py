"""OpenAI's API pricing page: Astro-rendered tables per section and service tier, the full rows in island props."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from decimal import Decimal

from bs4 import BeautifulSoup

from llmflation.extractors.base import ParseResult, Payload, tier_name, token_count_label
from llmflation.extractors.errors import ParseError
from llmflation.extractors.identity import model_key
from llmflation.extractors.sources._openai_tables import Cell, Column, Record, cell_prices, html_records, island_records
from llmflation.extractors.units import PriceValueError

NAME = "openai"
URL = "https://developers.openai.com/api/docs/pricing"
DESCRIPTION = "OpenAI's API pricing page: models, service tiers, long-context, media and tool prices"
PROVIDER = "openai"
KIND = "official"
EXPERIMENTAL = False

# Column heading -> (metric before modality and batch, unit of a bare "$x"); the page states "per 1M tokens".
COLUMNS = {
    "input": ("input", "mtok"),
    "cached input": ("cached_input", "mtok"),
    "cache writes": ("cache_write", "mtok"),
    "cache write": ("cache_write", "mtok"),
    "output": ("output", "mtok"),
    "output / cost": ("output", "mtok"),
    "training": ("training", "mtok"),
    # transcription: "$0.006 / minute" of input audio; the page calls it an estimate, and so does the metric
    "estimated cost": ("input_estimate", ""),
}
PRICE_PER = re.compile(r"^price per (\w+)$")  # "Price per second" (video)
PER_UNIT_METRIC = {"second": "video_output", "image": "image_output"}
DESCRIPTIVE = {"", "model", "tool", "details", "pricing", "modality", "category", "use case"}
DESCRIPTIVE |= {"size", "portrait", "landscape"}  # video: the size becomes part of the tier
# Switcher pane values; "Priority processing was renamed Fast mode" (service_tier "priority" or "fast").
SERVICES = {"": "", "standard": "", "batch": "batch", "flex": "flex", "fast": "priority", "priority": "priority"}
BATCH_METRICS = {"input": "batch_input", "output": "batch_output"}
# Units stated on the page that the warehouse cannot store (skipped with a reason, never converted).
NOT_STORED: set[str] = set()
THRESHOLD = re.compile(r"([<>≤≥])\s*(\d+)\s*([KM])\b\s*(?:input\s+)?(?:tokens|context)", re.I)
IGNORED_NOTES = {"legacy", "deprecated"}


@dataclass
class _Page:
    result: ParseResult
    threshold: str  # ">272k" when the page states one long-context threshold, else ""
    models: set[str] = field(default_factory=set)
    seen: dict[tuple[str, str, str, str], Decimal] = field(default_factory=dict)

    def add(self, model_id: str, metric: str, unit: str, tier: str, amount: Decimal) -> None:
        key = (model_id, metric, unit, tier)
        if self.seen.get(key) == amount:
            self.result.skipped["price repeated on the page"] += 1
            return
        # A different price for a key already seen is kept too: validation rejects the pair, never guesses.
        self.seen.setdefault(key, amount)
        self.result.add(
            provider=PROVIDER,
            provider_model_id=model_id,
            model_key=model_key(PROVIDER, model_id),
            metric=metric,
            amount=amount,
            unit=unit,
            tier=tier,
        )


def parse(payload: Payload) -> ParseResult:
    """Parse developers.openai.com/api/docs/pricing (rendered tables plus the rows behind "All models")."""
    soup = BeautifulSoup(payload.content, "html.parser")
    tables = soup.find_all("table")
    if not tables:
        raise ParseError(NAME, payload.url, "no <table> on the page", payload.content)
    page = _Page(ParseResult(), _page_threshold(payload.content))
    islands: set[int] = set()
    for table in tables:
        pane = table.find_parent(attrs={"data-content-switcher-pane": True})
        service = str(pane.get("data-value") or "") if pane else ""
        records = html_records(table)
        island = table.find_parent("astro-island")
        if island is not None and id(island) not in islands:
            islands.add(id(island))
            named, more, bad = island_records(island)
            records += more
            page.result.rejects += [(str(island.get("uid") or "astro-island"), reason) for reason in bad]
            service = service or named
        label = SERVICES.get(service.lower(), _slug(service))
        for record in records:
            _read_record(record, label, page)
    page.result.items = len(page.models)
    if not page.result.rows:
        raise ParseError(NAME, payload.url, f"{len(tables)} tables but not one price", payload.content)
    return page.result


def _read_record(record: Record, service: str, page: _Page) -> None:
    cells = {column.label: cell for column, cell in record}
    if "tool" in cells:
        _read_tool(cells, service, page)
        return
    name = cells.get("model", Cell("")).text
    if not name:
        page.result.skipped["row without a model name"] += 1
        return
    model_id, row_context = _model_name(name)
    if "training" in cells:
        model_id = f"ft:{model_id}"  # fine-tuned models: LiteLLM's "ft:<base>" key, never the base model's price
    page.models.add(model_id)
    modality = cells["modality"].text.lower() if "modality" in cells else ""
    variant = " ".join(p for p in (_note(cells["model"].note), _slug(cells.get("size", Cell("")).text)) if p)
    for column, cell in record:
        spec = COLUMNS.get(column.label)
        if (per := PRICE_PER.match(column.label)) is not None:
            spec = (PER_UNIT_METRIC.get(per.group(1), "output"), per.group(1))
        if spec is None:
            if column.label not in DESCRIPTIVE:
                page.result.skipped[f"unknown column {column.label!r}"] += 1
            continue
        context = _context(column, page)
        if context is None:
            page.result.skipped["long-context price without a stated threshold"] += 1
        elif spec[0] == "training" and service:
            page.result.skipped["training price repeated in a service-tier table"] += 1
        else:
            metric = _metric(spec[0], modality)
            _emit(page, model_id, metric, spec[1], cell, service, variant, context or row_context)


def _read_tool(cells: dict[str, Cell], service: str, page: _Page) -> None:
    """Tools rows: Tool (group), Details ("Web search preview (non-reasoning models)"), Pricing."""
    tool, details, price = cells["tool"].text, cells.get("details"), cells.get("pricing")
    if not tool or details is None or price is None:
        page.result.rejects.append((tool or "?", "tool row without details or pricing"))
        return
    model_id = _slug(tool)
    page.models.add(model_id)
    match = re.match(r"^(.*?)\s*\((.*)\)\s*$", details.text)
    what, qualifier = match.groups() if match else (details.text, "")
    qualifier = qualifier.split(",")[0].lower().removesuffix(" models")
    variant = "" if qualifier in ("", "all", "all models") else _slug(qualifier)
    _emit(page, model_id, _slug(what).replace("-", "_"), "", price, service, variant, "")


def _emit(
    page: _Page, model_id: str, metric: str, unit: str, cell: Cell, service: str, variant: str, context: str
) -> None:
    try:
        prices = cell_prices(cell.text, unit)
    except PriceValueError as exc:
        page.result.rejects.append((model_id, f"{metric}: {exc}"))
        return
    if isinstance(prices, str):
        page.result.skipped[prices] += 1
        return
    for amount, stated_unit, size in prices:
        if stated_unit in NOT_STORED:
            page.result.skipped[f"price per {stated_unit} (not stored by this parser yet)"] += 1
            continue
        row_metric, row_service = metric, service
        if service == "batch" and metric in BATCH_METRICS:
            row_metric, row_service = BATCH_METRICS[metric], ""
        tier = tier_name(service=" ".join(p for p in (row_service, variant, size) if p), context=context)
        page.add(model_id, row_metric, stated_unit, tier, amount)


def _model_name(text: str) -> tuple[str, str]:
    """'gpt-5.5 (<272K context length)' -> ('gpt-5.5', ''): the price is the short-context one."""
    match = re.match(r"^(.*?)\s*\(([^()]*)\)\s*$", text)
    name, qualifier = match.groups() if match else (text, "")
    threshold = THRESHOLD.search(qualifier)
    context = _threshold_label(threshold) if threshold and threshold.group(1) in ">≥" else ""
    return _slug(name), context


def _context(column: Column, page: _Page) -> str | None:
    """'' for short-context or ungrouped columns, '>272k' for long-context ones, None if no threshold is known."""
    if "long context" not in column.group:
        return ""
    stated = THRESHOLD.search(f"{column.group} {column.note}")
    return _threshold_label(stated) if stated else page.threshold or None


def _page_threshold(content: bytes) -> str:
    """The one long-context threshold the page states ("≤272K input tokens", "(<272K context length)")."""
    found = {_threshold_label(m) for m in THRESHOLD.finditer(html.unescape(content.decode("utf-8", "replace")))}
    return found.pop() if len(found) == 1 else ""


def _threshold_label(match: re.Match[str]) -> str:
    scale = 1_000_000 if match.group(3).upper() == "M" else 1000
    return f">{token_count_label(int(match.group(2)) * scale)}"


def _metric(base: str, modality: str) -> str:
    """Per-modality metrics: ('input', 'audio') -> 'audio_input', ('cached_input', 'image') -> 'cached_image_input'."""
    kind = _slug(modality).replace("-", "_")
    if kind in ("", "text"):
        return base
    if base == "cached_input":
        return f"cached_{kind}_input"
    if base == "cache_write":
        return f"{kind}_cache_write"
    return f"{kind}_{base}"


def _note(note: str) -> str:
    """'with data sharing' -> 'data-sharing' (a priced variant); 'Legacy' is a remark, not a variant."""
    text = note.strip().lower()
    return "" if text in IGNORED_NOTES or text.startswith("+") else _slug(text.removeprefix("with "))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.:_]+", "-", text.strip().lower()).strip("-")
