"""The curated history: every landmark price and capability score cites a public source and passes unit sanity, and
the warehouse alone reproduces the comparisons and the decline rates that motivated llmflation."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from tests.helpers import ROOT
from warehouse import db

DATA = ROOT / "warehouse" / "data"
BENCHMARKS = {"mmlu": (0, 100), "gpqa_diamond": (0, 100), "arena_elo": (500, 2500)}


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def con():
    connection = db.connect(":memory:")
    yield connection
    connection.close()


def test_every_landmark_price_cites_a_source_and_is_a_sane_price_per_million_tokens() -> None:
    rows = _rows("landmark_prices.csv")
    assert len(rows) >= 15
    seen = set()
    for row in rows:
        where = f"{row['provider']} {row['model']} {row['date']}"
        assert urlsplit(row["source_url"]).scheme == "https" and urlsplit(row["source_url"]).netloc, where
        assert row["provider"] and row["model"] and "/" in row["model_key"], where
        assert row["model_key"] == row["model_key"].lower(), where
        for field in ("input_usd_per_mtok", "output_usd_per_mtok"):
            value = Decimal(row[field])
            assert Decimal("0.001") <= value <= Decimal(200), (where, field, value)  # USD per 1M tokens, not per 1K
        if row["date"]:
            assert date(2020, 1, 1) <= date.fromisoformat(row["date"]) <= date.today(), where
        key = (row["provider"], row["model"], row["date"])
        assert key not in seen, f"duplicate {key}"
        seen.add(key)


def test_every_capability_score_cites_a_source_and_is_in_its_benchmarks_range() -> None:
    rows = _rows("capabilities.csv")
    assert len(rows) >= 10
    for row in rows:
        where = f"{row['model_key']} {row['benchmark']}"
        assert urlsplit(row["source_url"]).scheme == "https" and urlsplit(row["source_url"]).netloc, where
        low, high = BENCHMARKS[row["benchmark"]]
        assert low < float(row["score"]) <= high, where
    pairs = [(row["model_key"], row["benchmark"]) for row in rows]
    assert len(pairs) == len(set(pairs)), "one score per model and benchmark"


def _price(con, model_key: str, provider: str) -> tuple[Decimal, Decimal]:
    rows = con.execute(
        "SELECT input, output FROM monthly_prices WHERE month = DATE '2024-11-01' AND offered_by = 'landmark' "
        "AND model_key = ? AND provider = ?",
        [model_key, provider],
    ).fetchall()
    assert len(rows) == 1, (model_key, provider, rows)
    return rows[0]


def test_the_late_2024_comparison_from_the_warehouse_alone(con) -> None:
    gpt_4o = _price(con, "openai/gpt-4o", "openai")
    sonnet = _price(con, "anthropic/claude-3.5-sonnet", "anthropic")
    mistral = _price(con, "mistralai/mistral-7b-instruct", "aws-bedrock")
    llama = _price(con, "meta-llama/llama-3-8b-instruct", "aws-bedrock")
    mini = _price(con, "openai/gpt-4o-mini", "openai")
    assert gpt_4o == (Decimal("2.5"), Decimal(10)) and sonnet == (Decimal(3), Decimal(15))
    assert mistral == (Decimal("0.15"), Decimal("0.2"))
    assert [round(a / b, 2) for a, b in zip(gpt_4o, mistral, strict=True)] == [Decimal("16.67"), Decimal(50)]
    assert [round(a / b, 2) for a, b in zip(sonnet, mistral, strict=True)] == [Decimal(20), Decimal(75)]
    assert [a / b for a, b in zip(gpt_4o, llama, strict=True)][0] < Decimal("16.67")  # Llama 3 8B lists dearer
    assert mini[0] == mistral[0] and mini[1] == 3 * mistral[1]  # GPT-4o mini: the same input, three times the output


def test_price_decline_gives_a16zs_thousandfold_mmlu_42_result(con) -> None:
    ((points, first, last, total, per_year),) = con.execute(
        "SELECT points, first_price, last_price, total_factor, decline_per_year "
        "FROM price_decline('mmlu', 42, 1, 1, DATE '2021-11-01', DATE '2024-11-01')"
    ).fetchall()
    assert (first, last) == (60.0, 0.06) and round(total) == 1000 and points == 37
    assert 5 < per_year < 30  # "about 10x per year"


@pytest.mark.parametrize("blend", [(1, 1), (3, 1)])
def test_a_gpt_4_class_threshold_declines_by_both_methods(con, blend: tuple[int, int]) -> None:
    ((points, per_year, spread),) = con.execute(
        "SELECT points, decline_per_year, spread FROM price_decline('mmlu', 86, ?, ?, DATE '2023-03-01', "
        "DATE '2025-12-01')",
        list(blend),
    ).fetchall()
    assert points >= 24 and per_year > 1 and spread is not None
