"""The deepseek source against the real saved zh-cn pricing page (CNY)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from llmflation.extractors.base import ParseResult
from llmflation.extractors.errors import ParseError
from llmflation.extractors.identity import model_key
from llmflation.extractors.sources import deepseek
from llmflation.warehouse.models import validate_rows
from tests.helpers import payload, real

PAGE = "html/deepseek_pricing_zh-cn_2026-07-17.html"


def _html() -> str:
    return real(PAGE).read_text(encoding="utf-8")


def _parse(html: str) -> ParseResult:
    return deepseek.parse(payload("deepseek", html, url="https://api-docs.deepseek.com/zh-cn/quick_start/pricing"))


def test_every_model_column_is_parsed() -> None:
    html = _html()
    # Independent route: the model ids are the cells of the table's first row after its "模型" label.
    first_row = re.search(r"<table[^>]*>\s*<tr>(.*?)</tr>", html, re.S).group(1)
    cells = [re.sub(r"<sup>.*?</sup>|<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", first_row)]
    assert cells[0] == "模型"
    expected = set(cells[1:])
    assert expected == {"deepseek-v4-flash", "deepseek-v4-pro"}
    result = _parse(html)
    rows, rejects = validate_rows(result.rows)
    assert result.rejects == [] and rejects == [] and not result.skipped
    assert result.items == len(expected)
    assert {r.provider_model_id for r in rows} == expected
    # three prices per model (cache hit, cache miss, output), all stated in CNY, none dated
    assert len(rows) == 3 * len(expected)
    assert {(r.metric, r.currency, r.unit, r.tier, r.region) for r in rows} == {
        (m, "CNY", "mtok", "standard", "default") for m in ("cached_input", "input", "output")
    }
    assert all(r.effective_from is None and r.effective_to is None for r in rows)
    assert all(r.model_key == model_key("deepseek", r.provider_model_id) for r in rows)


@pytest.mark.parametrize(
    ("model", "metric", "cny"),
    [
        ("deepseek-v4-flash", "cached_input", "0.02"),
        ("deepseek-v4-flash", "input", "1"),
        ("deepseek-v4-flash", "output", "2"),
        ("deepseek-v4-pro", "cached_input", "0.025"),
        ("deepseek-v4-pro", "input", "3"),
        ("deepseek-v4-pro", "output", "6"),
    ],
)
def test_pinned_cny_prices(model: str, metric: str, cny: str) -> None:
    rows = [r for r in _parse(_html()).rows if r["provider_model_id"] == model and r["metric"] == metric]
    assert len(rows) == 1
    assert rows[0]["amount"] == Decimal(cny)
    assert rows[0]["currency"] == "CNY"


def test_english_labels_and_dollars_read_the_same_way() -> None:
    # The English page has the same table with English labels and "$" prices.
    html = _html()
    for zh, en in (
        ("百万tokens输入（缓存命中）", "1M INPUT TOKENS (CACHE HIT)"),
        ("百万tokens输入（缓存未命中）", "1M INPUT TOKENS (CACHE MISS)"),
        ("百万tokens输出", "1M OUTPUT TOKENS"),
        (">模型<", ">MODEL<"),
        (">价格<", ">PRICING<"),
    ):
        assert zh in html
        html = html.replace(zh, en)
    html = re.sub(r">(\d+(?:\.\d+)?)元<", r">$\1<", html)
    rows = _parse(html).rows
    assert {r["currency"] for r in rows} == {"USD"}
    got = {(r["provider_model_id"], r["metric"]): r["amount"] for r in rows}
    assert got[("deepseek-v4-pro", "input")] == Decimal("3")
    assert got[("deepseek-v4-flash", "cached_input")] == Decimal("0.02")
    assert len(got) == 6


def test_page_without_its_table_is_a_parse_error() -> None:
    html = _html()
    broken = re.sub(r"<table.*?</table>", "<p>价格见控制台</p>", html, flags=re.S)
    assert broken != html
    with pytest.raises(ParseError, match="no pricing table"):
        _parse(broken)


def test_table_without_prices_is_a_parse_error() -> None:
    html = _html()
    broken = re.sub(r"\d+(?:\.\d+)?元", "—", html)
    assert broken != html
    with pytest.raises(ParseError):
        _parse(broken)
