"""The OpenAI pricing page's tables as records (rendered <table> and Astro island props) and their price cells.

The page renders only the first rows of each table; the rest (behind "All models") is in the `props` attribute
of the enclosing <astro-island>, in Astro's serialisation: every value is [type, payload], 0 plain, 1 array.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bs4 import BeautifulSoup, Tag

from llmflation.extractors.units import PriceValueError, per_mtok, quantize, to_decimal


@dataclass(frozen=True)
class Column:
    label: str  # lowercased heading: "model", "input", "cached input", "price per second" ...
    group: str = ""  # heading over a column group: "short context", "long context"
    note: str = ""  # the group's or heading's tooltip: ">272K input tokens"


@dataclass(frozen=True)
class Cell:
    text: str
    note: str = ""  # the <small> line under a name: "with data sharing", "Legacy"


Record = list[tuple[Column, Cell]]
# The flagship tables' props rows are positional: [model, input, cached input, (cache writes,) output].
POSITIONAL = {
    2: ("input", "output"),
    3: ("input", "cached input", "output"),
    4: ("input", "cached input", "cache writes", "output"),
}
STATED_UNITS = (  # the words after "/" in "$15.00 / 1M characters" -> (unit, divisor)
    (re.compile(r"1m tokens?\b"), "mtok", 1),
    (re.compile(r"1k tokens?\b"), "1k_tokens", 1),
    (re.compile(r"1m char(acter)?s?\b"), "character", 1_000_000),
    (re.compile(r"1k calls?\b"), "1k_calls", 1),
    (re.compile(r"gb(-| per )day\b"), "gb_day", 1),
    (re.compile(r"(1 )?image\b"), "image", 1),
    (re.compile(r"(1 )?(second|sec)\b"), "second", 1),
    (re.compile(r"(1 )?(minute|min)\b"), "minute", 1),
    (re.compile(r"(1 )?hour\b"), "hour", 1),
    (re.compile(r"(call|request)\b"), "request", 1),
)
PRICE = re.compile(r"\$\s*(\d[\d,]*(?:\.\d+)?)(?:\s*/\s*([^+(]+))?")
SIZED = re.compile(r"(\d+)\s*GB\s*\$\s*(\d[\d,]*(?:\.\d+)?)", re.I)  # "1 GB $0.03, 4 GB $0.12 ... per session"
NO_PRICE = {"", "-", "–", "—", "n/a"}


def label(text: str) -> str:
    return " ".join(text.split()).lower()


def html_cell(tag: Tag) -> Cell:
    """Text of a cell without its <small> lines, which become the note."""
    note = " ".join(s.get_text(" ", strip=True) for s in tag.find_all("small"))
    parts = [str(s) for s in tag.find_all(string=True) if s.find_parent("small") is None]
    text = re.sub(r"\s+([,)])", r"\1", " ".join(" ".join(parts).split()))
    return Cell(text, note)


def cell_prices(text: str, unit: str) -> list[tuple[Decimal, str, str]] | str:
    """'$2.50' -> [(2.5, 'mtok', '')]; '$15.00 / 1M characters' -> [(0.000015, 'character', '')]; '-' -> reason."""
    text = " ".join(text.split())
    if text.lower() in NO_PRICE:
        return "no price shown"
    if text.lower().startswith("free"):
        return "free of charge (not a price)"
    if sized := SIZED.findall(text):
        if not re.search(r"\bsession\b", text, re.I):
            raise PriceValueError(f"sized price without a unit: {text!r}")
        return [(quantize(to_decimal(amount)), "session", f"{size}gb") for size, amount in sized]
    match = PRICE.search(text)
    if match is None:
        raise PriceValueError(f"no price in {text!r}")
    number, divisor = to_decimal(match.group(1)), 1
    stated = " ".join((match.group(2) or "").lower().split())
    if stated:
        found = next(((u, d) for pattern, u, d in STATED_UNITS if pattern.match(stated)), None)
        if found is None:
            raise PriceValueError(f"unknown unit {stated!r}")
        unit, divisor = found
    if not unit:
        raise PriceValueError(f"price without a unit: {text!r}")
    if unit in ("mtok", "1k_tokens"):
        return [(per_mtok(number, unit), "mtok", "")]
    return [(quantize(number / divisor), unit, "")]


def html_records(table: Tag) -> list[Record]:
    """Rows of a rendered table, header groups (colspan) and spanned cells (rowspan) expanded."""
    rows = table.find_all("tr")
    head = [tr for tr in rows if tr.find_parent("thead") is not None or not tr.find("td")]
    body = [tr for tr in rows if tr not in head]
    if not head:
        return []
    grids = [[label(c.get_text(" ", strip=True)) for c in _spanned(tr)] for tr in head]
    columns = [
        Column(name, " ".join(g[i] for g in grids[:-1] if i < len(g) and g[i])) for i, name in enumerate(grids[-1])
    ]
    records: list[Record] = []
    carried: dict[int, tuple[int, Cell]] = {}
    for tr in body:
        row: dict[int, Cell] = {}
        for index, (left, cell) in list(carried.items()):
            row[index] = cell
            carried[index] = (left - 1, cell)
            if left <= 1:
                del carried[index]
        index = 0
        for td in tr.find_all(["td", "th"], recursive=False):
            while index in row:
                index += 1
            cell, down = html_cell(td), _int(td.get("rowspan"))
            for _ in range(_int(td.get("colspan"))):
                row[index] = cell
                if down > 1:
                    carried[index] = (down - 1, cell)
                index += 1
        records.append([(columns[i], row[i]) for i in sorted(row) if i < len(columns)])
    return records


def island_records(island: Tag) -> tuple[str, list[Record], list[str]]:
    """(service tier named in the props, records, malformed rows) of one <astro-island>'s props."""
    try:
        raw = json.loads(island.get("props") or "{}", parse_float=Decimal)
    except ValueError:
        return "", [], ["island props are not valid JSON"]
    props = {k: _revive(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    service = props.get("tier") if isinstance(props.get("tier"), str) else ""
    rows: list[tuple[list[Column], list[Any]]] = []
    if isinstance(props.get("groups"), list):
        columns = _prop_columns(props)
        for group in props["groups"]:
            if isinstance(group, dict) and isinstance(group.get("rows"), list):
                rows += [(columns, [group.get("model"), *row]) for row in group["rows"] if isinstance(row, list)]
    elif isinstance(props.get("rows"), list) and props.get("headings"):
        rows = [(_prop_columns(props), row) for row in props["rows"] if isinstance(row, list)]
    elif isinstance(props.get("rows"), list):
        for row in props["rows"]:
            names = POSITIONAL.get(len(row) - 1, ()) if isinstance(row, list) else ()
            rows.append(([Column("model"), *(Column(n) for n in names)], row))
    records, bad = [], []
    for columns, values in rows:
        if not isinstance(values, list) or len(values) != len(columns) or len(columns) < 2:
            bad.append(f"props row does not fit the {len(columns)} headings: {values!r}"[:200])
            continue
        records.append(list(zip(columns, (_prop_cell(v) for v in values), strict=True)))
    return service, records, bad


def _prop_columns(props: dict[str, Any]) -> list[Column]:
    groups: list[tuple[str, str]] = []
    for group in props.get("headingGroups") or []:
        if isinstance(group, dict):
            groups += [_heading(group.get("label"))] * _int(group.get("colSpan"))
    columns = []
    for i, heading in enumerate(props.get("headingLabels") or props.get("headings") or []):
        name, note = _heading(heading)
        group, group_note = groups[i] if i < len(groups) else ("", "")
        if not group and (match := re.match(r"(short context|long context) (.+)", name)):
            group, name = match.groups()
        columns.append(Column(name, group, group_note or note))
    return columns


def _heading(value: Any) -> tuple[str, str]:
    """A heading: plain text, {"__pricingTooltipHeading": {label, tooltip}} or {"__pricingHtml": html}."""
    if isinstance(value, dict) and isinstance(value.get("__pricingTooltipHeading"), dict):
        inner = value["__pricingTooltipHeading"]
        return label(str(inner.get("label") or "")), str(inner.get("tooltip") or "")
    return label(_prop_cell(value).text), ""


def _prop_cell(value: Any) -> Cell:
    if value is None:
        return Cell("")
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return Cell(f"${value:f}")  # a bare number in the props is a dollar price
    if isinstance(value, dict) and isinstance(value.get("__pricingHtml"), str):
        return html_cell(BeautifulSoup(value["__pricingHtml"], "html.parser"))
    return Cell(" ".join(str(value).split()))


def _revive(value: Any) -> Any:
    if not isinstance(value, list) or len(value) < 2:
        return None  # [0] alone is `undefined`
    kind, payload = value[0], value[1]
    if kind == 1 and isinstance(payload, list):
        return [_revive(v) for v in payload]
    if kind == 0 and isinstance(payload, dict):
        return {k: _revive(v) for k, v in payload.items()}
    return payload


def _spanned(tr: Tag) -> list[Tag]:
    return [c for c in tr.find_all(["th", "td"], recursive=False) for _ in range(_int(c.get("colspan")))]


def _int(value: Any) -> int:
    try:
        return max(1, int(str(value)))
    except ValueError:
        return 1
