"""workload_prices (warehouse/views/64_workload_prices.sql) and `llmflation cost`: the monthly cost of a workload at
each offer in force, with the offer's own cache and batch prices, and what was assumed where it has none."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from llmflation.flows.settings import Settings
from tests.helpers import ROOT, cli, ts
from tests.ledger_helpers import openrouter_payload, query, run_once

# USD per token, as OpenRouter states them: cache reads cheap at Anthropic and DeepSeek, dear at OpenAI, none at z
STATED = {
    "anthropic/claude-x": {"prompt": "0.000003", "completion": "0.000015", "input_cache_read": "0.0000003"},
    "deepseek/deepseek-x": {"prompt": "0.00000027", "completion": "0.0000011", "input_cache_read": "0.00000007"},
    "openai/gpt-x": {"prompt": "0.0000025", "completion": "0.00001", "input_cache_read": "0.00000125"},
    "z/plain-x": {"prompt": "0.000002", "completion": "0.000008"},
}
COST = (  # the offers of the test's own run; past models' landmark prices count as offers too
    "SELECT model_key, monthly_usd, assumed FROM workload_prices({}) WHERE offered_by = 'openrouter' "
    "ORDER BY monthly_usd, model_key"
)


@pytest.fixture
def stated(settings: Settings) -> Settings:
    assert run_once(settings, "openrouter", openrouter_payload(STATED), ts("2026-11-01T00:00")).status == "ok"
    return settings


def test_without_caching_a_workload_costs_its_list_prices(stated: Settings) -> None:
    # 3M input and 1M output: 3 x input + 1 x output, per USD per 1M tokens
    assert query(stated, COST.format("3, 1")) == [
        ("deepseek/deepseek-x", Decimal("1.91"), []),  # 3 x 0.27 + 1.1
        ("z/plain-x", Decimal("14"), []),  # 3 x 2 + 8
        ("openai/gpt-x", Decimal("17.5"), []),  # 3 x 2.5 + 10
        ("anthropic/claude-x", Decimal("24"), []),  # 3 x 3 + 15
    ]


def test_heavy_caching_ranks_cheap_cache_reads_higher(stated: Settings) -> None:
    # 100M input of which 90M are cache reads, 5M output: Anthropic passes OpenAI and z, which has no cache price
    assert query(stated, COST.format("100, 5, cached_mtok := 90")) == [
        ("deepseek/deepseek-x", Decimal("14.5"), []),  # 10 x 0.27 + 90 x 0.07 + 5 x 1.1
        ("anthropic/claude-x", Decimal("132"), []),  # 10 x 3 + 90 x 0.3 + 5 x 15
        ("openai/gpt-x", Decimal("187.5"), []),  # 10 x 2.5 + 90 x 1.25 + 5 x 10
        ("z/plain-x", Decimal("240"), ["cache reads at the input price"]),  # 100 x 2 + 5 x 8
    ]


def test_what_an_offer_does_not_price_is_assumed_and_said(stated: Settings) -> None:
    rows = query(
        stated,
        "SELECT monthly_usd, assumed FROM workload_prices(10, 2, cache_write_mtok := 1, batch_share := 0.5, "
        "long_context_share := 0.5) WHERE model_key = 'openai/gpt-x'",
    )
    assert rows == [
        (
            Decimal("45"),  # 9 x 2.5 + 1 x 2.5 + 2 x 10: standard prices for all of it
            [
                "cache writes at the input price",
                "batch input at the standard price",
                "batch output at the standard price",
                "no long-context tier: long requests at the standard prices",
            ],
        )
    ]


def test_an_offer_stops_counting_when_it_ends(settings: Settings) -> None:
    run_once(
        settings,
        "openrouter",
        openrouter_payload({"x/a": {"prompt": "0.000001", "completion": "0.000002"}}),
        ts("2026-10-01T00:00"),
    )
    run_once(
        settings,
        "openrouter",
        openrouter_payload({"x/a": {"prompt": "0.000002", "completion": "0.000002"}}),
        ts("2026-11-01T00:00"),
    )
    at = "as_of := TIMESTAMPTZ '{}'"
    assert query(settings, COST.format("1, 1, " + at.format("2026-10-15 00:00:00+00"))) == [("x/a", Decimal("3"), [])]
    assert query(settings, COST.format("1, 1, " + at.format("2026-11-15 00:00:00+00"))) == [("x/a", Decimal("4"), [])]
    assert query(settings, COST.format("1, 1, " + at.format("2026-09-15 00:00:00+00"))) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("-1, 1", "workload_prices: token amounts cannot be negative"),
        ("1, 1, cached_mtok := 2", "cached_mtok and cache_write_mtok are part of input_mtok, which is smaller"),
        ("1, 1, batch_share := 0.7, long_context_share := 0.7", "each 0 to 1, together at most 1"),
    ],
)
def test_a_workload_that_cannot_be_is_refused(stated: Settings, arguments: str, message: str) -> None:
    import duckdb

    with pytest.raises(duckdb.InvalidInputException, match=message):
        query(stated, COST.format(arguments))


def test_a_plain_3_to_1_workload_reproduces_open_vs_closed(market: Settings) -> None:
    # the cheapest open and closed offer of each class today, by workload_prices(3, 1) at the end of today
    (day,) = query(market, "SELECT max(day) FROM open_vs_closed")[0]
    expected = query(
        market,
        "SELECT class, open_model, open_blended, closed_model, closed_blended FROM open_vs_closed WHERE day = ? "
        "ORDER BY class",
        [day],
    )
    assert len(expected) >= 3
    cheapest = query(
        market,
        "WITH w AS (SELECT * FROM workload_prices(3, 1, as_of := CAST(? AS TIMESTAMPTZ) + INTERVAL 1 DAY "
        "- INTERVAL 1 MICROSECOND) WHERE class IS NOT NULL AND open_weights IS NOT NULL), "
        "c AS (SELECT class, open_weights, arg_min(model_key, (monthly_usd, model_key, provider, offered_by)) AS m, "
        "min(monthly_usd) AS usd FROM w GROUP BY ALL) "
        "SELECT o.class, o.m, round(o.usd / 4, 6), k.m, round(k.usd / 4, 6) FROM c o "
        "JOIN c k ON k.class = o.class AND NOT k.open_weights WHERE o.open_weights ORDER BY o.class",
        [f"{day} 00:00:00+00"],
    )
    assert cheapest == expected


def test_cost_prints_the_cheapest_offers(stated: Settings, tmp_path: Path) -> None:
    db = str(stated.db)
    done = cli(
        "cost", "--input", "100M", "--output", "5M", "--cached", "90M", "--model", "*-x", "--db", db, "-f", "csv"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "model_key,provider,offered_by,price_from,monthly_usd,usd_per_mtok,assumed",
        "deepseek/deepseek-x,openrouter,openrouter,reseller,14.5,0.138095,",
        "anthropic/claude-x,openrouter,openrouter,reseller,132,1.257143,",
        "openai/gpt-x,openrouter,openrouter,reseller,187.5,1.785714,",
        "z/plain-x,openrouter,openrouter,reseller,240,2.285714,cache reads at the input price",
    ]
    narrowed = cli("cost", "--input", "3M", "--output", "1M", "--model", "*-x", "--limit", "1", "--db", db, "-f", "csv")
    assert narrowed.stdout.splitlines()[1:] == ["deepseek/deepseek-x,openrouter,openrouter,reseller,1.91,0.4775,"]


def test_cost_reads_named_profiles(stated: Settings, tmp_path: Path) -> None:
    (tmp_path / "llmflation.toml").write_text('[workloads.mine]\ninput = "10M"\noutput = "1M"\ncached = "9M"\n')
    db = str(stated.db)
    done = cli("cost", "--profile", "mine", "--model", "*-x", "--db", db, "-f", "csv", "--limit", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # deepseek: 1 x 0.27 + 9 x 0.07 + 1 x 1.1; anthropic: 1 x 3 + 9 x 0.3 + 15
    assert [line.split(",")[4] for line in done.stdout.splitlines()[1:]] == ["2", "20.7"]
    overridden = cli(
        "cost",
        "--profile",
        "mine",
        "--cached",
        "0",
        "--model",
        "*-x",
        "--db",
        db,
        "-f",
        "csv",
        "--limit",
        "1",
        cwd=tmp_path,
    )
    assert overridden.stdout.splitlines()[1].split(",")[4] == "3.8"  # 10 x 0.27 + 1.1
    built_in = cli(
        "cost", "--profile", "batch-summaries", "--model", "*-x", "--db", db, "-f", "csv", "--limit", "1", cwd=tmp_path
    )
    assert built_in.stdout.splitlines()[1].endswith(
        "batch input at the standard price; batch output at the standard price"
    )


@pytest.mark.parametrize(
    ("args", "toml", "message"),
    [
        (["--input", "5M"], "", "give --input and --output (for example --input 50M --output 10M), or --profile NAME"),
        (
            ["--input", "5X", "--output", "1M"],
            "",
            "--input: '5X' is not a token amount (for example 50M, 200k or 2000000)",
        ),
        (
            ["--input", "5M", "--output", "1M", "--cached", "6M"],
            "",
            "cached (6M) and cache writes (0M) are part of the input (5M), which is smaller",
        ),
        (["--profile", "nosuch"], "", "no workload profile 'nosuch'; known: batch-summaries, chat, rag"),
        (
            ["--profile", "mine"],
            '[workloads.mine]\ninput = "10M"\noutput = "yes"\n',
            "llmflation.toml: workloads.mine.output: 'yes' is not a token amount (for example 50M, 200k or 2000000)",
        ),
        (
            ["--profile", "mine"],
            '[workloads.mine]\ninput = "10M"\noutput = "1M"\ncache = "1M"\n',
            "llmflation.toml: workloads.mine.cache: Extra inputs are not permitted",
        ),
    ],
)
def test_cost_errors(stated: Settings, tmp_path: Path, args: list[str], toml: str, message: str) -> None:
    if toml:
        (tmp_path / "llmflation.toml").write_text(toml)
    done = cli("cost", *args, "--db", str(stated.db), cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"error: {message}\n")


def test_the_readme_profile_is_one_cost_reads(stated: Settings, tmp_path: Path) -> None:
    import re

    (block,) = re.findall(r"```toml\n(\[workloads\..*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    (tmp_path / "llmflation.toml").write_text(block)
    name = re.match(r"\[workloads\.([a-z-]+)\]", block)[1]
    done = cli("cost", "--profile", name, "--model", "*-x", "--db", str(stated.db), "-f", "csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # deepseek: 16M fresh x 0.27 + 60M cached x 0.07 + 4M written at the input price 0.27 + 12M out x 1.1, over 92M
    assert done.stdout.splitlines()[1].split(",")[4:] == ["22.8", "0.247826", "cache writes at the input price"]
