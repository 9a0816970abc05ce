"""llm_prices against the real simonw/llm-prices vendor files (data/*.json @ 723ef0bd, 2026-08-05)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from llmflation.extractors import http
from llmflation.extractors.errors import FetchError, ParseError
from llmflation.extractors.sources import llm_prices
from llmflation.warehouse.models import validate_rows
from tests.helpers import payload, real, real_glob, ts

VENDORS = ["amazon", "anthropic", "deepseek", "google", "meta-ai", "minimax", "mistral", "moonshot-ai", "openai"]
VENDORS += ["qwen", "xai"]
RAW = "https://raw.githubusercontent.com/simonw/llm-prices/main/data/"


def _parse(vendor: str):
    path = real(f"llm-prices/data/{vendor}.json")
    return llm_prices.parse(payload("llm_prices", path.read_bytes(), url=RAW + path.name))


def _price(rows: list[dict], model: str, metric: str, tier: str = "standard", since: str | None = None):
    start = ts(since) if since else None
    found = [
        r
        for r in rows
        if (r["provider_model_id"], r["metric"], r["tier"], r["effective_from"]) == (model, metric, tier, start)
    ]
    assert len(found) == 1, (model, metric, tier, since, len(found))
    return found[0]["amount"], found[0]["effective_to"]


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_model_of_every_vendor_file_is_parsed(vendor: str) -> None:
    text = real(f"llm-prices/data/{vendor}.json").read_text()
    result = _parse(vendor)
    rows, rejects = validate_rows(result.rows)
    assert rejects == [] and result.rejects == []
    # Independent route: the model ids as a regex finds them in the raw text, and the history entries.
    ids = re.findall(r'"id":\s*"([^"]+)"', text)
    assert result.items == len(ids) == text.count('"price_history"')
    got = {r.provider_model_id + ("-" + r.tier[1:] if r.tier != "standard" else "") for r in rows}
    assert got == set(ids)
    assert len({r.provider for r in rows}) == 1
    # every stated input and output price became a row, at its stated dates
    stated = re.findall(r'"input":\s*([\d.]+),\s*"output":\s*([\d.]+),\s*"from_date":\s*(null|"[\d-]+")', text)
    starts = {None if f == "null" else ts(f.strip('"') + "T00:00") for *_, f in stated}
    assert {r.effective_from for r in rows} == starts
    assert {r.amount for r in rows if r.metric == "input"} == {Decimal(i) for i, _, _ in stated}
    assert {r.amount for r in rows if r.metric == "output"} == {Decimal(o) for _, o, _ in stated}


def test_vendor_names_map_to_provider_slugs() -> None:
    providers = {v: {r["provider"] for r in _parse(v).rows} for v in VENDORS}
    assert providers["meta-ai"] == {"meta"} and providers["moonshot-ai"] == {"moonshot"}
    assert providers["amazon"] == {"amazon"} and providers["xai"] == {"xai"} and providers["google"] == {"google"}


def test_pinned_prices_with_their_dates() -> None:
    openai = _parse("openai").rows
    assert _price(openai, "gpt-4o", "input") == (Decimal("2.5"), None)
    assert _price(openai, "gpt-4o", "cached_input") == (Decimal("1.25"), None)
    # GPT-5.6 Terra's cut of 2026-07-30; to_date is exclusive in the feed, so it is effective_to as is
    assert _price(openai, "gpt-5.6-terra", "input") == (Decimal("2.5"), ts("2026-07-30T00:00"))
    assert _price(openai, "gpt-5.6-terra", "input", since="2026-07-30T00:00") == (Decimal("2"), None)
    assert _price(openai, "gpt-5.6-terra", "output", since="2026-07-30T00:00") == (Decimal("12"), None)
    assert _price(openai, "gpt-5.6-terra", "cached_input", since="2026-07-30T00:00") == (Decimal("0.2"), None)
    # the ">272k" pseudo-model "gpt-5.6-terra-272k" is the long-context tier of gpt-5.6-terra
    assert _price(openai, "gpt-5.6-terra", "input", ">272k") == (Decimal("5"), ts("2026-07-30T00:00"))
    assert _price(openai, "gpt-5.6-terra", "input", ">272k", "2026-07-30T00:00") == (Decimal("4"), None)
    anthropic = _parse("anthropic").rows
    assert _price(anthropic, "claude-sonnet-5", "output") == (Decimal("10"), ts("2026-09-01T00:00"))
    assert _price(anthropic, "claude-sonnet-5", "output", since="2026-09-01T00:00") == (Decimal("15"), None)
    assert _price(anthropic, "claude-sonnet-4.5", "input", ">200k") == (Decimal("6"), None)
    deepseek = _parse("deepseek").rows
    assert _price(deepseek, "deepseek-chat", "input") == (Decimal("0.14"), ts("2025-02-08T00:00"))
    assert _price(deepseek, "deepseek-chat", "input", since="2025-02-08T00:00") == (Decimal("0.27"), None)
    google = _parse("google").rows
    assert _price(google, "gemini-2.5-pro", "cached_input", ">200k") == (Decimal("0.25"), None)
    assert _price(google, "gemini-1.5-flash-8b", "input", ">128k") == (Decimal("0.075"), None)


def test_undated_prices_stay_undated() -> None:
    rows = [r for v in VENDORS for r in _parse(v).rows]
    dated = {r["provider_model_id"] for r in rows if r["effective_from"] or r["effective_to"]}
    assert dated == {"claude-sonnet-5", "deepseek-chat", "gpt-5.6-terra", "gpt-5.6-luna"}


def test_a_vendor_file_without_models_raises() -> None:
    broken = real("llm-prices/data/openai.json").read_text().replace('"models":', '"entries":')
    with pytest.raises(ParseError, match='no "models" list'):
        llm_prices.parse(payload("llm_prices", broken, url=RAW + "openai.json"))


def test_a_vendor_file_with_renamed_history_raises() -> None:
    broken = real("llm-prices/data/openai.json").read_text().replace('"price_history"', '"prices"')
    with pytest.raises(ParseError, match="not one price"):
        llm_prices.parse(payload("llm_prices", broken, url=RAW + "openai.json"))


def _serve_listing(httpserver: HTTPServer, files: list[Path]) -> str:
    listing: list[dict[str, str | None]] = [
        {
            "name": path.name,
            "path": f"data/{path.name}",
            "type": "file",
            "download_url": httpserver.url_for(f"/raw/data/{path.name}"),
        }
        for path in files
    ]
    listing.append({"name": "README.md", "type": "file", "download_url": httpserver.url_for("/raw/data/README.md")})
    listing.append({"name": "archive", "type": "dir", "download_url": None})
    httpserver.expect_request("/repos/simonw/llm-prices/contents/data").respond_with_json(listing)
    for path in files:
        httpserver.expect_request(f"/raw/data/{path.name}").respond_with_data(
            path.read_bytes(), content_type="text/plain; charset=utf-8"
        )
    return httpserver.url_for("/repos/simonw/llm-prices/contents/data")


def test_fetch_gets_every_vendor_file_named_by_the_listing(httpserver: HTTPServer) -> None:
    files = real_glob("llm-prices/data/*.json")
    url = _serve_listing(httpserver, files)
    payloads = llm_prices.fetch(http.make_session(retries=0), url, timeout=5)
    assert [p.url.rsplit("/", 1)[-1] for p in payloads] == sorted(p.name for p in files)
    assert [p.content for p in payloads] == [p.read_bytes() for p in sorted(files)]
    assert {p.source for p in payloads} == {"llm_prices"}
    requested = [request.path for request, _ in httpserver.log]
    assert requested[0] == "/repos/simonw/llm-prices/contents/data" and "/raw/data/README.md" not in requested
    assert httpserver.log[0][0].headers["Accept"] == "application/vnd.github+json"
    results = [llm_prices.parse(p) for p in payloads]
    assert sum(r.items for r in results) == 142
    assert {r["provider"] for res in results for r in res.rows} == {
        "amazon",
        "anthropic",
        "deepseek",
        "google",
        "meta",
        "minimax",
        "mistral",
        "moonshot",
        "openai",
        "qwen",
        "xai",
    }


def test_fetch_fails_on_a_listing_that_is_not_a_file_list(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/contents/data").respond_with_json({"message": "Not Found"})
    with pytest.raises(FetchError, match="not a JSON array"):
        llm_prices.fetch(http.make_session(retries=0), httpserver.url_for("/contents/data"), timeout=5)


def test_fetch_fails_when_a_vendor_file_is_missing(httpserver: HTTPServer) -> None:
    listing = [{"name": "openai.json", "type": "file", "download_url": httpserver.url_for("/raw/openai.json")}]
    httpserver.expect_request("/contents/data").respond_with_data(json.dumps(listing))
    httpserver.expect_request("/raw/openai.json").respond_with_data("gone", status=404)
    with pytest.raises(FetchError, match="HTTP 404"):
        llm_prices.fetch(http.make_session(retries=0), httpserver.url_for("/contents/data"), timeout=5)
