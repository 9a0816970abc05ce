"""The aws_bedrock source against real AWS Price List entries (AmazonBedrock + AmazonBedrockFoundationModels)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from llmflation.extractors.base import ParseResult
from llmflation.extractors.errors import ParseError
from llmflation.extractors.http import make_session
from llmflation.extractors.identity import model_key
from llmflation.extractors.sources import aws_bedrock
from llmflation.warehouse.models import validate_rows
from tests.helpers import payload, real

BUNDLE = "bedrock/aws_price_list_bedrock_subset.json"
DUPLICATE = "same offer and price as another SKU (e.g. the Bedrock Mantle endpoint)"


def _bundle() -> dict[str, Any]:
    return json.loads(real(BUNDLE).read_bytes())


def _parse(body: dict[str, Any]) -> ParseResult:
    return aws_bedrock.parse(payload("aws_bedrock", body, url=aws_bedrock.URL))


def _got(result: ParseResult) -> dict[tuple[str, str, str], Decimal]:
    return {(r["provider_model_id"], r["metric"], r["tier"]): r["amount"] for r in result.rows}


def _skus(bundle: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(offer, attributes, the one price dimension) of every product with a token usage type."""
    found = []
    for offer, body in bundle.items():
        for sku, product in body["products"].items():
            if re.search(r"token", product["attributes"]["usagetype"], re.I):
                (term,) = body["terms"]["OnDemand"][sku].values()
                (dimension,) = term["priceDimensions"].values()
                found.append((offer, product["attributes"], dimension))
    return found


def _expected(offer: str, attrs: dict[str, Any], dimension: dict[str, Any]) -> tuple[str, str, str, Decimal]:
    """Independent route: read model, metric and tier from the human description, not the usage type."""
    usd = Decimal(dimension["pricePerUnit"]["USD"])
    text = dimension["description"]
    if offer == "AmazonBedrockFoundationModels":
        model = attrs["servicename"].removesuffix(" (Amazon Bedrock Edition)").lower().replace(" ", "-")
        what = text.split("|")[-1]  # "Million 1 hour Cache Write Input Tokens Regional CRIS"
        assert dimension["unit"] == "1M tokens" and what.startswith("Million ")
        endpoint = "global" if what.endswith("Global") else "regional"
        batch = " Batch " in what
        if "Cache Read" in what:
            metric = "cached_input"
        elif "Cache Write" in what:
            metric = "cache_write"
        else:
            metric = ("batch_" if batch else "") + ("input" if " Input " in what else "output")
        return model, metric, endpoint + (" 1h" if "1 hour" in what else ""), usd
    # "$0.00015 per 1K input tokens flex for gpt-oss-120b ..." or "... per 1K token for <id>-input-tokens-priority ..."
    assert dimension["unit"] == "1K tokens" and " per 1K " in text
    words = set(re.findall(r"[a-z0-9]+", text.lower()))
    direction = "input" if "input" in words else "output"
    service = next((w for w in ("flex", "priority") if w in words), "")
    metric = f"batch_{direction}" if "batch" in words else direction
    return attrs["model"], metric, service or "standard", usd * 1000


def test_every_token_sku_becomes_one_row_or_a_counted_skip() -> None:
    bundle = _bundle()
    skus = _skus(bundle)
    assert len(skus) == 74
    result = _parse(bundle)
    rows, rejects = validate_rows(result.rows)
    assert result.rejects == [] and rejects == []
    assert len(result.rows) + sum(result.skipped.values()) == len(skus)
    # the only skips: Mantle SKUs that repeat a legacy SKU's offer and price
    mantle = [a for _, a, _ in skus if "-mantle-" in a["usagetype"]]
    assert dict(result.skipped) == {DUPLICATE: len(mantle)} == {DUPLICATE: 16}
    got = _got(result)
    assert len(got) == len(result.rows) == 58
    expected = {}
    for offer, attrs, dimension in skus:
        model, metric, tier, amount = _expected(offer, attrs, dimension)
        assert got[(model, metric, tier)] == amount, (attrs["usagetype"], dimension["description"])
        expected[(model, metric, tier)] = amount
    assert expected == got
    models = {a.get("model") or a["servicename"] for _, a, _ in skus}
    assert result.items == len(models) == 5
    assert {r.region for r in rows} == {"us-east-1"} and {r.currency for r in rows} == {"USD"}
    assert all(r.model_key == model_key("aws-bedrock", r.provider_model_id) for r in rows)


def test_pinned_prices() -> None:
    result = _parse(_bundle())
    got = _got(result)
    sonnet = "claude-sonnet-4.6"
    assert got[(sonnet, "input", "global")] == Decimal("3.00")
    assert got[(sonnet, "output", "global")] == Decimal("15")
    assert got[(sonnet, "cached_input", "global")] == Decimal("0.3")
    assert got[(sonnet, "cache_write", "global")] == Decimal("3.75")
    assert got[(sonnet, "cache_write", "global 1h")] == Decimal("6")
    assert got[(sonnet, "input", "regional")] == Decimal("3.3")
    assert got[(sonnet, "batch_input", "global")] == Decimal("1.5")
    assert got[(sonnet, "batch_output", "regional")] == Decimal("8.25")
    # gpt-oss-120b: "0.0001500000" USD per 1K tokens -> 0.15 per 1M
    assert got[("gpt-oss-120b", "input", "standard")] == Decimal("0.15")
    assert got[("gpt-oss-120b", "output", "standard")] == Decimal("0.6")
    assert got[("gpt-oss-120b", "output", "priority")] == Decimal("1.05")
    assert got[("gpt-oss-20b", "input", "flex")] == Decimal("0.035")
    row = next(
        r for r in result.rows if (r["provider_model_id"], r["metric"], r["tier"]) == (sonnet, "input", "global")
    )
    assert row["region"] == "us-east-1" and row["model_key"] == model_key("aws-bedrock", sonnet)
    assert row["effective_from"] == datetime(2026, 9, 1, tzinfo=UTC)
    oss = next(r for r in result.rows if r["provider_model_id"] == "gpt-oss-120b")
    assert oss["effective_from"] == datetime(2026, 10, 1, tzinfo=UTC)


def test_raw_offer_files_read_like_the_bundle() -> None:
    bundle = _bundle()
    rows = []
    for offer, body in bundle.items():
        raw = {"formatVersion": "v1.0", "offerCode": offer, "version": "20261001000000", **body}
        rows += _parse(raw).rows
    assert sorted(map(repr, rows)) == sorted(map(repr, _parse(bundle).rows))


def test_fetch_gets_both_offer_files(httpserver: HTTPServer) -> None:
    bundle = _bundle()
    for offer, body in bundle.items():
        path = f"/offers/v1.0/aws/{offer}/current/us-east-1/index.json"
        httpserver.expect_request(path).respond_with_json({"offerCode": offer, **body})
    url = httpserver.url_for("/offers/v1.0/aws/AmazonBedrock/current/us-east-1/index.json")
    documents = aws_bedrock.fetch(make_session(retries=0), url, timeout=5)
    assert [d.url.split("/aws/")[1].split("/")[0] for d in documents] == list(bundle)
    assert sum(len(aws_bedrock.parse(d).rows) for d in documents) == 58
    # a URL without the offer segment (one saved file) is fetched alone
    httpserver.expect_request("/bundle.json").respond_with_json(bundle)
    (single,) = aws_bedrock.fetch(make_session(retries=0), httpserver.url_for("/bundle.json"), timeout=5)
    assert len(aws_bedrock.parse(single).rows) == 58


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda b: b["AmazonBedrock"].update(products={}), "AmazonBedrock: no products"),
        (lambda b: b["AmazonBedrockFoundationModels"].pop("terms"), "AmazonBedrockFoundationModels: no terms"),
        (lambda b: b["AmazonBedrock"]["terms"].pop("OnDemand"), "AmazonBedrock: no terms.OnDemand"),
        (lambda b: [b.pop(k) for k in list(b)], "neither a Price List offer file"),
    ],
)
def test_broken_payload_is_a_parse_error(break_it: Any, message: str) -> None:
    bundle = _bundle()
    break_it(bundle)
    with pytest.raises(ParseError, match=message):
        _parse(bundle)


def test_no_token_prices_is_a_parse_error() -> None:
    bundle = _bundle()
    for body in bundle.values():
        for product in body["products"].values():
            product["attributes"]["usagetype"] = "USE1-ProvisionedThroughput-ModelUnits"
        for terms in body["terms"]["OnDemand"].values():
            for term in terms.values():
                for dimension in term["priceDimensions"].values():
                    dimension.update(unit="Hrs", description="per model unit hour")
    with pytest.raises(ParseError, match="not one token price"):
        _parse(bundle)
