"""The full-Hub census: streamed page by page, stored as changes, resumable after a kill, never half-counted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import zstandard
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from llmflation.flows import hub
from llmflation.flows.settings import Settings
from llmflation.warehouse.db import DamagedWarehouse
from tests.helpers import ROOT, TricklingServer, cli
from tests.ledger_helpers import query


class CensusHub:
    """GET /api/models?limit=L[&cursor=K]: every model, L per page, Link rel="next" until the end."""

    def __init__(self, models: list[dict]) -> None:
        self.models, self.requests, self.fail = models, [], {}

    def __call__(self, request: Request) -> Response:
        args = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        start, limit = int(args.get("cursor", 0)), int(args["limit"])
        self.requests.append(start)
        if start in self.fail:
            return self.fail[start](request)
        headers = {}
        if start + limit < len(self.models):
            headers["Link"] = f'<{request.base_url}?limit={limit}&cursor={start + limit}>; rel="next"'
        return Response(
            json.dumps(self.models[start : start + limit]), content_type="application/json", headers=headers
        )


def _models(n: int, bump: int = 0, every: int = 3) -> list[dict]:
    return [
        {
            "id": f"org{i % 7}/model-{i:05d}",
            "downloads": i % 50 + (bump if i % every == 0 else 0),
            "downloadsAllTime": 1000 + i + (bump if i % every == 0 else 0),
            "likes": i % 5,
        }
        for i in range(n)
    ]


@pytest.fixture
def census_settings(settings: Settings, httpserver: HTTPServer) -> Settings:
    return settings.model_copy(
        update={
            "source_urls": {"huggingface": httpserver.url_for("/api/models")},
            "http_retries": 1,
            "http_backoff": 0.01,
        }
    )


def test_census_stores_changes_not_copies(census_settings: Settings, httpserver: HTTPServer) -> None:
    day1 = _models(2500)
    httpserver.expect_request("/api/models").respond_with_handler(CensusHub(day1))
    assert hub.census(census_settings, datetime(2026, 8, 1, tzinfo=UTC)).status == "ok"
    day2 = [*_models(2500, bump=7), {"id": "new/model", "downloads": 1, "downloadsAllTime": 1, "likes": 0}]
    httpserver.clear()
    httpserver.expect_request("/api/models").respond_with_handler(CensusHub(day2))
    summary = hub.census(census_settings, datetime(2026, 8, 2, tzinfo=UTC))
    assert summary.status == "ok"
    changed_on_day2 = sum(1 for i in range(2500) if i % 3 == 0) + 1
    counts = dict(query(census_settings, "SELECT strftime(day, '%d'), count(*) FROM hf_census_changes GROUP BY 1"))
    assert counts == {"01": 2500, "02": changed_on_day2}
    # dense ids in order of first appearance: the first census's by position, the next one's new model after them
    dictionary = query(census_settings, "SELECT model_id, repo_id, first_day::VARCHAR FROM hf_census_models")
    assert sorted(dictionary) == [
        *((k + 1, m["id"], "2026-08-01") for k, m in enumerate(day1)),
        (2501, "new/model", "2026-08-02"),
    ]
    assert query(census_settings, "SELECT day::VARCHAR, status, next_url, pages FROM hf_census_days ORDER BY day") == [
        ("2026-08-01", "complete", None, 3),
        ("2026-08-02", "complete", None, 3),
    ]
    # changes are differences: the first row holds the values, later rows what moved
    rows = query(
        census_settings,
        "SELECT c.day::VARCHAR, c.downloads_30d_change, c.downloads_all_time_change, c.likes_change, c.listed "
        "FROM hf_census_changes c JOIN hf_census_models m USING (model_id) WHERE m.repo_id = 'org3/model-00003' "
        "ORDER BY c.day",
    )
    assert rows == [("2026-08-01", 3, 1003, 3, True), ("2026-08-02", 7, 7, 0, True)]
    for day, models in (("2026-08-01", day1), ("2026-08-02", day2)):
        as_of = query(
            census_settings,
            "SELECT count(*), sum(downloads_30d), sum(downloads_all_time), sum(likes), count_if(listed) "
            f"FROM census_as_of(DATE '{day}')",
        )
        assert as_of == [
            (
                len(models),
                sum(m["downloads"] for m in models),
                sum(m["downloadsAllTime"] for m in models),
                sum(m["likes"] for m in models),
                len(models),
            )
        ]
    # rerunning a completed day fetches nothing
    before = len(httpserver.log)
    again = hub.census(census_settings, datetime(2026, 8, 2, 12, tzinfo=UTC))
    assert again.outcomes[0].notes.startswith("day=2026-08-02, status=complete") and len(httpserver.log) == before


def test_a_model_listed_twice_counts_once_with_its_later_values(
    census_settings: Settings, httpserver: HTTPServer
) -> None:
    """While the walk goes on, the listing can shift and a model turn up on two pages: it is one model that day, with
    the values of the later page, whether it is new that day or known from an earlier census."""
    day1 = _models(2500)
    new_twice = [{"id": "new/twice", "downloads": 1, "downloadsAllTime": 2, "likes": 0}]
    listing = [*new_twice, *day1[:1500], {**new_twice[0], "downloads": 5, "downloadsAllTime": 6}, *day1[1500:]]
    httpserver.expect_request("/api/models").respond_with_handler(CensusHub(listing))
    assert hub.census(census_settings, datetime(2026, 8, 1, tzinfo=UTC)).status == "ok"
    day2 = _models(2500, bump=7)
    listing = [*day2[:1200], {**day2[10], "downloads": 99}, *day2[1200:], *new_twice]  # org3/model-00010 twice
    httpserver.clear()
    httpserver.expect_request("/api/models").respond_with_handler(CensusHub(listing))
    assert hub.census(census_settings, datetime(2026, 8, 2, tzinfo=UTC)).status == "ok"
    for day, expected in (
        ("2026-08-01", {"new/twice": (5, 6), "org3/model-00010": (10, 1010)}),
        ("2026-08-02", {"new/twice": (1, 2), "org3/model-00010": (99, 1010)}),
    ):
        rows = query(
            census_settings,
            "SELECT repo_id, downloads_30d, downloads_all_time FROM census_as_of(CAST(? AS DATE)) "
            "WHERE repo_id IN ('new/twice', 'org3/model-00010')",
            [day],
        )
        assert {r[0]: r[1:] for r in rows} == expected
        assert query(census_settings, "SELECT models FROM hf_census_days WHERE day = CAST(? AS DATE)", [day]) == [
            (2501,)
        ]
    # the first census's ids are still dense, in listing order, the repeat counted where its kept (later) row is
    first_seen = [*(m["id"] for m in day1[:1500]), "new/twice", *(m["id"] for m in day1[1500:])]
    assert query(census_settings, "SELECT model_id, repo_id FROM hf_census_models ORDER BY model_id") == [
        (k + 1, repo) for k, repo in enumerate(first_seen)
    ]


@pytest.mark.parametrize("failure", ["http_500", "truncated"])
def test_a_failed_page_applies_nothing_and_the_next_run_resumes(
    census_settings: Settings, httpserver: HTTPServer, failure: str
) -> None:
    fake = CensusHub(_models(3500))
    fake.fail[2000] = (
        (lambda r: Response("down", status=500))
        if failure == "http_500"
        else (lambda r: Response('[{"id": "org1/model-02000", "downlo', content_type="application/json"))
    )
    httpserver.expect_request("/api/models").respond_with_handler(fake)
    failed = hub.census(census_settings, datetime(2026, 8, 1, tzinfo=UTC))
    assert failed.status == "failed"
    assert failed.outcomes[0].error.startswith("census stopped after 2 pages: ")
    assert failed.outcomes[0].error.endswith("run again to resume from the next page")
    assert query(census_settings, "SELECT count(*) FROM hf_census_state") == [(0,)]
    fake.fail.clear()
    fake.requests.clear()
    assert hub.census(census_settings, datetime(2026, 8, 1, 12, tzinfo=UTC)).status == "ok"
    assert fake.requests == [2000, 3000]  # resumed at the page that failed
    assert query(census_settings, "SELECT count(*), count(DISTINCT model_id) FROM hf_census_state") == [(3500, 3500)]


def test_sigkill_halfway_then_rerun_resumes_with_one_row_per_model(
    census_settings: Settings, httpserver: HTTPServer
) -> None:
    fake = CensusHub(_models(5500))
    reached, release = threading.Event(), threading.Event()

    def hang(request: Request) -> Response:
        reached.set()  # pages 0-2 have arrived; the census stages them while this page hangs
        release.wait(60)  # the test server answers one request at a time: hold it only until the kill
        return Response("[]")

    fake.fail[3000] = hang
    httpserver.expect_request("/api/models").respond_with_handler(fake)
    script = textwrap.dedent(f"""
        from datetime import datetime, UTC
        from pathlib import Path
        from llmflation.flows import hub
        from llmflation.flows.settings import Settings
        settings = Settings(db=Path({str(census_settings.db)!r}), source_urls={census_settings.source_urls!r},
                            hf_census_pages_per_commit=1)
        hub.census(settings, datetime(2026, 8, 1, tzinfo=UTC))
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        assert reached.wait(60), "the census never reached its fourth page"
        deadline = time.monotonic() + 60  # pages 0-2 are staged, each committed on its own, before the kill
        while query(census_settings, "SELECT pages FROM hf_census_days") != [(3,)]:
            assert time.monotonic() < deadline, "pages 0-2 were never staged"
            time.sleep(0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        release.set()
    fake.fail.clear()
    fake.requests.clear()
    summary = hub.census(census_settings, datetime(2026, 8, 1, 12, tzinfo=UTC))
    assert summary.status == "ok"
    assert fake.requests == [3000, 4000, 5000]
    assert query(census_settings, "SELECT count(*), count(DISTINCT model_id) FROM hf_census_state") == [(5500, 5500)]
    assert query(census_settings, "SELECT count(*) FROM hf_census_changes") == [(5500,)]
    assert query(census_settings, "SELECT status, pages, models FROM hf_census_days") == [("complete", 6, 5500)]


def test_a_model_missing_from_a_listing_is_marked_unlisted_and_keeps_its_counters(
    census_settings: Settings, httpserver: HTTPServer
) -> None:
    models = _models(1200)
    days = {"01": models, "02": models[:-1], "03": models}  # model 1199 drops out of the listing for a day
    for day, listing in days.items():
        httpserver.clear()
        httpserver.expect_request("/api/models").respond_with_handler(CensusHub(listing))
        assert hub.census(census_settings, datetime(2026, 8, int(day), tzinfo=UTC)).status == "ok"
    rows = query(
        census_settings,
        "SELECT strftime(c.day, '%d'), c.downloads_all_time_change, c.listed FROM hf_census_changes c "
        "JOIN hf_census_models m USING (model_id) WHERE m.repo_id = 'org2/model-01199' ORDER BY c.day",
    )
    assert rows == [("01", 2199, True), ("02", 0, False), ("03", 0, True)]
    on_day_2 = query(
        census_settings,
        "SELECT downloads_all_time, listed FROM census_as_of(DATE '2026-08-02') WHERE repo_id = 'org2/model-01199'",
    )
    assert on_day_2 == [(2199, False)]  # its last counters stay; not listed is not deleted
    unlisted = query(census_settings, "SELECT strftime(day, '%d'), models, unlisted FROM hf_census_days ORDER BY day")
    assert unlisted == [("01", 1200, 0), ("02", 1199, 1), ("03", 1200, 0)]


def test_counters_must_be_json_integers_and_odd_items_are_rejected_one_by_one(
    census_settings: Settings, httpserver: HTTPServer
) -> None:
    models = _models(5)
    models[1]["downloads"] = 1.5  # not a count; never rounded
    models[2]["likes"] = "7"  # a string is not a count either
    del models[3]["downloadsAllTime"]  # a missing counter is not zero
    models[4]["id"] = "no-namespace"
    httpserver.expect_request("/api/models").respond_with_handler(CensusHub(models))
    summary = hub.census(census_settings, datetime(2026, 8, 1, tzinfo=UTC))
    assert summary.status == "ok" and "rejected=4" in summary.outcomes[0].notes
    assert summary.outcomes[0].rejected == 4
    assert query(census_settings, "SELECT rejected FROM source_runs WHERE source = 'huggingface-census'") == [(4,)]
    assert query(census_settings, "SELECT repo_id FROM census_as_of(DATE '2026-08-01')") == [("org0/model-00000",)]
    assert query(census_settings, "SELECT models, rejected FROM hf_census_days") == [(1, 4)]


def test_a_spent_rate_limit_window_pauses_the_census_until_it_resets(
    census_settings: Settings, httpserver: HTTPServer
) -> None:
    fake = CensusHub(_models(2500))
    seen: list[float] = []

    def handler(request: Request) -> Response:
        seen.append(time.monotonic())
        response = fake(request)
        if len(seen) == 1:  # the Hub's RateLimit header (IETF draft 9): nothing left, the window resets in 1 s
            response.headers["RateLimit"] = '"api";r=0;t=1'
            response.headers["RateLimit-Policy"] = '"fixed window";"api";q=500;w=300'
        elif len(seen) == 2:
            response = Response("slow down", status=429, headers={"Retry-After": "1"})
        return response

    httpserver.expect_request("/api/models").respond_with_handler(handler)
    assert hub.census(census_settings, datetime(2026, 8, 1, tzinfo=UTC)).status == "ok"
    assert seen[1] - seen[0] >= 0.9  # waited for the window, not the client's own 0.01 s backoff
    assert seen[2] - seen[1] >= 0.9  # and for the 429's Retry-After, then fetched the same page again
    assert fake.requests == [0, 1000, 1000, 2000]
    assert query(census_settings, "SELECT count(*) FROM hf_census_state") == [(2500,)]


def test_every_staged_row_traces_to_an_archived_raw_page(census_settings: Settings, httpserver: HTTPServer) -> None:
    from llmflation.warehouse import archive

    httpserver.expect_request("/api/models").respond_with_handler(CensusHub(_models(2100)))
    summary = hub.census(census_settings, datetime(2026, 8, 1, tzinfo=UTC))
    run_id = summary.run_id
    pages = query(
        census_settings,
        "SELECT f.url, r.path FROM fetches f JOIN raw_documents r USING (sha256) "
        "WHERE f.run_id = ? AND f.source = 'huggingface-census' ORDER BY f.fetched_at",
        [run_id],
    )
    assert len(pages) == 3
    packs = set()
    for _, path in pages:  # a zstandard frame each, in one pack; archive.read gives back the bytes served
        pack, offset = path.split("#")[0], int(path.split("#")[1].split("+")[0])
        assert pack.startswith("raw/census/2026-08-01/") and pack.endswith(".zst")
        assert (census_settings.data_dir / pack).read_bytes()[offset : offset + 4] == b"\x28\xb5\x2f\xfd"
        packs.add(pack)
    assert len(packs) == 1  # the three pages are one batch
    served = b"".join(archive.read(census_settings.data_dir, path) for _, path in pages)
    with (census_settings.data_dir / packs.pop()).open("rb") as handle:  # an ordinary .zst: the pages concatenated
        assert zstandard.ZstdDecompressor().stream_reader(handle, read_across_frames=True).read() == served
    ids = [m["id"] for _, path in pages for m in json.loads(archive.read(census_settings.data_dir, path))]
    assert len(ids) == 2100 and set(ids) == {m["id"] for m in _models(2100)}


def test_the_census_walk_never_follows_a_cursor_to_another_host(
    census_settings: Settings, httpserver: HTTPServer
) -> None:
    fake = CensusHub(_models(2500))
    elsewhere = httpserver.url_for("/api/models").replace("localhost", "127.0.0.1")
    assert elsewhere != census_settings.source_urls["huggingface"]  # the same server, under another origin
    fake.fail[1000] = lambda request: Response("unreachable", status=500)
    original = fake.__call__

    def hub_leaking_elsewhere(request: Request) -> Response:
        response = original(request)
        if "Link" in response.headers:
            response.headers["Link"] = response.headers["Link"].replace(
                request.host_url.rstrip("/"), elsewhere[: -len("/api/models")]
            )
        return response

    httpserver.expect_request("/api/models").respond_with_handler(hub_leaking_elsewhere)
    summary = hub.census(census_settings.model_copy(update={"hf_token": "hf_secret"}), datetime(2026, 8, 1, tzinfo=UTC))
    assert summary.status == "failed" and "the next link leaves" in summary.outcomes[0].error
    assert fake.requests == [0]  # nothing fetched from the other origin
    assert all(r.headers.get("Authorization") == "Bearer hf_secret" for r, _ in httpserver.log)


def test_the_census_ends_at_its_deadline_and_the_next_run_resumes(census_settings: Settings) -> None:
    with TricklingServer(every=2.0) as slow:  # headers at once, then a byte every 2 s: no timeout ever fires
        slow_hub = census_settings.model_copy(
            update={"source_urls": {"huggingface": slow.url + "/api/models"}, "hf_census_deadline": 3}
        )
        started = time.monotonic()
        summary = hub.census(slow_hub, datetime(2026, 8, 1, tzinfo=UTC))
        took = time.monotonic() - started
    assert summary.outcomes[0].error == (
        "census stopped after 0 pages: census deadline of 3 s passed; nothing applied; "
        "run again to resume from the next page"
    )
    assert took < 3 + 5, took
    assert query(slow_hub, "SELECT http_status, error FROM fetches") == [(200, "census deadline of 3 s passed")]


def test_a_census_keeps_its_cursor_without_credentials_and_resumes_with_them(
    census_settings: Settings, httpserver: HTTPServer
) -> None:
    fake = CensusHub(_models(2500))
    fake.fail[0] = lambda request: Response("down", status=503)
    httpserver.expect_request("/api/models").respond_with_handler(fake)
    url = httpserver.url_for("/api/models?api_key=k3y-value").replace("http://", "http://user:pa55-word@")
    with_credentials = census_settings.model_copy(update={"source_urls": {"huggingface": url}})
    assert hub.census(with_credentials, datetime(2026, 8, 1, tzinfo=UTC)).status == "failed"
    [(cursor,)] = query(with_credentials, "SELECT next_url FROM hf_census_days WHERE status = 'fetching'")
    assert "k3y-value" not in cursor and "pa55-word" not in cursor and "api_key=***" in cursor
    assert query(with_credentials, "SELECT http_status FROM fetches") == [(503,)]
    fake.fail.clear()
    httpserver.clear_log()
    assert hub.census(with_credentials, datetime(2026, 8, 1, 12, tzinfo=UTC)).status == "ok"
    first, _ = httpserver.log[0]  # the resumed census asked with the configured credentials again
    assert first.args["api_key"] == "k3y-value" and first.authorization.password == "pa55-word"
    urls = [u for (u,) in query(with_credentials, "SELECT url FROM fetches WHERE url LIKE '%api_key%'")]
    assert urls and all("k3y-value" not in u and "pa55-word" not in u for u in urls)


def test_a_pack_member_reads_back_alone_and_a_cut_pack_says_so(tmp_path) -> None:
    from llmflation.warehouse import archive

    pack = archive.Pack(tmp_path, "raw/census/2026-08-01/000000-test.zst")
    members = [pack.add(body) for body in (b'[{"id": "a/b"}]', b"[]", b'[{"id": "c/d"}]')]
    assert not (tmp_path / pack.relative).exists()  # named only once synced
    pack.close()
    assert [archive.read(tmp_path, m) for m in members] == [b'[{"id": "a/b"}]', b"[]", b'[{"id": "c/d"}]']
    whole = (tmp_path / pack.relative).read_bytes()
    (tmp_path / pack.relative).write_bytes(whole[:-3])
    with pytest.raises(ValueError, match="cut short"):
        archive.read(tmp_path, members[-1])
    assert archive.read(tmp_path, members[0]) == b'[{"id": "a/b"}]'


def test_a_resumed_census_reads_its_staged_pages_back_from_the_archive_and_refuses_damaged_ones(
    census_settings: Settings, httpserver: HTTPServer
) -> None:
    from llmflation.warehouse import archive

    fake = CensusHub(_models(3500))
    fake.fail[2000] = lambda request: Response("down", status=503)
    httpserver.expect_request("/api/models").respond_with_handler(fake)
    assert hub.census(census_settings, datetime(2026, 8, 1, tzinfo=UTC)).status == "failed"
    staged = query(
        census_settings,
        "SELECT p.page, r.path FROM hf_census_pages p JOIN raw_documents r USING (sha256) ORDER BY p.page",
    )
    assert [page for page, _ in staged] == [0, 1]
    assert [len(json.loads(archive.read(census_settings.data_dir, path))) for _, path in staged] == [1000, 1000]
    pack = census_settings.data_dir / staged[0][1].split("#")[0]
    whole = pack.read_bytes()
    pack.write_bytes(whole[:-1] + bytes([whole[-1] ^ 1]))  # one bit of the second page flipped
    fake.fail.clear()
    with pytest.raises(DamagedWarehouse, match=r"^archived census page raw/census/2026-08-01/\S+ is mismatched"):
        hub.census(census_settings, datetime(2026, 8, 1, 12, tzinfo=UTC))
    pack.write_bytes(whole)  # repaired, the census resumes from its two staged pages and counts each model once
    fake.requests.clear()
    assert hub.census(census_settings, datetime(2026, 8, 1, 13, tzinfo=UTC)).status == "ok"
    assert fake.requests == [2000, 3000]
    assert query(census_settings, "SELECT count(*), count(DISTINCT model_id) FROM hf_census_state") == [(3500, 3500)]


def test_a_listing_far_shorter_than_the_last_one_is_a_broken_source_not_an_exodus(
    census_settings: Settings, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/models").respond_with_handler(CensusHub(_models(3000)))
    assert hub.census(census_settings, datetime(2026, 8, 1, tzinfo=UTC)).status == "ok"
    httpserver.clear()
    short = CensusHub(_models(1000))  # the listing ends after one page
    httpserver.expect_request("/api/models").respond_with_handler(short)
    summary = hub.census(census_settings, datetime(2026, 8, 2, tzinfo=UTC))
    assert summary.outcomes[0].status == "suspect"
    assert summary.outcomes[0].error == (
        "the listing holds 1000 models, fewer than 50% of the 3000 of 2026-08-01: a broken listing, not applied; "
        "the next run starts the day over"
    )
    assert query(census_settings, "SELECT count(*) FROM hf_census_changes WHERE day = DATE '2026-08-02'") == [(0,)]
    assert query(census_settings, "SELECT count_if(listed) FROM hf_census_state") == [(3000,)]
    assert query(census_settings, "SELECT day::VARCHAR, status FROM hf_census_days") == [("2026-08-01", "complete")]
    httpserver.clear()
    whole = CensusHub(_models(3000, bump=1))
    httpserver.expect_request("/api/models").respond_with_handler(whole)
    assert hub.census(census_settings, datetime(2026, 8, 2, 12, tzinfo=UTC)).status == "ok"
    assert whole.requests == [0, 1000, 2000]  # started the day over
    assert query(census_settings, "SELECT models, unlisted FROM hf_census_days WHERE day = DATE '2026-08-02'") == [
        (3000, 0)
    ]


@pytest.mark.e2e
def test_the_cli_runs_a_census_through_prefect(httpserver: HTTPServer, tmp_path) -> None:
    httpserver.expect_request("/api/models").respond_with_handler(CensusHub(_models(5500)))
    env = {"HOME": str(tmp_path), "LLMFLATION_HUGGINGFACE_URL": httpserver.url_for("/api/models")}
    args = ("run", "--sources", "huggingface", "--census", "--as-of", "2026-08-01")
    done = cli(*args, env=env, cwd=tmp_path, timeout=300, embedded=True, terminal=True)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "huggingface census: ok (day=2026-08-01, status=complete, pages=6" in output, output
    assert "Traceback" not in output
    assert "census" in done.stderr and "6/?" in done.stderr and "pages" in done.stderr, done.stderr  # its progress
    settings = Settings(db=tmp_path / "data" / "llmflation.duckdb")
    assert query(settings, "SELECT count(*), count(DISTINCT model_id) FROM hf_census_state") == [(5500, 5500)]
    assert query(settings, "SELECT status, next_url, pages FROM hf_census_days") == [("complete", None, 6)]
