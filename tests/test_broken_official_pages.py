"""A real official page that lost its price structure is a broken source, not a market event."""

from __future__ import annotations

import json
import re

import pytest

from llmflation.flows.settings import Settings
from tests.helpers import payload, real, ts
from tests.ledger_helpers import history, query, run_once


def _strip_tables(text: str) -> str:
    return re.sub(r"<table\b.*?</table>", "", text, flags=re.S | re.I)


def _strip_data_values(text: str) -> str:
    return re.sub(r'\sdata-value="[^"]*"', "", text)


def _empty_products(text: str) -> str:
    data = json.loads(text)
    for offer in data.values():
        offer["products"] = {}
    return json.dumps(data)


CASES = [
    ("openai", "html/openai_api_pricing_developers.openai.com_2026-08-21.html", _strip_tables),
    ("anthropic", "html/anthropic_pricing_2025-11-13.html", _strip_data_values),
    ("google", "html/gemini_api_pricing_2026-09-04.html", _strip_tables),
    ("deepseek", "html/deepseek_pricing_zh-cn_2026-07-17.html", _strip_tables),
    ("aws_bedrock", "bedrock/aws_price_list_bedrock_subset.json", _empty_products),
]


@pytest.mark.parametrize(("source", "name", "break_it"), CASES, ids=[c[0] for c in CASES])
def test_a_broken_page_marks_the_source_suspect_and_removes_nothing(
    settings: Settings, source: str, name: str, break_it
) -> None:
    text = real(name).read_text()
    assert run_once(settings, source, payload(source, text), ts("2026-10-01T00:00")).status == "ok"
    before = history(settings, source)
    for day in (2, 3, 4, 5):  # more broken runs than it takes to remove an offer
        outcome = run_once(settings, source, payload(source, break_it(text)), ts(f"2026-10-0{day}T00:00")).outcomes[0]
        assert outcome.status == "suspect"
        assert outcome.error.startswith("parse failed: ")
    assert history(settings, source) == before
    assert query(settings, "SELECT count(*) FROM price_history WHERE end_reason = 'removed'") == [(0,)]
    assert query(settings, "SELECT status FROM source_health") == [("suspect",)]
