"""The curated history: every landmark price and capability score cites a public source and passes unit sanity, and
the warehouse alone reproduces the comparisons and the decline rates that motivated llmflation."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from llmflation.warehouse import db
from tests.helpers import ROOT

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
        for field in ("date", "observed"):  # a day, or (observed) a month; never later than today
            if row[field]:
                day = row[field] + "-01" if field == "observed" and len(row[field]) == 7 else row[field]
                assert date(2020, 1, 1) <= date.fromisoformat(day) <= date.today(), (where, field)
        key = (row["provider"], row["model"], row["date"], row["observed"], row["input_usd_per_mtok"])
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


COMPARISON = """
WITH p AS (
    SELECT model, provider, input_usd_per_mtok AS input, output_usd_per_mtok AS output FROM landmark_prices
    WHERE (provider, model) IN (('openai', 'gpt-4o-2024-08-06'), ('anthropic', 'claude-3-5-sonnet-20240620'),
                                ('openai', 'gpt-4o-mini-2024-07-18'), ('aws-bedrock', 'meta.llama3-8b-instruct-v1:0'),
                                ('aws-bedrock', 'mistral.mistral-7b-instruct-v0:2'))
)
SELECT c.model AS closed, o.model AS open_on_bedrock, c.input, c.output, o.input, o.output,
       CAST(round(c.input / o.input, 2) AS DECIMAL(10, 2)) AS input_ratio,
       CAST(round(c.output / o.output, 2) AS DECIMAL(10, 2)) AS output_ratio
FROM p c JOIN p o ON o.provider = 'aws-bedrock' AND c.provider <> 'aws-bedrock'
ORDER BY closed, open_on_bedrock
"""


def test_the_late_2024_comparison_from_the_warehouse_alone(con) -> None:
    rows = {(r[0], r[1]): r[2:] for r in con.execute(COMPARISON).fetchall()}
    d = Decimal
    assert rows[("gpt-4o-2024-08-06", "mistral.mistral-7b-instruct-v0:2")] == (
        d("2.5"),
        d(10),
        d("0.15"),
        d("0.2"),
        d("16.67"),
        d(50),
    )
    assert rows[("claude-3-5-sonnet-20240620", "mistral.mistral-7b-instruct-v0:2")][-2:] == (d(20), d(75))
    # Llama 3 8B on Bedrock lists at $0.30/$0.60, dearer than the $0.15/$0.20 the article used for both models
    assert rows[("gpt-4o-2024-08-06", "meta.llama3-8b-instruct-v1:0")][-2:] == (d("8.33"), d("16.67"))
    assert rows[("claude-3-5-sonnet-20240620", "meta.llama3-8b-instruct-v1:0")][-2:] == (d(10), d(25))
    mini = rows[("gpt-4o-mini-2024-07-18", "mistral.mistral-7b-instruct-v0:2")]
    assert mini[-2:] == (d(1), d(3))  # GPT-4o mini: Mistral 7B's input price, three times its output price


def test_price_decline_gives_a16zs_thousandfold_mmlu_42_result(con) -> None:
    ((points, first, last, total, per_year),) = con.execute(
        "SELECT points, first_price, last_price, total_factor, decline_per_year "
        "FROM price_decline('mmlu', 42, 1, 1, DATE '2021-11-01', DATE '2024-11-01')"
    ).fetchall()
    assert (first, last) == (60.0, 0.06) and round(total) == 1000 and points == 37
    assert round(per_year, 1) == 14.8  # the fit over 37 monthly points; a16z: "about 10x every year"


@pytest.mark.parametrize(("blend", "total", "per_year"), [((1, 1), 65.7, 4.83), ((3, 1), 78.5, 5.1)])
def test_a_gpt_4_class_threshold_declines_by_both_methods(
    con, blend: tuple[int, int], total: float, per_year: float
) -> None:
    ((points, first_month, factor, decline, spread),) = con.execute(
        "SELECT points, first_month, total_factor, decline_per_year, spread FROM price_decline('mmlu', 86, ?, ?, "
        "DATE '2023-01-01', DATE '2026-11-01')",
        list(blend),
    ).fetchall()
    assert first_month == date(2023, 3, 1)  # GPT-4 at $30/$60, the first model scoring 86 (86.4)
    assert (points, round(factor, 1), round(decline, 2)) == (45, total, per_year) and spread > 0


def test_open_vs_closed_is_dated_back_through_the_landmarks(con) -> None:
    rows = con.execute(
        "SELECT class, open_model, open_blended, closed_model, closed_blended, closed_to_open_ratio "
        "FROM open_vs_closed WHERE day = DATE '2024-11-30' AND class = 'small'"
    ).fetchall()
    # Llama 3.2 3B on Together ($0.06) against GPT-4o mini ($0.15/$0.60), both from dated landmarks
    assert rows == [("small", "meta-llama/llama-3.2-3b-instruct", 0.06, "openai/gpt-4o-mini", 0.2625, 4.38)]


def test_of_equal_cheapest_prices_the_views_name_one_offer_the_same_way_every_time() -> None:
    connection = db.connect(":memory:")
    try:
        # two open mid-class models offered at the same, lowest prices, by two providers and in either order
        rows = [
            ("zeta", "meta-llama/llama-3.3-70b-instruct"),
            ("alpha", "meta-llama/llama-3.1-70b-instruct"),
            ("alpha", "meta-llama/llama-3.3-70b-instruct"),
        ]
        for provider, key in rows:
            for metric in ("input", "output"):
                connection.execute(
                    "INSERT INTO price_segments BY NAME SELECT 'litellm' AS source, ? AS provider, "
                    "? AS provider_model_id, ? AS model_key, 'default' AS region, 'standard' AS tier, ? AS metric, "
                    "'mtok' AS unit, 'USD' AS currency, 0.001 AS amount, TIMESTAMPTZ '2025-01-01' AS valid_from, "
                    "TIMESTAMPTZ '2025-01-01' AS first_seen_at, TIMESTAMPTZ '2025-01-01' AS last_seen_at, "
                    "0 AS missing_runs, 'x' AS first_raw_sha256, 'x' AS last_raw_sha256",
                    [provider, f"{provider}/{key}", key, metric],
                )
        picked = {
            connection.execute(
                "SELECT open_model, open_offered_by FROM open_vs_closed WHERE day = DATE '2025-06-01' AND class = 'mid'"
            ).fetchall()[0]
            for _ in range(20)
        }
        assert picked == {("meta-llama/llama-3.1-70b-instruct", "alpha via litellm")}
    finally:
        connection.close()
