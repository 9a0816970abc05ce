"""The anthropic source on the real claude.com pricing page (Webflow cards, no <table>), captured 2025-11-13."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache

import pytest

from llmflation.extractors.base import ParseResult
from llmflation.extractors.errors import ParseError
from llmflation.extractors.sources import anthropic
from llmflation.warehouse.models import validate_rows
from tests.helpers import payload, real

REAL = "html/anthropic_pricing_2025-11-13.html"
PLANS = "subscription plan, not an API price"


def _html() -> str:
    return real(REAL).read_text(encoding="utf-8")


def _parse(html: str) -> ParseResult:
    return anthropic.parse(payload("anthropic", html, url=anthropic.URL))


@cache
def _real_prices() -> dict[tuple[str, str, str], Decimal]:
    return _prices(_parse(_html()))


def _prices(result: ParseResult) -> dict[tuple[str, str, str], Decimal]:
    return {(r["provider_model_id"], r["metric"], r["tier"]): r["amount"] for r in result.rows}


def test_url_is_the_pages_canonical_url() -> None:
    assert f'<link href="{anthropic.URL}" rel="canonical"/>' in _html()


def test_every_model_card_is_parsed() -> None:
    html = _html()
    # Independent route: split the raw HTML at the API card class and read each card's title by regex.
    cards = html.split('class="card_pricing_api_wrap')[1:]
    titles = [re.search(r'class="card_pricing_title_text[^"]*">([^<]+)</h3>', card).group(1) for card in cards]
    assert len(titles) == 9
    result = _parse(html)
    rows, rejects = validate_rows(result.rows)
    assert result.rejects == [] and rejects == []
    assert result.items == len(titles)
    assert {r.provider_model_id for r in rows} == {"claude-" + t.lower().replace(" ", "-") for t in titles}
    # Every data-value on the page is one stated price; derived batch rows come on top of them.
    stated = [r for r in rows if not r.metric.startswith("batch_")]
    data_values = re.findall(r'data-value="([^"]+)"', html)
    assert len(data_values) == 40
    assert sorted(r.amount for r in stated) == sorted(Decimal(v) for v in data_values)
    assert all(r.unit == "mtok" and r.currency == "USD" and r.region == "default" for r in rows)
    assert all(r.effective_from is None and r.effective_to is None for r in rows)
    # The subscription plans are cards without per-token prices: counted, never rows.
    assert result.skipped[PLANS] == html.count('class="card_pricing_wrap') == 5


def test_batch_is_the_stated_percentage_of_input_and_output() -> None:
    html = _html()
    assert html.count("Save 50% with batch processing.") == 2  # one statement per section (latest, legacy)
    prices = _prices(_parse(html))
    batch = {k: v for k, v in prices.items() if k[1].startswith("batch_")}
    base = {k: v for k, v in prices.items() if k[1] in ("input", "output")}
    assert len(batch) == len(base) == 20
    for (model, metric, tier), amount in base.items():
        assert batch[(model, f"batch_{metric}", tier)] == amount / 2
    assert not any(k[1].startswith("batch_c") for k in prices)


@pytest.mark.parametrize(
    ("model", "metric", "tier", "expected"),
    [
        ("claude-opus-4.1", "input", "standard", "15"),
        ("claude-opus-4.1", "output", "standard", "75"),
        ("claude-opus-4.1", "cache_write", "standard", "18.75"),
        ("claude-opus-4.1", "cached_input", "standard", "1.50"),
        ("claude-opus-4.1", "batch_input", "standard", "7.50"),
        ("claude-opus-4.1", "batch_output", "standard", "37.50"),
        ("claude-sonnet-4.5", "input", "standard", "3"),
        ("claude-sonnet-4.5", "input", ">200k", "6"),
        ("claude-sonnet-4.5", "output", "standard", "15"),
        ("claude-sonnet-4.5", "output", ">200k", "22.50"),
        ("claude-sonnet-4.5", "cache_write", "standard", "3.75"),
        ("claude-sonnet-4.5", "cache_write", ">200k", "7.50"),
        ("claude-sonnet-4.5", "cached_input", "standard", "0.30"),
        ("claude-sonnet-4.5", "cached_input", ">200k", "0.60"),
        ("claude-sonnet-4.5", "batch_output", ">200k", "11.25"),
        ("claude-haiku-4.5", "input", "standard", "1"),
        ("claude-haiku-4.5", "output", "standard", "5"),
        ("claude-haiku-4.5", "cache_write", "standard", "1.25"),
        ("claude-haiku-4.5", "cached_input", "standard", "0.10"),
        ("claude-haiku-3.5", "input", "standard", "0.80"),
        ("claude-haiku-3", "cached_input", "standard", "0.03"),
        ("claude-haiku-3", "batch_input", "standard", "0.125"),
    ],
)
def test_pinned_prices(model: str, metric: str, tier: str, expected: str) -> None:
    assert _real_prices()[(model, metric, tier)] == Decimal(expected)


def test_pinned_row_shape() -> None:
    row = next(r for r in _parse(_html()).rows if r["provider_model_id"] == "claude-opus-4.1")
    assert (row["provider"], row["model_key"]) == ("anthropic", "anthropic/claude-opus-4.1")


def test_skips_are_counted() -> None:
    skipped = _parse(_html()).skipped
    assert skipped == {
        PLANS: 5,
        "tool price (web search, code execution), not tied to a model": 2,
        "batch discount on a cache price (no batch cache metric)": 20,
    }


def test_renamed_classes_still_parse() -> None:
    html = _html()
    renamed = re.sub(r"\b(card_pricing|tokens|batch)_", r"x\1_", html)
    assert not re.search(r'class="(card_pricing|tokens|batch)_', renamed)
    assert _parse(renamed).rows == _parse(html).rows


def test_visible_text_rewritten_by_the_batch_toggle_is_ignored() -> None:
    html = _html()
    halved = re.sub(r'(data-value="([^"]+)"[^>]*>)[^<]*<', lambda m: f"{m.group(1)}{Decimal(m.group(2)) / 2}<", html)
    assert halved != html
    assert _parse(halved).rows == _parse(html).rows


def test_batch_statement_applies_to_its_own_section_only() -> None:
    html = _html().replace("Save 50% with batch processing.", "Batch processing.", 1)
    batch_models = {r["provider_model_id"] for r in _parse(html).rows if r["metric"].startswith("batch_")}
    legacy = {
        "claude-sonnet-4",
        "claude-opus-4",
        "claude-sonnet-3.7",
        "claude-haiku-3.5",
        "claude-opus-3",
        "claude-haiku-3",
    }
    assert batch_models == legacy


def test_no_batch_rows_without_an_exact_percentage() -> None:
    html = _html().replace("Save 50% with batch processing.", "Save up to 50% with batch processing.")
    rows = _parse(html).rows
    assert len(rows) == 40
    assert not any(r["metric"].startswith("batch_") for r in rows)


@pytest.mark.parametrize(
    ("surgery", "message"),
    [
        (lambda html: re.sub(r'\sdata-value="[^"]*"', "", html), "no price in a data-value attribute"),
        (lambda html: re.sub(r'<span data-value="[^"]*"[^>]*>[^<]*</span>', "", html), "no price in a data-value"),
        (lambda html: re.sub(r"<(/?)h[1-6]\b", r"<\1div", html), "no model card"),
        (lambda html: re.sub(r"<(/?)h3\b", r"<\1div", html), "not one per-MTok price"),
        (lambda html: html.replace("/ MTok", "/ month"), "not one per-MTok price"),
        (lambda html: html[: html.index("card_pricing_api_wrap")], "no price in a data-value"),
    ],
    ids=["data-value-removed", "price-spans-removed", "no-headings", "card-titles-not-headings", "unit", "truncated"],
)
def test_broken_page_raises(surgery, message: str) -> None:
    with pytest.raises(ParseError, match=re.escape(message)):
        _parse(surgery(_html()))
