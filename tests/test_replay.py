"""Replaying real snapshots through a local HTTP server: history equals a direct diff of the files."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

import pytest
from pytest_httpserver import HTTPServer

from llmflation.extractors.sources import litellm
from llmflation.flows.pipeline import run_prices
from llmflation.flows.settings import Settings
from tests.helpers import openrouter_body, payload, real, ts
from tests.ledger_helpers import query

SEGMENTS = (
    "SELECT provider, provider_model_id, metric, unit, tier, amount, valid_from, valid_to, missing_runs "
    "FROM price_segments WHERE source = ? ORDER BY ALL"
)
# OpenRouter pricing field -> (metric, unit), written out here independently of the parser.
OPENROUTER_FIELDS = {
    "prompt": ("input", "mtok"),
    "completion": ("output", "mtok"),
    "input_cache_read": ("cached_input", "mtok"),
    "input_cache_write": ("cache_write", "mtok"),
    "internal_reasoning": ("reasoning_output", "mtok"),
    "audio": ("audio_input", "mtok"),
    "image": ("image_input", "image"),
    "request": ("request", "request"),
    "web_search": ("web_search", "search"),
}


def _openrouter_prices(body: bytes) -> dict[tuple[str, str, str, str, str], Decimal]:
    """(provider, id, metric, unit, tier) -> price, read straight from the API body."""
    prices = {}
    for model in json.loads(body)["data"]:
        for field_name, raw in model["pricing"].items():
            assert field_name in OPENROUTER_FIELDS, f"a field this test does not know: {field_name}"
            value = Decimal(raw)
            if value < 0 or (value == 0 and field_name not in ("prompt", "completion")):
                continue  # "-1" placeholders, and zero for components not charged separately
            metric, unit = OPENROUTER_FIELDS[field_name]
            prices[("openrouter", model["id"], metric, unit, "standard")] = (
                value * 1_000_000 if unit == "mtok" else value
            )
    return prices


def _serve(server: HTTPServer, path: str, body: bytes) -> str:
    server.clear()
    server.expect_request(path).respond_with_data(body, content_type="application/json")
    return server.url_for(path)


def _run(settings: Settings, source: str, url: str, as_of: datetime) -> None:
    summary = run_prices(settings.model_copy(update={"source_urls": {source: url}}), [source], as_of)
    assert summary.status == "ok", summary.outcomes


def test_openrouter_replay_matches_a_direct_diff(settings: Settings, httpserver: HTTPServer) -> None:
    t1, t2 = ts("2025-12-29T18:00"), ts("2026-04-20T08:00")
    body1 = openrouter_body(real("openrouter/openrouter_models_2025-12-29.json"))
    body2 = openrouter_body(real("openrouter/openrouter_models_2026-04-20.json"))
    _run(settings, "openrouter", _serve(httpserver, "/api/v1/models", body1), t1)
    _run(settings, "openrouter", _serve(httpserver, "/api/v1/models", body2), t2)

    old, new = _openrouter_prices(body1), _openrouter_prices(body2)
    expected = set()
    for key in old.keys() | new.keys():
        if key in old and key in new and old[key] == new[key]:
            expected.add((*key, old[key], t1, None, 0))
        elif key in old and key in new:
            expected |= {(*key, old[key], t1, t2, 0), (*key, new[key], t2, None, 0)}
        elif key in old:
            expected.add((*key, old[key], t1, None, 1))  # missing once: not removed
        else:
            expected.add((*key, new[key], t2, None, 0))
    got = set(query(settings, SEGMENTS, ["openrouter"]))
    assert got == expected
    changed = {k for k in old.keys() & new.keys() if old[k] != new[k]}
    assert len(changed) > 10, "the two real snapshots differ in more than ten prices"
    placeholders = {m["id"] for m in json.loads(body2)["data"] if m["pricing"]["prompt"] == "-1"}
    assert placeholders and not placeholders & {row[1] for row in got}

    for url_body, as_of in ((body1, t1), (body2, t2)):  # rerunning either run changes nothing
        _run(settings, "openrouter", _serve(httpserver, "/api/v1/models", url_body), as_of)
        assert set(query(settings, SEGMENTS, ["openrouter"])) == expected


LITELLM_VERSIONS = [
    ("model_prices_pypi-1.14.4_2023-12.json", "2023-12-15T00:00"),
    ("model_prices_pypi-1.53.1_2024-11.json", "2024-11-25T00:00"),
    ("model_prices_2025-02-06.json", "2025-02-06T00:00"),
    ("model_prices_2025-03-14.json", "2025-03-14T00:00"),
    ("model_prices_2025-09-15.json", "2025-09-15T00:00"),
    ("model_prices_2026-07-24.json", "2026-07-24T00:00"),
]


def _reference_history(versions: list[dict[tuple, Decimal]], times: list[datetime], removal_runs: int = 3) -> set:
    """A plain-Python fold of the ledger rules, to check the SQL one against."""
    series: dict[tuple, list[tuple[int, Decimal]]] = defaultdict(list)
    for tick, prices in enumerate(versions):
        for key, value in prices.items():
            series[key].append((tick, value))
    last = len(versions) - 1
    out = set()
    for key, points in series.items():
        segments: list[list] = []  # [value, first_tick, last_tick]
        for tick, value in points:
            if segments and segments[-1][0] == value and tick - segments[-1][2] <= removal_runs:
                segments[-1][2] = tick
            else:
                segments.append([value, tick, tick])
        for i, (value, first, last_seen) in enumerate(segments):
            following = segments[i + 1][1] if i + 1 < len(segments) else last + 1
            if following - last_seen > removal_runs:
                valid_to = times[last_seen + 1] if last_seen + 1 <= last else None
                assert valid_to is not None
            else:
                valid_to = times[following] if i + 1 < len(segments) else None
            missing = last - last_seen if i + 1 == len(segments) else 0
            out.add((*key, value, times[first], valid_to, missing))
    return out


def test_litellm_replay_in_date_order(settings: Settings, httpserver: HTTPServer) -> None:
    times, versions = [], []
    for name, when in LITELLM_VERSIONS:
        body = real(f"litellm/{name}").read_bytes()
        _run(settings, "litellm", _serve(httpserver, "/model_prices_and_context_window.json", body), ts(when))
        times.append(ts(when))
        from llmflation.warehouse.models import validate_rows

        rows, _ = validate_rows(litellm.parse(payload("litellm", body)).rows)
        versions.append({(r.provider, r.provider_model_id, r.metric, r.unit, r.tier): r.amount for r in rows})
    assert set(query(settings, SEGMENTS, ["litellm"])) == _reference_history(versions, times)

    current = dict(
        ((pid, metric), price)
        for pid, metric, price in query(
            settings,
            "SELECT provider_model_id, metric, usd_per_mtok FROM current_prices WHERE source = 'litellm' "
            "AND tier = 'standard' AND region = 'default'",
        )
    )
    assert current[("gpt-4o", "input")] == Decimal("2.5")
    assert current[("gpt-4o", "output")] == Decimal("10")
    assert current[("gpt-4o-mini", "input")] == Decimal("0.15")
    assert current[("claude-3-5-sonnet-20240620", "output")] == Decimal("15")
    gemini = query(
        settings,
        "SELECT usd_per_mtok, valid_from, valid_to FROM price_history WHERE source = 'litellm' "
        "AND provider_model_id = 'gemini-2.0-flash-001' AND metric = 'input' AND tier = 'standard' ORDER BY valid_from",
    )
    assert gemini == [
        (Decimal("150"), ts("2025-02-06T00:00"), ts("2025-03-14T00:00")),
        (Decimal("0.15"), ts("2025-03-14T00:00"), None),
    ]
    # every stored token price is per 1M tokens: nothing is left at a per-token magnitude
    assert query(settings, "SELECT count(*) FROM price_history WHERE usd_per_mtok > 0 AND usd_per_mtok < 1e-6") == [
        (0,)
    ]


@pytest.mark.parametrize("failure", ["http_500", "timeout", "truncated_json", "no_models"])
def test_a_broken_source_does_not_stop_the_other(settings: Settings, httpserver: HTTPServer, failure: str) -> None:
    from werkzeug import Response

    good_or = openrouter_body(real("openrouter/openrouter_models_2025-12-29.json"))
    ll_body = real("litellm/model_prices_2025-02-06.json").read_bytes()
    httpserver.expect_request("/or").respond_with_data(good_or, content_type="application/json")
    httpserver.expect_request("/ll").respond_with_data(ll_body, content_type="application/json")
    urls = {"openrouter": httpserver.url_for("/or"), "litellm": httpserver.url_for("/ll")}
    fast = settings.model_copy(
        update={"source_urls": urls, "http_timeout": 1.0, "http_retries": 1, "http_backoff": 0.01}
    )
    assert run_prices(fast, ["openrouter"], ts("2025-12-29T18:00")).status == "ok"
    before = query(fast, SEGMENTS, ["openrouter"])

    httpserver.clear()
    httpserver.expect_request("/ll").respond_with_data(ll_body, content_type="application/json")
    if failure == "http_500":
        httpserver.expect_request("/or").respond_with_data("upstream down", status=500)
    elif failure == "timeout":
        import time

        def slow(request: object) -> Response:
            time.sleep(2.5)
            return Response(good_or)

        slow_server = HTTPServer(host="127.0.0.1")
        slow_server.start()
        slow_server.expect_request("/or").respond_with_handler(slow)
        urls["openrouter"] = slow_server.url_for("/or")
    elif failure == "truncated_json":
        httpserver.expect_request("/or").respond_with_data(good_or[: len(good_or) // 2])
    else:
        httpserver.expect_request("/or").respond_with_data('{"data": []}')
    try:
        summary = run_prices(
            fast.model_copy(update={"source_urls": urls}), ["openrouter", "litellm"], ts("2026-01-05T00:00")
        )
    finally:
        if failure == "timeout":
            slow_server.clear()
            slow_server.stop()
    by_source = {o.source: o for o in summary.outcomes}
    assert summary.status == "partial"
    assert by_source["litellm"].status == "ok" and by_source["litellm"].loaded > 1000
    expected_reason = {
        "http_500": "fetch failed: HTTP 500 INTERNAL SERVER ERROR after 1 retries",
        "timeout": "fetch failed: timed out",
        "truncated_json": "parse failed: not valid JSON",
        "no_models": 'parse failed: the "data" list is empty',
    }[failure]
    assert by_source["openrouter"].status == ("failed" if failure in ("http_500", "timeout") else "suspect")
    assert by_source["openrouter"].error.startswith(expected_reason), by_source["openrouter"].error
    assert query(fast, SEGMENTS, ["openrouter"]) == before
    run_note = query(fast, "SELECT status, note FROM runs ORDER BY started_at DESC LIMIT 1")[0]
    assert run_note[0] == "partial" and run_note[1].startswith("openrouter: ")
