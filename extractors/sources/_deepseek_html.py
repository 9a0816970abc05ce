"""HTML helpers for the DeepSeek pricing page: tables as cell grids, cell text, and exactly stated dates."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from bs4 import Comment, NavigableString, Tag

# Footnote markers and struck-through (former) prices are not part of a cell's current text.
FOOTNOTE = ("sup",)
STRUCK = ("del", "s", "strike")
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTHS = {name: number for number, name in enumerate(MONTH_NAMES, 1)}
# "2025-02-08 16:00", "2026/07/24 23:59", "2025年9月6日 00:00"
NUMERIC_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*(?:\(?UTC\)?\s*)?(\d{1,2})\s*[:：]\s*(\d{2})"
)
# "16:00 UTC Time on Sept 5th, 2025"
WORDED_DATE = re.compile(
    r"(\d{1,2}):(\d{2})\s*\(?(?:UTC|GMT)?(?:\+0?8(?::00)?)?\)?\s*(?:time\s+)?on\s+([a-z]{3})[a-z]*\.?\s+"
    r"(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})",
    re.IGNORECASE,
)
BEIJING = re.compile(r"北京时间|beijing|utc\s*\+\s*0?8|gmt\s*\+\s*0?8", re.IGNORECASE)
UTC_WORD = re.compile(r"\b(?:utc|gmt)\b", re.IGNORECASE)
ENDS = re.compile(r"until|till|through|remain|ends?\b|expire|截至|截止|结束|之前|为止", re.IGNORECASE)
STARTS = re.compile(r"start|from|effective|as of|起|开始|生效", re.IGNORECASE)


def grid(table: Tag) -> list[list[Tag | None]]:
    """The table as a rectangle of cells; a cell spanning rows or columns fills every slot it covers."""
    slots: dict[tuple[int, int], Tag] = {}
    rows = table.find_all("tr")
    for r, tr in enumerate(rows):
        c = 0
        for cell in tr.find_all(["td", "th"], recursive=False):
            while (r, c) in slots:
                c += 1
            rowspan, colspan = _span(cell, "rowspan"), _span(cell, "colspan")
            for dr in range(rowspan):
                for dc in range(colspan):
                    slots[(r + dr, c + dc)] = cell
            c += colspan
    width = max((c for _, c in slots), default=-1) + 1
    return [[slots.get((r, c)) for c in range(width)] for r in range(len(rows))]


def text(node: Tag | None, drop: tuple[str, ...] = FOOTNOTE + STRUCK) -> str:
    """Visible text of a cell without footnote markers or struck-through prices, whitespace collapsed."""
    return " ".join(_strings(node, drop).split()) if node is not None else ""


def struck(node: Tag | None) -> str:
    """Text inside the struck-through parts of a cell (a former price shown beside a discounted one)."""
    if node is None:
        return ""
    return " ".join(text(part, FOOTNOTE) for part in node.find_all(list(STRUCK)))


def stated_period(prose: str) -> tuple[datetime | None, datetime | None]:
    """(start, end) when a sentence states an exact date, time and time zone: 'Starting from 16:00 UTC on
    Sept 5th, 2025', 'until 2025-02-08 16:00 (UTC)', '截至北京时间 2025-02-09 00:00'. Anything vaguer is None."""
    found: dict[str, set[datetime]] = {"start": set(), "end": set()}
    for sentence in re.split(r"[。；;\n]|\.\s+(?=[A-Z])|\.$", prose):
        moments = _moments(sentence)
        if len(moments) != 1:
            continue
        if ENDS.search(sentence):
            found["end"] |= moments
        elif STARTS.search(sentence):
            found["start"] |= moments
    start, end = (next(iter(v)) if len(v) == 1 else None for v in (found["start"], found["end"]))
    return start, end


def _moments(sentence: str) -> set[datetime]:
    if BEIJING.search(sentence):
        zone = timezone(timedelta(hours=8))
    elif UTC_WORD.search(sentence):
        zone = UTC
    else:
        return set()  # a clock time without a stated zone is not exact
    fields = [(y, mo, d, h, mi) for y, mo, d, h, mi in NUMERIC_DATE.findall(sentence)]
    fields += [(y, MONTHS.get(m.lower(), 0), d, h, mi) for h, mi, m, d, y in WORDED_DATE.findall(sentence)]
    moments = {_moment(zone, *(int(v) for v in f)) for f in fields}
    return {m for m in moments if m is not None}


def _moment(zone: timezone, year: int, month: int, day: int, hour: int, minute: int) -> datetime | None:
    try:
        return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)
    except ValueError:
        return None


def _span(cell: Tag, name: str) -> int:
    value = str(cell.get(name) or "1").strip()
    return max(1, min(int(value), 50)) if value.isdigit() else 1


def _strings(node: Tag | NavigableString, drop: tuple[str, ...]) -> str:
    if isinstance(node, Comment):
        return ""
    if isinstance(node, NavigableString):
        return str(node)
    if node.name in drop:
        return ""
    if node.name == "br":
        return " "
    return "".join(_strings(child, drop) for child in node.children)
