"""The google source against the real Gemini API pricing page (2026-09-04)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from llmflation.extractors.base import ParseResult
from llmflation.extractors.errors import ParseError
from llmflation.extractors.sources import google
from llmflation.warehouse.models import validate_rows
from tests.helpers import payload, real, ts

PAGE = "html/gemini_api_pricing_2026-09-04.html"
# Units the page states that warehouse.models.UNITS does not list yet (validation rejects those rows).
UNLISTED_UNITS: set[str] = set()


def _html() -> str:
    return real(PAGE).read_text(encoding="utf-8")


def _parse(html: str) -> ParseResult:
    return google.parse(payload("google", html, url=google.URL))


@pytest.fixture(scope="module")
def result() -> ParseResult:
    return _parse(_html())


def _prices(result: ParseResult) -> dict[tuple, Decimal]:
    """(model, metric, tier, unit, effective_from) -> amount; fails on a duplicate key."""
    got: dict[tuple, Decimal] = {}
    for r in result.rows:
        key = (r["provider_model_id"], r["metric"], r["tier"], r["unit"], r["effective_from"])
        assert key not in got or got[key] == r["amount"], key
        got[key] = r["amount"]
    return got


def _model_sections(html: str) -> dict[str, tuple[list[str], bool]]:
    """Independent route, by regex on the raw HTML: each models-section <h2 id> -> (API names, has a $ price)."""
    starts = list(
        re.finditer(r'<div class="models-section">\s*(?:<div class="heading-group">\s*)?<h2 id="([^"]+)"', html)
    )
    sections = {}
    for start in starts:
        end = html.find("<h2 ", start.end())
        chunk = html[start.start() : end if end > 0 else len(html)]
        em = re.search(r"</h2>\s*<em>(.*?)</em>", chunk, re.S)
        names = re.findall(r"<code[^>]*>([^<]+)</code>", em.group(1)) if em else [start.group(1)]
        sections[start.group(1)] = (names, bool(re.search(r"<td>[^<]*\$\d", chunk)))
    assert len(sections) == len(starts), "a section id appears twice"
    return sections


def test_every_model_section_is_read(result: ParseResult) -> None:
    sections = _model_sections(_html())
    assert len(sections) == 35
    priced = {sid for sid, (_, has_price) in sections.items() if has_price}
    assert set(sections) - priced == {"gemma-4"}  # its paid cells all say "Not available"
    assert result.items == len(sections)
    assert len(sections) == len(priced) + result.skipped["model section without a paid price"]
    expected_names = {name for sid in priced for name in sections[sid][0]}
    assert {r["provider_model_id"] for r in result.rows} == expected_names
    assert {"gemini-3.1-pro-preview-customtools", "veo-3.1-fast-generate-preview", "lyria-3-pro-preview"} <= (
        expected_names
    )
    assert result.skipped["table outside a model section (pricing-for-tools)"] == 1


def test_every_row_validates(result: ParseResult) -> None:
    rows, rejects = validate_rows(result.rows)
    assert {reason for _, reason in rejects} == {f"unit: Value error, unknown unit {u!r}" for u in UNLISTED_UNITS}
    assert len(rows) + len(rejects) == len(result.rows)
    assert {r.provider for r in rows} == {"google"} and {r.currency for r in rows} == {"USD"}
    assert {r.region for r in rows} == {"default"}
    # The only parser rejects: "$0.0006 (image)*" in a per-1M-token table (a per-image figure by its footnote).
    assert (
        result.rejects == [("gemini-3-pro-image: Input price", "$0.0006 per 1M tokens is implausible (per item?)")] * 2
    )


def test_gemini_2_5_pro_pinned(result: ParseResult) -> None:
    got = _prices(result)
    pro = "gemini-2.5-pro"
    assert got[(pro, "input", "standard", "mtok", None)] == Decimal("1.25")
    assert got[(pro, "input", ">200k", "mtok", None)] == Decimal("2.50")
    assert got[(pro, "output", "standard", "mtok", None)] == Decimal("10")
    assert got[(pro, "output", ">200k", "mtok", None)] == Decimal("15")
    assert got[(pro, "cached_input", ">200k", "mtok", None)] == Decimal("0.25")
    assert got[(pro, "cache_storage", "standard", "hour", None)] == Decimal("4.50")
    assert got[(pro, "batch_input", "standard", "mtok", None)] == Decimal("0.625")
    assert got[(pro, "batch_output", ">200k", "mtok", None)] == Decimal("7.50")
    assert got[(pro, "cached_input", "batch", "mtok", None)] == Decimal("0.125")
    assert got[(pro, "input", "flex", "mtok", None)] == Decimal("0.625")
    assert got[(pro, "input", "priority >200k", "mtok", None)] == Decimal("4.50")
    assert got[(pro, "web_search", "standard", "request", None)] == Decimal("0.035")  # $35 / 1,000 prompts
    assert got[(pro, "maps_grounding", "priority", "request", None)] == Decimal("0.025")
    assert (pro, "maps_grounding", "batch", "request", None) not in got  # "Not available"


def test_dated_prices_become_two_rows(result: ParseResult) -> None:
    new_year = ts("2027-01-01T00:00")
    flash = [r for r in result.rows if r["provider_model_id"] == "gemini-3.8-flash" and r["tier"] == "standard"]
    inputs = sorted((r["amount"], r["effective_from"], r["effective_to"]) for r in flash if r["metric"] == "input")
    assert inputs == [(Decimal("0.75"), None, new_year), (Decimal("1.50"), new_year, None)]
    batch = {(r["amount"], r["effective_from"]) for r in flash if r["metric"] == "batch_input"}
    assert batch == {(Decimal("0.375"), None), (Decimal("0.75"), new_year)}
    # Independent route: one dated row per "through ..." / "starting ..." price line in the HTML.
    html = _html()
    assert sum(1 for r in result.rows if r["effective_to"] == new_year) == html.count("through December 31, 2026")
    assert sum(1 for r in result.rows if r["effective_from"] == new_year) == html.count("starting January 1, 2027")


def test_media_kinds_and_own_units(result: ParseResult) -> None:
    got = _prices(result)
    assert got[("gemini-2.5-flash", "input", "standard", "mtok", None)] == Decimal("0.30")
    assert got[("gemini-2.5-flash", "audio_input", "standard", "mtok", None)] == Decimal("1.00")
    assert got[("gemini-2.5-flash", "audio_input", "batch", "mtok", None)] == Decimal("0.50")
    assert got[("gemini-2.5-flash", "cached_audio_input", "priority", "mtok", None)] == Decimal("0.18")
    assert got[("gemini-3.1-flash-image", "image_output", "standard", "mtok", None)] == Decimal("60")
    assert got[("gemini-3.1-flash-image", "image_output", "4k", "image", None)] == Decimal("0.151")
    assert got[("gemini-2.5-flash-image", "image_output", "standard", "image", None)] == Decimal("0.039")
    assert got[("gemini-3-pro-image", "image_output", "batch 2k", "image", None)] == Decimal("0.067")
    assert got[("veo-3.1-fast-generate-preview", "video_output", "1080p", "second", None)] == Decimal("0.12")
    assert got[("veo-3.1-generate-preview", "video_output", "1080p", "second", None)] == Decimal("0.40")
    assert ("veo-3.1-lite-generate-preview", "video_output", "4k", "second", None) not in got
    assert got[("lyria-3-clip-preview", "audio_output", "standard", "request", None)] == Decimal("0.04")
    assert got[("gemini-3.5-transcribe", "audio_input", "standard", "minute", None)] == Decimal("0.003")
    assert got[("gemini-embedding-2", "video_input", "standard", "frame", None)] == Decimal("0.00079")
    assert got[("gemini-3.8-flash", "web_search", "priority", "request", None)] == Decimal("0.014")


def test_broken_page_raises() -> None:
    html = _html()
    without_tables = re.sub(r"<table\b.*?</table>", "", html, flags=re.S)
    assert '<table class="pricing-table"' in html and "<table" not in without_tables
    with pytest.raises(ParseError, match="no pricing table"):
        _parse(without_tables)
    with pytest.raises(ParseError, match="no pricing table"):
        _parse(html.replace("Paid Tier", "Tier"))
    with pytest.raises(ParseError, match="not one paid price"):
        _parse(html.replace("$", "USD "))
    with pytest.raises(ParseError, match="no model sections"):
        _parse(re.sub(r"<h2 id=", "<h2 data-id=", html))
