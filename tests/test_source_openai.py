"""The openai source on the real developers.openai.com pricing page (Astro, 16 tables, captured 2026-08-21)."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest

from llmflation.extractors.base import ParseResult
from llmflation.extractors.errors import ParseError
from llmflation.extractors.sources import openai
from llmflation.warehouse.models import validate_rows
from tests.helpers import payload, real

REAL = "html/openai_api_pricing_developers.openai.com_2026-08-21.html"
# What an OpenAI model id looks like on this page; used only by the independent counts below.
MODEL_LIKE = re.compile(
    r"^(gpt-|o\d|sora-|chat-latest$|chatgpt-|tts-|text-embedding-|davinci-|babbage-|omni-moderation|whisper$)"
)
TOOLS = {"web-search", "containers", "file-search", "agent-kit"}
# Models the page lists without a price: all "-" (gpt-5.4-cyber), "Free" (moderation).
UNPRICED = {"gpt-5.4-cyber", "omni-moderation-latest"}


@pytest.fixture(scope="module")
def page() -> str:
    return real(REAL).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def parsed(page: str) -> ParseResult:
    return openai.parse(payload("openai", page, url=openai.URL))


def _prices(result: ParseResult) -> dict[tuple[str, str, str, str], Decimal]:
    return {(r["provider_model_id"], r["metric"], r["tier"], r["unit"]): r["amount"] for r in result.rows}


def _model_ids(result: ParseResult) -> set[str]:
    return {r["provider_model_id"] for r in result.rows}


def test_every_row_is_valid_and_nothing_is_rejected(parsed: ParseResult) -> None:
    rows, rejects = validate_rows(parsed.rows)
    assert rejects == [] and parsed.rejects == []
    assert len(rows) == len(parsed.rows) == 569  # 559 per-token and own-unit prices + 10 per minute or hour
    assert parsed.items == 86


def test_every_model_of_every_rendered_table_is_parsed(page: str, parsed: ParseResult) -> None:
    """Independent route 1: a regex over the <tr> rows of each server-rendered <table>."""
    tables = re.findall(r"<table\b.*?</table>", page, flags=re.S)
    assert len(tables) == 16
    found = _model_ids(parsed) | UNPRICED
    for table in tables:
        names = {
            text.strip().lower()
            for row in re.findall(r"<tr\b.*?</tr>", table, flags=re.S)
            for text in re.findall(r"<td\b[^>]*>(?:<span\b[^>]*>)?([^<]+)", row)
            if MODEL_LIKE.match(text.strip().lower())
        }
        if ">Training<" in table:
            names = {f"ft:{name}" for name in names}
        if ">Tool<" in table:
            assert not names
            continue
        assert names, "every model table names at least one model"
        assert names <= found, names - found


def test_every_model_behind_all_models_is_parsed(page: str, parsed: ParseResult) -> None:
    """Independent route 2: the string literals of the pricing islands' serialised props (the full tables)."""
    islands = re.findall(r'<astro-island\b[^>]*component-url="[^"]*pricing\.[^"]*"[^>]*props="([^"]*)"', page)
    assert len(islands) == 16
    expected: set[str] = set()
    for props in islands:
        text = html.unescape(props)
        for literal in re.findall(r'\[0,"((?:[^"\\]|\\.)*)"\]', text):
            name = re.split(r"[\s<]", literal, maxsplit=1)[0].lower()
            if MODEL_LIKE.match(name):
                expected.add(f"ft:{name}" if '"Training"' in text else name)
    assert len(expected) == 82
    assert _model_ids(parsed) - TOOLS == expected - UNPRICED
    assert parsed.items == len(expected | TOOLS)


def test_pinned_prices(parsed: ParseResult) -> None:
    got = _prices(parsed)
    sol = {
        ("input", "standard"): "5",
        ("cached_input", "standard"): "0.5",
        ("cache_write", "standard"): "6.25",
        ("output", "standard"): "30",
        ("input", ">272k"): "10",
        ("cached_input", ">272k"): "1",
        ("cache_write", ">272k"): "12.5",
        ("output", ">272k"): "45",
        ("batch_input", "standard"): "2.5",
        ("batch_output", "standard"): "15",
        ("cached_input", "batch"): "0.25",
        ("batch_output", ">272k"): "22.5",
        ("input", "flex"): "2.5",
        ("output", "flex >272k"): "22.5",
        ("input", "priority"): "10",
        ("output", "priority"): "60",
        ("cache_write", "priority >272k"): "25",
    }
    for (metric, tier), amount in sol.items():
        assert got[("gpt-5.6-sol", metric, tier, "mtok")] == Decimal(amount), (metric, tier)
    assert got[("gpt-4o", "input", "standard", "mtok")] == Decimal("2.5")
    assert got[("gpt-4o", "cached_input", "standard", "mtok")] == Decimal("1.25")
    assert got[("gpt-4o", "output", "standard", "mtok")] == Decimal("10")
    assert got[("gpt-4o", "batch_input", "standard", "mtok")] == Decimal("1.25")
    assert got[("gpt-4o", "output", "priority", "mtok")] == Decimal("17")
    assert got[("gpt-4o-mini", "input", "standard", "mtok")] == Decimal("0.15")
    assert got[("gpt-4o-mini", "cached_input", "standard", "mtok")] == Decimal("0.075")
    assert got[("gpt-4o-mini", "output", "standard", "mtok")] == Decimal("0.6")
    # "gpt-5.5 (<272K context length)": the short-context price, under the API id.
    assert got[("gpt-5.5", "output", "standard", "mtok")] == Decimal("30")
    assert got[("gpt-realtime-2.1", "audio_input", "standard", "mtok")] == Decimal("32")
    assert got[("gpt-image-2", "image_output", "batch", "mtok")] == Decimal("15")
    assert got[("ft:gpt-4o-2024-08-06", "training", "standard", "mtok")] == Decimal("25")
    assert got[("ft:o4-mini-2025-04-16", "input", "data-sharing", "mtok")] == Decimal("2")
    assert got[("text-embedding-3-small", "input", "standard", "mtok")] == Decimal("0.02")
    # Non-token prices keep their own unit.
    assert got[("tts-1", "input", "standard", "character")] == Decimal("0.000015")
    assert got[("sora-2-pro", "video_output", "1080p", "second")] == Decimal("0.7")
    assert got[("sora-2-pro", "video_output", "batch 1080p", "second")] == Decimal("0.35")
    assert got[("web-search", "web_search", "standard", "1k_calls")] == Decimal("10")
    assert got[("web-search", "web_search_preview", "non-reasoning", "1k_calls")] == Decimal("25")
    assert got[("containers", "hosted_shell_and_code_interpreter", "64gb", "session")] == Decimal("1.92")
    assert got[("file-search", "storage", "standard", "gb_day")] == Decimal("0.1")


def test_units_are_never_mixed(parsed: ParseResult) -> None:
    units: dict[tuple[str, str, str], set[str]] = {}
    for row in parsed.rows:
        units.setdefault((row["provider_model_id"], row["metric"], row["tier"]), set()).add(row["unit"])
    assert all(len(found) == 1 for found in units.values())
    assert {r["unit"] for r in parsed.rows} == {
        "mtok",
        "character",
        "second",
        "minute",
        "hour",
        "1k_calls",
        "session",
        "gb_day",
    }


def test_deliberate_skips(parsed: ParseResult) -> None:
    assert parsed.skipped["free of charge (not a price)"] == 1  # omni-moderation-latest
    # per-minute and per-hour prices are kept in their own units, the page's "Estimated cost" as input_estimate
    own_units = {
        (r["provider_model_id"], r["metric"], r["unit"], r["tier"]): r["amount"]
        for r in parsed.rows
        if r["unit"] in ("minute", "hour")
    }
    assert own_units[("whisper", "input_estimate", "minute", "standard")] == Decimal("0.006")
    assert own_units[("gpt-4o-transcribe", "input_estimate", "minute", "standard")] == Decimal("0.006")
    assert own_units[("ft:o4-mini-2025-04-16", "training", "hour", "standard")] == Decimal("100")
    assert not [reason for reason in parsed.skipped if "not stored" in reason]
    assert not [reason for reason in parsed.skipped if reason.startswith("unknown column")]


def test_without_tables_the_page_is_broken(page: str) -> None:
    stripped = re.sub(r"<table\b.*?</table>", "", page, flags=re.S)
    assert "<table" not in stripped
    with pytest.raises(ParseError, match="no <table>"):
        openai.parse(payload("openai", stripped, url=openai.URL))


def test_tables_without_their_price_cells_are_broken(page: str) -> None:
    emptied = re.sub(r"\$\d[\d,.]*", "-", re.sub(r'\sprops="[^"]*"', "", page))
    with pytest.raises(ParseError, match="not one price"):
        openai.parse(payload("openai", emptied, url=openai.URL))


def test_rendered_tables_alone_still_parse(page: str) -> None:
    """Without the island props only the rendered rows remain; their long-context threshold is then unstated."""
    result = openai.parse(payload("openai", re.sub(r'\sprops="[^"]*"', "", page), url=openai.URL))
    got = _prices(result)
    assert got[("gpt-5.6-sol", "input", "standard", "mtok")] == Decimal("5")
    assert not any(tier.endswith(">272k") for _, _, tier, _ in got)
    assert result.skipped["long-context price without a stated threshold"] == 56
    assert "gpt-4o" not in _model_ids(result)
