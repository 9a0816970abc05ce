"""The Hugging Face Hub fetcher and parsers: real payloads, and a real local server for paging, auth and retries."""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import time
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from llmflation.extractors import http
from llmflation.extractors.errors import FetchError, ParseError
from llmflation.extractors.sources import huggingface as hf
from tests.helpers import payload, real

OWN = Path(__file__).resolve().parent / "fixtures_hub" / "huggingface"
TOKEN = "hf_SECRETtoken0123456789"
PAGE_1 = [{"id": "acme/one", "downloads": 10, "likes": 1}, {"id": "acme/two", "downloads": 20, "likes": 2}]
PAGE_2 = [{"id": "acme/three", "downloads": 30, "likes": 3}]


def serve_two_pages(httpserver: HTTPServer, *, second_status: int = 200) -> list[Request]:
    """Page 1 links to page 2 with a cursor; page 2 has no Link. Returns the requests the server saw."""
    seen: list[Request] = []
    next_url = httpserver.url_for("/api/models") + "?cursor=abc&limit=2"

    def handler(request: Request) -> Response:
        seen.append(request)
        if request.args.get("cursor") == "abc":
            if second_status != 200:
                return Response("boom", status=second_status)
            return Response(json.dumps(PAGE_2), content_type="application/json")
        link = f'<{next_url}>; rel="next"'
        return Response(json.dumps(PAGE_1), content_type="application/json", headers={"Link": link})

    httpserver.expect_request("/api/models").respond_with_handler(handler)
    return seen


def test_real_list_page_parses_with_pinned_values() -> None:
    body = real("hf/raw_api/api_models_list_sort-likes7d_3items_2026-04-26.json").read_bytes()
    rows, rejects = hf.parse(payload(hf.NAME, body))
    assert rejects == []
    assert [r["repo_id"] for r in rows] == ["deepseek-ai/DeepSeek-V4-Pro", "moonshotai/Kimi-K2.6", "Qwen/Qwen3.6-27B"]
    assert [(r["downloads_30d"], r["likes"], r["trending_score"]) for r in rows] == [
        (78864, 2656, 2552),
        (291840, 1014, 978),
        (257685, 796, 779),
    ]
    first = rows[0]
    assert set(first) == set(hf.ROW_KEYS)
    assert first["author"] == "deepseek-ai"
    assert first["pipeline_tag"] == "text-generation" and first["library_name"] == "transformers"
    assert first["created_at"] == datetime(2026, 4, 22, 6, 4, 45, tzinfo=UTC)
    # the default list fields carry no all-time downloads, card, gating, size or lineage: none is guessed
    assert all(r["downloads_all_time"] is None and r["gated"] is None and r["parameters"] is None for r in rows)
    assert all(r["last_modified"] is None for r in rows)
    assert all(r["base_models"] == [] and r["relation"] is None for r in rows)


def test_base_models_from_card_and_tags() -> None:
    rows, rejects = hf.parse(payload(hf.NAME, (OWN / "expanded_page.json").read_bytes()))
    by_id = {r["repo_id"]: r for r in rows}
    assert list(by_id) == [
        "acme/base-7b",
        "someone/base-7b-GGUF",
        "someone/base-chat-merge",
        "someone/lora",
        "someone/card-only",
    ]
    base = by_id["acme/base-7b"]
    assert (base["base_models"], base["relation"], base["gated"]) == ([], None, False)
    assert (base["downloads_all_time"], base["parameters"]) == (9876543, 7241732096)
    assert base["last_modified"] == datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    # cardData.base_model as a string, repeated by both tag forms: one entry
    gguf = by_id["someone/base-7b-GGUF"]
    assert (gguf["base_models"], gguf["relation"], gguf["gated"]) == (["acme/base-7b"], "quantized", True)
    assert gguf["author"] == "someone" and gguf["trending_score"] == 2.5
    # cardData.base_model as a list, then tags; order kept, duplicates dropped
    merge = by_id["someone/base-chat-merge"]
    assert merge["base_models"] == ["acme/base-7b", "other/chat-7b", "third/extra-7b"]
    assert (merge["relation"], merge["gated"]) == ("merge", True)
    # tags only; the first relation kind seen wins
    lora = by_id["someone/lora"]
    assert (lora["base_models"], lora["relation"]) == (["acme/base-7b", "other/chat-7b"], "adapter")
    # no relation tag: the card's own base_model_relation
    assert by_id["someone/card-only"]["relation"] == "finetune"
    assert rejects == [
        ("660000000000000000000006", "no id"),
        ("someone/odd-counts", "downloads is not a count: 'many'"),
    ]


def test_empty_page_is_valid_but_a_non_list_is_not() -> None:
    assert hf.parse(payload(hf.NAME, [])) == ([], [])
    with pytest.raises(ParseError, match="expected a JSON list of models, got dict"):
        hf.parse(payload(hf.NAME, {"error": "Invalid username or password."}))


def test_list_urls() -> None:
    urls = hf.list_urls(hf.URL, authors=["meta-llama", "Qwen"], top_downloads=300, top_trending=100, page_size=1000)
    assert len(urls) == 4 and all(u.startswith(hf.URL + "?") for u in urls)
    queries = [parse_qs(urlsplit(u).query) for u in urls]
    assert all(q["expand[]"] == hf.EXPAND for q in queries)
    assert queries[0]["author"] == ["meta-llama"] and queries[0]["limit"] == ["1000"] and "sort" not in queries[0]
    assert (queries[2]["sort"], queries[2]["direction"], queries[2]["limit"]) == (["downloads"], ["-1"], ["300"])
    assert (queries[3]["sort"], queries[3]["limit"]) == (["trendingScore"], ["100"])
    assert [hf.max_pages_for(u) for u in urls] == [None, None, 1, 1]
    assert hf.list_urls(hf.URL, authors=[], top_downloads=0, top_trending=0, page_size=10) == []


def test_pages_follow_the_link_header_and_send_the_token(httpserver: HTTPServer) -> None:
    seen = serve_two_pages(httpserver)
    session = http.make_session(retries=0)
    pages = list(hf.fetch_pages(session, httpserver.url_for("/api/models") + "?author=acme&limit=2", token=TOKEN))
    assert len(pages) == 2
    assert pages[1].url.endswith("/api/models?cursor=abc&limit=2")
    rows = [row for page in pages for row in hf.parse(page)[0]]
    assert [r["repo_id"] for r in rows] == ["acme/one", "acme/two", "acme/three"]
    assert [r.headers.get("Authorization") for r in seen] == [f"Bearer {TOKEN}"] * 2
    for page in pages:
        for field in dataclasses.fields(page):
            value = getattr(page, field.name)
            assert TOKEN.encode() not in value if isinstance(value, bytes) else TOKEN not in str(value)
    assert session.hooks["response"] == []  # the Link capture is removed after each call


def test_pages_without_a_token_send_no_authorization(httpserver: HTTPServer) -> None:
    seen = serve_two_pages(httpserver)
    pages = list(hf.fetch_pages(http.make_session(retries=0), httpserver.url_for("/api/models")))
    assert len(pages) == 2
    assert [r.headers.get("Authorization") for r in seen] == [None, None]


def test_max_pages_stops_early(httpserver: HTTPServer) -> None:
    seen = serve_two_pages(httpserver)
    pages = list(hf.fetch_pages(http.make_session(retries=0), httpserver.url_for("/api/models"), max_pages=1))
    assert len(pages) == 1 and len(seen) == 1


def test_failed_page_error_never_shows_the_token(httpserver: HTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    serve_two_pages(httpserver, second_status=500)
    session = http.make_session(retries=0)
    pages = []
    with caplog.at_level(logging.DEBUG), pytest.raises(FetchError) as error:
        for page in hf.fetch_pages(session, httpserver.url_for("/api/models"), token=TOKEN):
            pages.append(page)
    assert len(pages) == 1
    assert error.value.detail == "HTTP 500 INTERNAL SERVER ERROR"
    assert "cursor=abc" in error.value.url
    assert TOKEN not in str(error.value) and TOKEN not in repr(error.value) and TOKEN not in caplog.text
    assert session.hooks["response"] == []


def test_next_link_to_another_host_is_not_followed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/models").respond_with_data(
        json.dumps(PAGE_1),
        content_type="application/json",
        headers={"Link": '<https://elsewhere.invalid/api/models?cursor=abc>; rel="next"'},
    )
    pages = hf.fetch_pages(http.make_session(retries=0), httpserver.url_for("/api/models"), token=TOKEN)
    assert len(next(pages).content) > 0
    with pytest.raises(FetchError, match="the next link leaves http://"):
        next(pages)
    assert len(httpserver.log) == 1


def test_a_listing_redirected_to_another_host_is_refused(httpserver: HTTPServer) -> None:
    other = httpserver.url_for("/moved").replace("localhost", "127.0.0.1")  # the same server under another host name
    httpserver.expect_request("/api/models").respond_with_data("", status=302, headers={"Location": other})
    httpserver.expect_request("/moved").respond_with_data(json.dumps(PAGE_1), content_type="application/json")
    with pytest.raises(FetchError) as error:
        list(hf.fetch_pages(http.make_session(retries=0), httpserver.url_for("/api/models"), token=TOKEN))
    assert error.value.detail == f"redirected to another host (http://127.0.0.1:{httpserver.port}); refused"
    assert error.value.final_url == other
    assert [r.headers.get("Authorization") for r, _ in httpserver.log] == [f"Bearer {TOKEN}", None]


def test_429_with_retry_after_then_200(httpserver: HTTPServer) -> None:
    seen: list[float] = []

    def handler(request: Request) -> Response:
        seen.append(time.monotonic())
        if len(seen) == 1:
            return Response("slow down", status=429, headers={"Retry-After": "1"})
        return Response(json.dumps(PAGE_2), content_type="application/json")

    httpserver.expect_request("/api/models").respond_with_handler(handler)
    session = http.make_session(retries=2, backoff=0.01)
    pages = list(hf.fetch_pages(session, httpserver.url_for("/api/models")))
    assert len(seen) == 2 and seen[1] - seen[0] >= 0.9
    assert len(pages) == 1 and hf.parse(pages[0])[0][0]["repo_id"] == "acme/three"


def test_truncated_page_is_a_parse_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/models").respond_with_data(
        '[{"id": "acme/one", "downloads": 10}, {"id": "acme/tw', content_type="application/json"
    )
    (page,) = hf.fetch_pages(http.make_session(retries=0), httpserver.url_for("/api/models"))
    assert page.status == 200
    with pytest.raises(ParseError, match="not valid JSON"):
        hf.parse(page)


def test_reduced_daily_snapshot() -> None:
    path = real("hf/daily_snapshots_namhyeokwoo/2026-08-07.json")
    data = json.loads(path.read_text())
    day, rows = hf.parse_reduced_snapshot(data)
    assert day == date(2026, 8, 7)
    assert len(rows) == len(json.loads(path.read_text())["models"]) == 531
    r1 = next(r for r in rows if r["repo_id"] == "deepseek-ai/DeepSeek-R1")
    assert (r1["downloads_30d"], r1["likes"], r1["author"]) == (9405763, 13548, "deepseek-ai")
    assert r1["created_at"] == datetime(2025, 1, 20, 3, 46, 7, tzinfo=UTC)
    assert (r1["downloads_all_time"], r1["last_modified"], r1["base_models"]) == (None, None, [])


def test_every_reduced_daily_snapshot_parses() -> None:
    for path in sorted(real("hf/daily_snapshots_namhyeokwoo/2026-08-07.json").parent.glob("*.json")):
        day, rows = hf.parse_reduced_snapshot(json.loads(path.read_text()))
        assert day.isoformat() == path.stem and rows


def test_reduced_snapshot_without_models_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not a reduced snapshot"):
        hf.parse_reduced_snapshot({"date": "2026-08-07", "source": "huggingface.co/api/models"})


def test_kblab_monthly_csv() -> None:
    path = real("hf/monthly_downloads_kblab/2026-08-19_hf.csv")
    text = path.read_text()
    rows = hf.parse_kblab_csv(text)
    with path.open(newline="") as handle:
        assert len(rows) == sum(1 for _ in csv.reader(handle)) - 1
    first = next(r for r in rows if r["repo_id"] == "KBLab/sentence-bert-swedish-cased")
    assert (first["downloads_30d"], first["author"], first["snapshot_date"]) == (21500, "KBLab", date(2026, 8, 19))
    assert first["downloads_all_time"] is None and first["likes"] is None and first["created_at"] is None


def test_kblab_csv_with_other_columns_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="columns"):
        hf.parse_kblab_csv("url,downloads\nhttps://huggingface.co/a/b,1\n")


def test_rate_limit_pause_reads_the_hubs_ratelimit_header() -> None:
    assert hf.rate_limit_pause({"ratelimit": '"api";r=0;t=55'}) == 55
    assert hf.rate_limit_pause({"ratelimit": '"api";r=0;t=500'}, max_wait=120) == 120  # then 429 + Retry-After
    assert hf.rate_limit_pause({"ratelimit": '"api";r=489;t=189'}) == 0  # requests remain: no pause
    assert hf.rate_limit_pause({}) == 0
