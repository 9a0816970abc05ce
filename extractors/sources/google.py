"""Google's Gemini API pricing page: one <h2> per model, Free/Paid tier tables, mode tabs, free-text cells."""

from __future__ import annotations

import re
from decimal import Decimal

from bs4 import BeautifulSoup, NavigableString, Tag

from llmflation.extractors.base import ParseResult, Payload, tier_name
from llmflation.extractors.errors import ParseError
from llmflation.extractors.identity import model_key
from llmflation.extractors.sources._google_cells import CellError, Price, label_kind, read_line

NAME = "google"
URL = "https://ai.google.dev/gemini-api/docs/pricing"
DESCRIPTION = "Google's Gemini API pricing page: paid-tier prices per model, with Batch, Flex and Priority"
PROVIDER = "google"
KIND = "official"
EXPERIMENTAL = False

# Mode tab -> (service tier, is batch). Tables outside a <devsite-selector> are Standard.
MODES = {"standard": ("", False), "batch": ("", True), "flex": ("flex", False), "priority": ("priority", False)}
HEADER_UNITS = {"1m tokens": "mtok", "second": "second", "request": "request", "image": "image", "minute": "minute"}
# (family, kind) -> metric; kind "" or "text" is the plain metric.
KIND_METRICS = {
    "input": {"image": "image_input", "audio": "audio_input", "video": "video_input"},
    "output": {
        "image": "image_output",
        "audio": "audio_output",
        "video": "video_output",
        "thinking": "reasoning_output",
    },
    "cached_input": {"image": "cached_image_input", "audio": "cached_audio_input", "video": "cached_video_input"},
}
BATCH_METRICS = {"input": "batch_input", "output": "batch_output"}
# Smaller than any real per-1M-token price: such a figure is per item (a footnote says which), not per token.
MIN_MTOK = Decimal("0.001")
API_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-_:]*$")
LINE_BREAK = "\x1e"


def parse(payload: Payload) -> ParseResult:
    """Parse the HTML of https://ai.google.dev/gemini-api/docs/pricing."""
    soup = BeautifulSoup(payload.content, "html.parser")
    result = ParseResult()
    sections: list[tuple[list[str], list[Tag]]] = []
    current: list[Tag] | None = None
    where = "top of page"
    for element in soup.find_all(["h2", "table"]):
        if element.name == "h2":
            names = _model_names(element) if element.get("id") else None
            current = [] if names is not None else None
            where = str(element.get("id") or element.get_text(" ", strip=True))
            if names is not None:
                sections.append((names, current))
        elif current is not None:
            current.append(element)
        else:
            result.skipped[f"table outside a model section ({where})"] += 1
    if not sections:
        raise ParseError(NAME, payload.url, "no model sections (<h2 id> with an API model name)", payload.content)
    result.items = len(sections)
    tables = 0
    for names, section_tables in sections:
        before = len(result.rows)
        for table in section_tables:
            tables += _parse_table(table, names, result)
        if len(result.rows) == before:
            result.skipped["model section without a paid price"] += 1
    if not tables:
        raise ParseError(NAME, payload.url, "no pricing table with a Paid Tier column", payload.content)
    if not result.rows:
        raise ParseError(NAME, payload.url, f"{len(sections)} models but not one paid price", payload.content)
    return result


def _model_names(h2: Tag) -> list[str] | None:
    """API names shown under a model heading (<em><code>), [name from the heading] for a model section without
    them, or None when the heading is not a model's."""
    parent = h2.parent
    own_block = isinstance(parent, Tag) and len(parent.find_all("h2")) == 1 and not parent.find("table")
    block = parent if own_block else h2
    for candidate in [block, *block.find_next_siblings(limit=2)]:
        if candidate is not block and (candidate.name in ("h2", "table") or candidate.find(["h2", "table"])):
            break
        names = [c.get_text(strip=True) for em in candidate.find_all("em") for c in em.find_all("code")]
        names = [n for n in names if API_NAME.match(n)]
        if names:
            return list(dict.fromkeys(names))
    if any("models-section" in (a.get("class") or []) for a in h2.parents):
        return ["-".join(str(h2.get("data-text") or h2.get_text(" ", strip=True)).lower().split())]
    return None


def _parse_table(table: Tag, names: list[str], result: ParseResult) -> int:
    """Read one pricing table into rows; return 1 if it is a price table (has a Paid Tier column), else 0."""
    header = table.find("tr")
    heads = [cell.get_text(" ", strip=True) for cell in _cells(header)] if header else []
    paid = next((i for i, text in enumerate(heads) if "paid" in text.lower()), None)
    if paid is None:
        return 0
    unit = next((u for word, u in HEADER_UNITS.items() if f"per {word}" in heads[paid].lower()), None)
    currency = m.group(1) if (m := re.search(r"\bin ([A-Z]{3})\b", heads[paid])) else "USD"
    mode = _mode(table)
    if unit is None or mode not in MODES:
        result.rejects.append((names[0], f"table not understood: mode {mode!r}, header {heads[paid]!r}"))
        return 1
    service, batch = MODES[mode]
    for row in table.find_all("tr"):
        if row is header:
            continue
        cells = _cells(row)
        if len(cells) <= paid:
            continue
        if any("free" in heads[i].lower() for i in range(1, min(len(cells), len(heads)))):
            result.skipped["Free Tier column (not a price)"] += 1
        label = cells[0].get_text(" ", strip=True)
        lines = _lines(cells[paid])
        if not any("$" in line for line in lines):
            result.skipped["row without a paid price (Not available, free or text only)"] += 1
            continue
        targets = _row_models(label, names)
        if not targets:
            result.rejects.append((f"{names[0]}: {label}", "row names no single model of its section"))
            continue
        for line in lines:
            try:
                prices = read_line(line, unit)
            except CellError as exc:
                result.rejects.append((f"{names[0]}: {line}"[:200], str(exc)))
                continue
            if not prices:
                result.skipped["text line without a price"] += 1
            for price in prices:
                _add(price, label, targets, service, batch, currency, result)
    return 1


def _add(price: Price, label: str, names: list[str], service: str, batch: bool, currency: str, r: ParseResult) -> None:
    family = _family(label)
    kinds = price.kinds or ((label_kind(label),) if label_kind(label) else ())
    if family is None and kinds:
        family = "output"  # a generation price named by what it makes (Veo video, Lyria song)
    if family in ("web_search", "maps_grounding") and price.unit != "request":
        family = None
    if (family == "cached_input" and price.unit == "hour") or family == "cache_storage":
        family = "cache_storage"
    if family is None:
        r.rejects.append((f"{names[0]}: {label}", f"price of an unknown kind: ${price.amount} per {price.unit}"))
        return
    if price.unit == "mtok" and price.amount < MIN_MTOK:
        r.rejects.append((f"{names[0]}: {label}", f"${price.amount} per 1M tokens is implausible (per item?)"))
        return
    metrics = [family]
    if family in KIND_METRICS and kinds and "text" not in kinds:
        metrics = [KIND_METRICS[family].get(k, f"{k}_{family}") for k in kinds]
    unit = "hour" if family == "cache_storage" else price.unit
    for metric in metrics:
        row_metric = BATCH_METRICS.get(metric, metric) if batch else metric
        row_service = "batch" if batch and row_metric == metric else service
        for context in price.tiers:
            for name in names:
                r.add(
                    provider=PROVIDER,
                    provider_model_id=name,
                    model_key=model_key(PROVIDER, name),
                    metric=row_metric,
                    amount=price.amount,
                    unit=unit,
                    currency=currency,
                    tier=tier_name(service=row_service, context=context),
                    effective_from=price.effective_from,
                    effective_to=price.effective_to,
                )


def _family(label: str) -> str | None:
    text = label.lower()
    if "grounding" in text or "search" in text or "maps" in text:
        return "maps_grounding" if "maps" in text else "web_search"
    if "cach" in text:
        return "cache_storage" if "storage" in text else "cached_input"
    if "input" in text:
        return "input"
    if "output" in text:
        return "output"
    return None


def _mode(table: Tag) -> str:
    if table.find_parent("devsite-selector") is None:
        return "standard"
    tab = table.find_parent("section")
    heading = tab.find(["h3", "h4"]) if tab else None
    return heading.get_text(" ", strip=True).lower() if heading else ""


def _cells(row: Tag) -> list[Tag]:
    """The cells of a row, a cell spanning n columns repeated n times."""
    cells = []
    for cell in row.find_all(["td", "th"], recursive=False):
        span = str(cell.get("colspan") or "1")
        cells += [cell] * (int(span) if span.isdigit() else 1)
    return cells


def _lines(cell: Tag) -> list[str]:
    """A cell's text split at <br> (and block elements), whitespace collapsed."""
    for br in cell.find_all(["br", "p", "li"]):
        br.insert_before(NavigableString(LINE_BREAK))
    return [" ".join(part.split()) for part in cell.get_text().split(LINE_BREAK) if part.strip()]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+(?:\.[0-9]+)*", text.lower()))


def _row_models(label: str, names: list[str]) -> list[str]:
    """The API names a row prices: all of the section's, or the one variant the label names
    ('Veo 3.1 Fast video ...' -> veo-3.1-fast-generate-preview; 'Veo 3.1 Standard ...' -> the plain one)."""
    words, tokens = _words(label), {name: _words(name) for name in names}
    if len(names) < 2 or not words & set().union(*tokens.values()):
        return names
    common = set.intersection(*tokens.values())
    own = {name: t - common for name, t in tokens.items()}
    hits = [name for name in names if own[name] and own[name] <= words]
    plain = [name for name in names if not own[name]]
    return hits if len(hits) == 1 else plain if not hits and len(plain) == 1 else []
