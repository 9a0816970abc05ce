"""Open-model adoption: replaying real Hub snapshots day by day, the daily series, imports, and broken days."""

from __future__ import annotations

import fnmatch
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from llmflation.flows import hub
from llmflation.flows.settings import Settings
from tests.helpers import ROOT, real_glob
from tests.ledger_helpers import query

AUTHORS = ("meta-llama", "Qwen", "deepseek-ai", "mistralai", "google", "microsoft")


class FakeHub:
    """Answers GET /api/models like the Hub: author filter, sort + limit, cursor pages with Link headers."""

    def __init__(self, models: list[dict], page_size: int = 50) -> None:
        self.models, self.page_size = models, page_size
        self.fail: dict[str, Response] = {}

    def __call__(self, request: Request) -> Response:
        args = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        for trigger, response in self.fail.items():
            if trigger in request.url:
                return response
        items = [m for m in self.models if "author" not in args or m["id"].split("/")[0] == args["author"]]
        if "sort" in args:
            items = sorted(items, key=lambda m: m.get(args["sort"]) or 0, reverse=True)[: int(args["limit"])]
            return Response(json.dumps(items), content_type="application/json")
        start = int(args.get("cursor", 0))
        page = items[start : start + self.page_size]
        headers = {}
        if start + self.page_size < len(items):
            base = request.base_url
            headers["Link"] = f'<{base}?author={args["author"]}&cursor={start + self.page_size}>; rel="next"'
        return Response(json.dumps(page), content_type="application/json", headers=headers)


@pytest.fixture
def hub_settings(settings: Settings, httpserver: HTTPServer) -> Settings:
    return settings.model_copy(
        update={
            "source_urls": {"huggingface": httpserver.url_for("/api/models")},
            "hf_authors": AUTHORS,
            "hf_top_downloads": 100,
            "hf_top_trending": 0,
            "hf_page_size": 50,
        }
    )


def _run_day(settings: Settings, as_of: datetime) -> hub.SourceOutcome:
    from llmflation.flows import ledger

    with ledger.recorded(settings, ["huggingface"], as_of, flow=hub.FLOW_NAME) as run:
        outcome = hub.ingest_hub(settings, run.run_id, run.as_of, *hub.fetch_hub(settings))
        run.outcomes.append(outcome)
    return outcome


def _family(repo_id: str) -> str | None:
    """Family by the patterns of warehouse/data/hf_families.csv, matched here with fnmatch (independent of SQL)."""
    rules = sorted(
        (int(p), pattern.replace("%", "*"), family)
        for p, pattern, family in (
            line.split(",") for line in (ROOT / "warehouse/data/hf_families.csv").read_text().split()[1:]
        )
    )
    return next((family for _, pattern, family in rules if fnmatch.fnmatchcase(repo_id.lower(), pattern)), None)


def test_replaying_real_daily_snapshots_gives_family_adoption(hub_settings: Settings, httpserver: HTTPServer) -> None:
    files = real_glob("hf/daily_snapshots_namhyeokwoo/*.json")
    expected: dict[tuple[str, str], list[int]] = {}
    tracked_totals: dict[str, int] = {}
    for path in files:
        day = json.loads(path.read_bytes())
        fake = FakeHub(day["models"])
        httpserver.clear()
        httpserver.expect_request("/api/models").respond_with_handler(fake)
        as_of = datetime.fromisoformat(day["date"]).replace(tzinfo=UTC, hour=6)
        outcome = _run_day(hub_settings, as_of)
        assert outcome.status == "ok", outcome
        # the direct computation: what the tracked lists select from the file, summed per family
        top = sorted(day["models"], key=lambda m: m["downloads"] or 0, reverse=True)[:100]
        tracked = {m["id"]: m for m in top} | {m["id"]: m for m in day["models"] if m["id"].split("/")[0] in AUTHORS}
        assert outcome.parsed == len(tracked)
        tracked_totals[day["date"]] = sum(m["downloads"] or 0 for m in tracked.values())
        for repo_id, model in tracked.items():
            family = _family(repo_id)
            if family:
                totals = expected.setdefault((day["date"], family), [0, 0])
                totals[0] += 1
                totals[1] += model["downloads"] or 0
    got = {
        (str(d), f): [m, int(dl)]
        for d, f, m, dl in query(hub_settings, "SELECT date, family, models, downloads_30d FROM family_adoption")
    }
    assert got == expected
    # these reduced snapshots carry no all-time counts, so no daily series is invented from them
    assert query(hub_settings, "SELECT count(daily_downloads) FROM model_downloads") == [(0,)]
    shares = dict(
        query(hub_settings, "SELECT CAST(date AS VARCHAR), sum(share_of_tracked) FROM family_adoption GROUP BY date")
    )
    for day, share in shares.items():
        family_total = sum(total for (d, _), (_, total) in expected.items() if d == day)
        assert share == pytest.approx(family_total / tracked_totals[day], abs=1e-5)


def _model(repo_id: str, d30: int, total: int | None, **extra) -> dict:
    return {"id": repo_id, "downloads": d30, "downloadsAllTime": total, "likes": 1, **extra}


def test_daily_downloads_are_consecutive_all_time_differences(hub_settings: Settings, httpserver: HTTPServer) -> None:
    base = "meta-llama/Llama-3.1-8B-Instruct"
    fine_tune = ("someone/llama-3.1-8b-tuned", {"tags": [f"base_model:finetune:{base}"]})
    days = [
        [_model(base, 3000, 10_000), _model(fine_tune[0], 30, 100, **fine_tune[1])],
        [_model(base, 3100, 10_150), _model(fine_tune[0], 35, 110, **fine_tune[1])],
        [_model(base, 3050, 10_100), _model(fine_tune[0], 40, 500, **fine_tune[1])],  # count went down; jump
    ]
    for i, models in enumerate(days):
        httpserver.clear()
        httpserver.expect_request("/api/models").respond_with_handler(FakeHub(models))
        assert _run_day(hub_settings, datetime(2026, 8, 10 + i, 6, tzinfo=UTC)).status == "ok"
    rows = query(
        hub_settings,
        "SELECT strftime(snapshot_date, '%d'), repo_id, family, daily_downloads, anomaly "
        "FROM model_downloads ORDER BY ALL",
    )
    assert rows == [
        ("10", base, "llama", None, None),
        ("10", fine_tune[0], "llama", None, None),
        ("11", base, "llama", 150, None),
        ("11", fine_tune[0], "llama", 10, None),
        ("12", base, "llama", None, "negative"),
        ("12", fine_tune[0], "llama", None, "exceeds_30d"),
    ]
    adoption = query(
        hub_settings,
        "SELECT strftime(date, '%d'), models, derivatives, daily_downloads FROM family_adoption ORDER BY 1",
    )
    assert adoption == [("10", 1, 1, None), ("11", 1, 1, 160), ("12", 1, 1, None)]
    derivatives = query(
        hub_settings,
        "SELECT strftime(date, '%d'), base_model, derivatives, finetunes FROM base_model_derivatives ORDER BY 1",
    )
    assert derivatives == [(day, base, 1, 1) for day in ("10", "11", "12")]


def test_a_rerun_the_same_day_replaces_and_duplicates_nothing(hub_settings: Settings, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/models").respond_with_handler(FakeHub([_model("Qwen/Qwen3-8B", 10, 100)]))
    first = _run_day(hub_settings, datetime(2026, 8, 10, 6, tzinfo=UTC))
    httpserver.clear()
    httpserver.expect_request("/api/models").respond_with_handler(FakeHub([_model("Qwen/Qwen3-8B", 99, 999)]))
    again = _run_day(hub_settings, datetime(2026, 8, 10, 18, tzinfo=UTC))
    assert (first.loaded, again.loaded) == (1, 0)
    assert query(hub_settings, "SELECT downloads_30d FROM hf_model_snapshots") == [(10,)]


@pytest.mark.parametrize("failure", ["http_500", "truncated"])
def test_a_broken_page_loads_nothing_for_the_day(hub_settings: Settings, httpserver: HTTPServer, failure) -> None:
    models = [_model(f"Qwen/model-{i}", i, i * 10) for i in range(120)]  # three author pages
    fake = FakeHub(models)
    fake.fail["cursor=100"] = (
        Response("down", status=500) if failure == "http_500" else Response('[{"id": "Qwen/x", "downl')
    )
    httpserver.expect_request("/api/models").respond_with_handler(fake)
    outcome = _run_day(
        hub_settings.model_copy(update={"http_retries": 1, "http_backoff": 0.01}), datetime(2026, 8, 10, tzinfo=UTC)
    )
    assert outcome.status == ("failed" if failure == "http_500" else "suspect")
    assert outcome.error.endswith("nothing loaded")
    assert query(hub_settings, "SELECT count(*) FROM hf_model_snapshots") == [(0,)]
    # every page that did arrive is archived, so the day can be re-parsed
    assert (
        query(hub_settings, "SELECT count(*) FROM fetches WHERE source = 'huggingface' AND sha256 IS NOT NULL")[0][0]
        >= 2
    )


def test_importing_saved_snapshots_keeps_their_dates_and_is_idempotent(settings: Settings) -> None:
    daily = real_glob("hf/daily_snapshots_namhyeokwoo/*.json")
    monthly = real_glob("hf/monthly_downloads_kblab/*.csv")
    summary = hub.import_files(settings, [daily[0].parent, monthly[0].parent])
    assert summary.status == "ok"
    expected_daily = sum(len({m["id"] for m in json.loads(p.read_bytes())["models"]}) for p in daily)
    expected_monthly = sum(len(p.read_text().strip().splitlines()) - 1 for p in monthly)
    loaded = dict(
        query(
            settings,
            "SELECT source_count.kind, source_count.n FROM (SELECT CASE WHEN "
            "downloads_all_time IS NULL AND likes IS NULL THEN 'monthly' ELSE 'daily' END kind, "
            "count(*) n FROM hf_model_snapshots GROUP BY 1) source_count",
        )
    )
    assert loaded == {"daily": expected_daily, "monthly": expected_monthly}
    dates = {str(d) for (d,) in query(settings, "SELECT DISTINCT snapshot_date FROM hf_model_snapshots")}
    assert {json.loads(p.read_bytes())["date"] for p in daily} <= dates
    assert {p.name[:10] for p in monthly} <= dates
    again = hub.import_files(settings, [daily[0].parent, monthly[0].parent])
    assert again.outcomes[0].loaded == 0


def test_hf_token_is_sent_but_never_stored_or_shown(hub_settings: Settings, httpserver: HTTPServer) -> None:
    token = "hf_secret_token_value_123"
    seen = []

    def handler(request: Request) -> Response:
        seen.append(request.headers.get("Authorization"))
        return Response(json.dumps([_model("Qwen/Qwen3-8B", 10, 100)]), content_type="application/json")

    httpserver.expect_request("/api/models").respond_with_handler(handler)
    settings = hub_settings.model_copy(update={"hf_token": token})
    assert _run_day(settings, datetime(2026, 8, 10, tzinfo=UTC)).status == "ok"
    assert seen and set(seen) == {f"Bearer {token}"}
    assert token not in repr(settings)
    dump = Path(settings.db).read_bytes()
    assert token.encode() not in dump


def test_import_command(settings: Settings) -> None:
    import subprocess
    import sys

    daily = real_glob("hf/daily_snapshots_namhyeokwoo/*.json")[:2]
    args = [sys.executable, "-m", "llmflation", "import", "hf-snapshots", *map(str, daily), "--db", str(settings.db)]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    rows = sum(len(json.loads(p.read_bytes())["models"]) for p in daily)
    assert (done.returncode, done.stdout) == (
        0,
        f"imported {rows} snapshot rows ({rows} new, 0 rejected) from 2 path(s): ok\n",
    )
    again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.stdout == f"imported {rows} snapshot rows (0 new, 0 rejected) from 2 path(s): ok\n"


@pytest.mark.e2e
def test_run_sources_huggingface_through_prefect(httpserver: HTTPServer, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    httpserver.expect_request("/api/models").respond_with_handler(
        FakeHub([_model("Qwen/Qwen3-8B", 10, 100), _model("meta-llama/Llama-3.1-8B", 20, 200)])
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LLMFLATION_"))}
    env.update(
        HOME=str(tmp_path),
        LLMFLATION_HUGGINGFACE_URL=httpserver.url_for("/api/models"),
        LLMFLATION_HF_AUTHORS="Qwen,meta-llama",
    )
    done = subprocess.run(
        [sys.executable, "-m", "llmflation", "run", "--sources", "huggingface", "--as-of", "2026-08-10T06:00:00Z"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "huggingface: ok, 2 models, 2 new snapshot rows" in done.stdout + done.stderr
    settings = Settings(db=tmp_path / "data" / "llmflation.duckdb")
    assert query(settings, "SELECT family, models, downloads_30d FROM family_adoption ORDER BY family") == [
        ("llama", 1, 20),
        ("qwen", 1, 10),
    ]
