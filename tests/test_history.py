"""The incremental history fold over long real histories: equal to the full rebuild, exact, idempotent, quiet."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from llmflation.flows import backfill
from llmflation.flows.settings import Settings
from llmflation.warehouse import db, history
from tests.helpers import openrouter_body, payload, real, ts
from tests.ledger_helpers import openrouter_payload, query, run_once

FILE = "model_prices_and_context_window.json"
# the four token metrics, as LiteLLM's field names state them, written out here independently of the parser
FIELDS = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cached_input",
    "input_cost_per_token_cache_hit": "cached_input",  # DeepSeek's name for the same price
    "cache_creation_input_token_cost": "cache_write",
}
SEGMENTS = "SELECT * EXCLUDE (missing_runs), missing_runs FROM price_segments ORDER BY ALL"
EVENTS = (
    "SELECT event_id, event_type, effective_at, provider, provider_model_id, metric, tier, region, "
    "old_usd_per_mtok, new_usd_per_mtok FROM price_events ORDER BY ALL"
)


@pytest.fixture(scope="module")
def litellm_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of the real LiteLLM history bundle (640 versions of the price map)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    clone = tmp_path_factory.mktemp("history") / "llm-api-price"
    subprocess.run(["git", "clone", "-q", str(real("history/llm-api-price.bundle")), str(clone)], check=True)
    return clone


def _full_rebuild(settings: Settings) -> list[tuple]:
    con = db.connect(settings.db)
    try:
        with db.transaction(con):
            for source in history.sources_with_history(con):
                history.rebuild(con, source, settings.removal_runs)
        return con.execute(SEGMENTS).fetchall()
    finally:
        con.close()


def _import(settings: Settings, clone: Path, since: str, until: str) -> list[backfill.Document]:
    documents = backfill.from_git("litellm", clone, FILE)
    results = backfill.import_documents(settings, "litellm", documents, since=ts(since), until=ts(until))
    assert results and all(what.startswith("ok") for _, what in results), results[:3]
    return [document for document, _ in results]


def _direct_diff(documents: list[backfill.Document], removal_runs: int) -> Counter:
    """(event type, metric, old, new, when) of every change between consecutive versions, read from the JSON."""
    last: dict[tuple[str, str], tuple[int, Decimal]] = {}
    changes: Counter = Counter()
    for index, document in enumerate(documents):
        (content,) = [p.content for p in document.read()]
        for key, entry in json.loads(content).items():
            if not isinstance(entry, dict) or key == "sample_spec" or not entry.get("litellm_provider"):
                continue
            stated: dict[str, set[Decimal]] = {}
            for field, metric in FIELDS.items():
                raw = entry.get(field)
                if not isinstance(raw, bool) and isinstance(raw, int | float) and raw >= 0:
                    stated.setdefault(metric, set()).add((Decimal(repr(raw)) * 1_000_000).normalize())
            for metric, values in stated.items():
                if len(values) > 1:
                    continue  # two fields of one entry stating different prices: not a price
                (value,) = values
                seen = last.get((key, metric))
                if seen and seen[1] != value and index - seen[0] <= removal_runs:
                    old = seen[1]
                    if old > 0 and value > 0 and max(old / value, value / old) >= 100:
                        kind = "suspected_unit_error"
                    else:
                        kind = "price_cut" if value < old else "price_increase"
                    changes[(kind, metric, old, value, document.as_of)] += 1
                last[(key, metric)] = (index, value)
    return changes


def test_a_real_history_folded_run_by_run_equals_the_full_rebuild_and_a_direct_diff(
    settings: Settings, litellm_history: Path
) -> None:
    documents = _import(settings, litellm_history, "2025-12-26T00:00", "2026-01-16T00:00")
    assert len(documents) >= 25
    incremental = query(settings, SEGMENTS)
    assert incremental == _full_rebuild(settings)

    recorded = Counter(
        (kind, metric, Decimal(old).normalize(), Decimal(new).normalize(), at)
        for kind, metric, old, new, at in query(
            settings,
            "SELECT event_type, metric, evidence->>'old_amount', evidence->>'new_amount', effective_at "
            "FROM price_events WHERE event_type IN ('price_cut', 'price_increase', 'suspected_unit_error') "
            "AND tier = 'standard' AND metric IN ('input', 'output', 'cached_input', 'cache_write') "
            "AND evidence->>'old_amount' IS NOT NULL",  # a change between versions, not a price judged alone
        )
    )
    expected = _direct_diff(documents, settings.removal_runs)
    assert sum(expected.values()) > 50
    assert recorded == expected
    # the same history imported again is skipped whole and records nothing
    before = query(settings, "SELECT count(*) FROM events")
    again = backfill.import_documents(
        settings,
        "litellm",
        backfill.from_git("litellm", litellm_history, FILE),
        since=ts("2025-12-26T00:00"),
        until=ts("2026-01-16T00:00"),
    )
    assert {what for _, what in again} == {"already imported"}
    assert query(settings, "SELECT count(*) FROM events") == before


def test_a_shuffled_replay_with_repeats_ends_with_the_ordered_history_and_events(
    tmp_path: Path, litellm_history: Path
) -> None:
    documents = [
        d
        for d in backfill.from_git("litellm", litellm_history, FILE)
        if ts("2026-01-08T00:00") <= d.as_of <= ts("2026-01-15T00:00")
    ][:12]
    assert len(documents) == 12
    ordered = Settings(db=tmp_path / "ordered" / "w.duckdb")
    shuffled = Settings(db=tmp_path / "shuffled" / "w.duckdb")
    for document in documents:
        run_once(ordered, "litellm", document.read(), document.as_of)
    order = documents + documents[3:6]  # three reruns at the same as-of time
    random.Random(13).shuffle(order)
    for document in order:
        run_once(shuffled, "litellm", document.read(), document.as_of)
    assert query(shuffled, SEGMENTS) == query(ordered, SEGMENTS)
    assert query(shuffled, EVENTS) == query(ordered, EVENTS)
    assert query(ordered, "SELECT count(*) FROM price_events WHERE event_type = 'suspected_unit_error'")[0][0] > 0


def test_rerunning_a_run_or_replaying_its_payload_records_nothing(settings: Settings) -> None:
    first = openrouter_body(real("openrouter/openrouter_models_2025-12-29.json"))
    second = openrouter_body(real("openrouter/openrouter_models_2026-04-20.json"))
    run_once(settings, "openrouter", payload("openrouter", first), ts("2025-12-29T18:00"))
    run_once(settings, "openrouter", payload("openrouter", second), ts("2026-04-20T08:00"))
    events = query(settings, EVENTS)
    segments = query(settings, SEGMENTS)
    for _ in range(5):  # the same runs replayed five times, at their own as-of times
        run_once(settings, "openrouter", payload("openrouter", first), ts("2025-12-29T18:00"))
        run_once(settings, "openrouter", payload("openrouter", second), ts("2026-04-20T08:00"))
    assert query(settings, EVENTS) == events and query(settings, SEGMENTS) == segments
    for day in range(21, 24):  # the same payload on later nights: what the first snapshot alone listed is removed
        run_once(settings, "openrouter", payload("openrouter", second), ts(f"2026-04-{day}T08:00"))
    removed = query(settings, EVENTS)
    assert {row[1] for row in set(removed) - set(events)} == {"offer_removed"}
    for day in range(24, 27):
        run_once(settings, "openrouter", payload("openrouter", second), ts(f"2026-04-{day}T08:00"))
    assert query(settings, EVENTS) == removed
    free = query(
        settings,
        "SELECT count(*) FROM price_events WHERE event_type = 'all_time_low' AND provider_model_id LIKE '%:free'",
    )
    assert free == [(0,)]


def test_all_time_lows_are_paid_standard_prices_that_beat_every_earlier_one(settings: Settings) -> None:
    def run(prices: dict[str, str], day: int) -> None:
        body = {pid: {"prompt": price, "completion": "0.000002"} for pid, price in prices.items()}
        run_once(settings, "openrouter", openrouter_payload(body), ts(f"2026-01-0{day}T00:00"))

    run({"x/a": "0.000004", "x/a:free": "0"}, 1)
    run({"x/a": "0.000003", "x/a:free": "0"}, 2)  # a new low
    run({"x/a": "0.000004", "x/a:free": "0"}, 3)
    run({"x/a": "0.000003", "x/a:free": "0"}, 4)  # a tie with the earlier low: not a new one
    lows = query(
        settings,
        "SELECT provider_model_id, effective_at, new_usd_per_mtok FROM price_events "
        "WHERE event_type = 'all_time_low' AND metric = 'input'",
    )
    assert lows == [("x/a", ts("2026-01-02T00:00"), Decimal(3))]
    assert query(settings, "SELECT count(*) FROM price_disagreements WHERE provider_model_id_a LIKE '%:free'") == [(0,)]


def test_a_free_variant_is_never_compared_with_a_paid_offer(settings: Settings) -> None:
    litellm = {"x/a": {"litellm_provider": "openrouter", "input_cost_per_token": 3e-06, "output_cost_per_token": 6e-06}}
    run_once(settings, "litellm", payload("litellm", litellm), ts("2026-01-01T00:00"))
    body = {"x/a:free": {"prompt": "0", "completion": "0"}, "x/a": {"prompt": "0.000003", "completion": "0.000006"}}
    run_once(settings, "openrouter", openrouter_payload(body), ts("2026-01-01T00:00"))
    rows = query(settings, "SELECT provider_model_id_a, provider_model_id_b FROM price_disagreements")
    assert all(":free" not in a and ":free" not in b for a, b in rows), rows


def test_an_import_changes_neither_the_live_status_nor_the_news(settings: Settings, tmp_path: Path) -> None:
    live = settings.model_copy(update={"source_urls": {"litellm": "http://127.0.0.1:9/nothing-listens-here"}})
    from llmflation.flows.pipeline import run_prices

    first = run_prices(live, ["litellm"], ts("2026-07-20T00:00"))  # a first run that fails: a baseline
    assert first.status == "failed"
    broken = query(settings, "SELECT news FROM price_events WHERE event_type = 'source_broken'")
    assert broken == [(False,)]
    status = query(settings, "SELECT source, status, last_run_id FROM source_health")
    bad = tmp_path / "model_prices_2026-07-01.json"
    bad.write_text("{not json")
    good = real("litellm/model_prices_2025-09-15.json")
    results = backfill.import_documents(settings, "litellm", backfill.from_paths("litellm", [bad, good]))
    assert [what.split(":")[0] for _, what in results] == ["ok", "suspect"]  # oldest first
    assert query(settings, "SELECT source, status, last_run_id FROM source_health") == status
    assert query(settings, "SELECT count(*) FROM price_events WHERE news") == [(0,)]
    future = backfill.from_paths("litellm", [good], as_of=ts("2099-01-01T00:00"))
    with pytest.raises(backfill.BackfillError, match="in the future; nothing was imported"):
        backfill.import_documents(settings, "litellm", future)


def test_a_migrated_warehouse_gets_segments_the_incremental_fold_can_continue(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = db.migrations()
    monkeypatch.setattr(db, "migrations", lambda: [m for m in shipped if m[0] <= 5])
    views = db.view_sql()
    monkeypatch.setattr(db, "view_sql", lambda: [])
    con = db.connect(settings.db)
    try:  # a warehouse of the 0005 layout with one source's applied run
        con.execute(
            "INSERT INTO source_runs (run_id, source, observed_at, started_at, status, applied) VALUES "
            "('r1', 'openrouter', TIMESTAMPTZ '2026-01-01', TIMESTAMPTZ '2026-01-01', 'ok', true)"
        )
        con.execute(
            "INSERT INTO observations VALUES ('r1', 'openrouter', TIMESTAMPTZ '2026-01-01', 'openrouter', 'x/a', "
            "'x/a', 'default', 'standard', 'input', 'mtok', 'USD', 1, NULL, NULL, 'sha')"
        )
    finally:
        con.close()
    monkeypatch.setattr(db, "migrations", lambda: shipped)
    monkeypatch.setattr(db, "view_sql", lambda: views)
    db.connect(settings.db).close()
    assert query(settings, "SELECT provider_model_id, amount, latest FROM price_segments") == [
        ("x/a", Decimal("1.000000000000000000"), True)
    ]
    run_once(settings, "openrouter", openrouter_payload({"x/a": {"prompt": "0.000002"}}), ts("2026-01-02T00:00"))
    assert query(settings, SEGMENTS) == _full_rebuild(settings)
    assert query(settings, "SELECT event_type FROM price_events WHERE provider_model_id = 'x/a'") == [
        ("price_increase",)
    ]


def test_the_rebuild_command_repairs_a_damaged_history(settings: Settings) -> None:
    from tests.helpers import cli

    run_once(settings, "openrouter", openrouter_payload({"x/a": {"prompt": "0.000001"}}), ts("2026-01-01T00:00"))
    run_once(settings, "openrouter", openrouter_payload({"x/a": {"prompt": "0.000002"}}), ts("2026-01-02T00:00"))
    good = query(settings, SEGMENTS)
    con = db.connect(settings.db)
    con.execute("DELETE FROM price_segments")
    con.close()
    done = cli("rebuild", "--sources", "openrouter", "--db", str(settings.db))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "openrouter: 2 segments rebuilt from 2 runs\n"
    assert query(settings, SEGMENTS) == good
    done = cli("rebuild", "--sources", "nosuch", "--db", str(settings.db))
    assert done.returncode == 1 and done.stderr.startswith("error: ")


def test_a_rule_with_min_runs_alerts_only_prices_that_held_and_never_a_flap(settings: Settings) -> None:
    from llmflation.flows import alerts
    from llmflation.flows.alert_config import AlertConfig

    changes = ["price_cut", "price_increase"]
    config = AlertConfig.model_validate(
        {
            "channels": {"now": {"url": "json://127.0.0.1:9/"}, "held": {"url": "json://127.0.0.1:9/"}},
            "rules": [
                {"name": "at once", "events": changes, "channels": ["now"]},
                {"name": "held two runs", "events": changes, "min_runs": 2, "channels": ["held"]},
            ],
        }
    )
    # 4 for two runs, a one-run dip to 3 and back, then a cut to 2 that holds
    series = ["0.000004", "0.000004", "0.000003", "0.000004", "0.000004", "0.000002", "0.000002", "0.000002"]
    for day, price in enumerate(series, start=1):
        as_of = ts(f"2026-01-{day:02d}T00:00")
        summary = run_once(settings, "openrouter", openrouter_payload({"x/a": {"prompt": price}}), as_of)
        con = db.connect(settings.db)
        try:
            alerts.enqueue(con, summary.run_id, config, as_of)
        finally:
            con.close()
    queued = query(
        settings,
        "SELECT d.channel, e.event_type, e.evidence->>'old_amount', e.evidence->>'new_amount', e.changes_30d, "
        "p.held_runs, p.reverted_runs FROM alert_deliveries d JOIN price_events e USING (event_id) "
        "JOIN event_persistence p USING (event_id) ORDER BY d.channel, e.effective_at",
    )
    shown = [(c, t, f"{Decimal(o).normalize()}->{Decimal(n).normalize()}", *rest) for c, t, o, n, *rest in queued]
    assert shown == [
        ("held", "price_cut", "4->2", 2, 3, None),
        ("now", "price_cut", "4->3", 0, 1, None),
        ("now", "price_increase", "3->4", 1, 2, 1),  # undoes a dip that held one run
        ("now", "price_cut", "4->2", 2, 3, None),
    ]


def _scaled(body: bytes, factor: int) -> bytes:
    """An OpenRouter body with every real price multiplied (placeholders and zeros kept)."""
    data = json.loads(body)
    for model in data["data"]:
        model["pricing"] = {k: v if Decimal(v) <= 0 else str(Decimal(v) * factor) for k, v in model["pricing"].items()}
    return json.dumps(data).encode()


def test_a_whole_page_in_another_unit_is_a_broken_source_not_939_unit_errors(
    settings: Settings, httpserver: HTTPServer
) -> None:
    from llmflation.flows.pipeline import run_prices

    body = openrouter_body(real("openrouter/openrouter_models_2026-04-20.json"))
    live = settings.model_copy(update={"source_urls": {"openrouter": httpserver.url_for("/api/v1/models")}})
    days = [("2026-04-20T08:00", body), ("2026-04-21T08:00", _scaled(body, 1000)), ("2026-04-22T08:00", body)]
    statuses = []
    for day, served in days:
        httpserver.clear()
        httpserver.expect_request("/api/v1/models").respond_with_data(served, content_type="application/json")
        statuses.append(run_prices(live, ["openrouter"], ts(day)).outcomes[0])
    assert [o.status for o in statuses] == ["ok", "suspect", "ok"]
    assert "moved by 100x or more at once" in (statuses[1].error or "")
    after_first = query(settings, "SELECT run_id FROM runs ORDER BY as_of")[0][0]
    later = query(
        settings,
        "SELECT event_type, news FROM price_events WHERE run_id IS DISTINCT FROM ? ORDER BY ALL",
        [after_first],
    )
    assert later == [("source_broken", True)]
    assert query(settings, "SELECT status FROM source_health") == [("ok",)]


def _fixed_by_1000x(documents: list[backfill.Document]) -> dict[tuple[str, str, Decimal], datetime]:
    """(key, metric, wrong value) -> when it was first listed, for every price a later version fixed by 1,000x or
    more, read from the JSON."""
    first_listed: dict[tuple[str, str, Decimal], datetime] = {}
    last: dict[tuple[str, str], Decimal] = {}
    fixed = {}
    for document in documents:
        (content,) = [p.content for p in document.read()]
        for key, entry in json.loads(content).items():
            if not isinstance(entry, dict) or not entry.get("litellm_provider"):
                continue
            for field in ("input_cost_per_token", "output_cost_per_token"):
                raw = entry.get(field)
                if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
                    continue
                value = (Decimal(repr(raw)) * 1_000_000).normalize()
                metric = FIELDS[field]
                first_listed.setdefault((key, metric, value), document.as_of)
                old = last.get((key, metric))
                if old is not None and max(old / value, value / old) >= 1000:
                    fixed[(key, metric, old)] = first_listed[(key, metric, old)]
                last[(key, metric)] = value
    return fixed


@pytest.mark.parametrize(
    ("since", "fix", "until", "judged"),
    [
        ("2025-10-05T00:00", "2025-10-17T21:00", "2025-10-19T00:00", 4),  # watsonx, fixed 2025-10-17
        ("2026-01-08T00:00", "2026-01-13T22:00", "2026-01-15T00:00", 40),  # Novita, fixed 2026-01-13
    ],
)
def test_values_later_fixed_by_1000x_are_held_out_from_the_run_that_first_shows_them(
    settings: Settings, litellm_history: Path, since: str, fix: str, until: str, judged: int
) -> None:
    documents = _import(settings, litellm_history, since, fix)
    fixed = _fixed_by_1000x(documents + _import(settings, litellm_history, fix, until))
    assert len(fixed) >= 10
    found = {
        (pid, metric, amount.normalize()): (plausible, valid_from, against)
        for pid, metric, amount, plausible, valid_from, against in query(
            settings,
            "SELECT provider_model_id, metric, amount, plausible, valid_from, judged_against FROM price_segments "
            "WHERE tier = 'standard' AND region = 'default'",
        )
    }
    held = {key: found[key] for key in fixed}
    # every one is implausible from the run that first listed it (the first run of the window, or later)
    assert all(not plausible and at == fixed[key] for key, (plausible, at, _) in held.items()), held
    with_others = [key for key, (_, _, against) in held.items() if against == "other offers"]
    alone = [key for key, (_, _, against) in held.items() if against == "its provider's prices in the same run"]
    assert len(with_others) >= judged and len(with_others) + len(alone) == len(held), held
    # each raised one suspected_unit_error naming what it was judged against
    named = query(
        settings,
        "SELECT provider_model_id, metric, (evidence->>'new_amount')::DECIMAL(38, 18), evidence->>'judged_against', "
        "evidence->'other_sources' FROM price_events WHERE event_type = 'suspected_unit_error' "
        "AND evidence->>'old_amount' IS NULL",
    )
    by_value = {(pid, metric, amount.normalize()): (against, others) for pid, metric, amount, against, others in named}
    assert all(by_value[key] == ("other offers", '["litellm"]') for key in with_others), by_value
    # a first price no other offer priced is held with its provider's prices of the same run, most of them wrong
    assert all(by_value.get(key) == ("its provider's prices in the same run", "null") for key in alone), [
        (key, by_value.get(key))
        for key in alone
        if by_value.get(key) != ("its provider's prices in the same run", "null")
    ]
    print(f"{len(with_others)} values judged against other offers, {len(alone)} with their provider's run")
    # the correction that follows is believed, whatever the wrong value was judged against
    offers = {(pid, metric) for pid, metric, _ in fixed}
    corrected = [v for (pid, metric, _), v in found.items() if (pid, metric) in offers and v[1] >= ts(fix)]
    assert len(corrected) >= len(offers) // 2 and all(plausible for plausible, _, _ in corrected), corrected
    # none of them reaches a derived view or a low: the views equal those of the same history without them
    views = [  # of equal prices, the views name the same offer every time
        "SELECT * FROM open_vs_closed ORDER BY ALL",
        "SELECT * FROM cheapest_at_capability('mmlu', 42, 1, 1) ORDER BY ALL",
        "SELECT * FROM monthly_prices ORDER BY ALL",
    ]
    lows = query(
        settings,
        "SELECT count(*) FROM price_events e JOIN price_segments s ON s.provider_model_id = e.provider_model_id "
        "AND s.metric = e.metric AND s.valid_from = e.effective_at AND NOT s.plausible "
        "WHERE e.event_type = 'all_time_low'",
    )
    assert lows == [(0,)]
    before = [query(settings, sql) for sql in views]
    con = db.connect(settings.db)
    try:
        con.execute("DELETE FROM price_segments WHERE NOT plausible")
    finally:
        con.close()
    assert [query(settings, sql) for sql in views] == before


def test_a_price_with_nothing_to_be_judged_against_follows_its_providers_run(settings: Settings) -> None:
    def entry(provider: str, usd_per_mtok: float) -> dict:
        return {"litellm_provider": provider, "input_cost_per_token": usd_per_mtok / 1e6}

    reference = {f"together_ai/qwen/qwen3-{size}": entry("together_ai", 0.1) for size in ("8b", "14b", "32b")}
    hosted = [f"hostz/qwen/qwen3-{size}" for size in ("8b", "14b", "32b")]
    days = [
        {"hostz/acme/solo-7b": entry("hostz", 100), "hosty/acme/lone-7b": entry("hosty", 0.1)},  # alone: believed
        # hostz adds three models others price at 0.1 in the wrong unit: held against the others
        {"hostz/acme/solo-7b": entry("hostz", 100), **{k: entry("hostz", 100) for k in hosted}},
        # hostz corrects them all at once; hosty's lone price jumps by 1,000x with no run to follow
        {"hostz/acme/solo-7b": entry("hostz", 0.1), **{k: entry("hostz", 0.1) for k in hosted}},
        {"hostz/acme/solo-7b": entry("hostz", 0.1), **{k: entry("hostz", 0.1) for k in hosted}},
    ]
    days[2]["hosty/acme/lone-7b"] = days[3]["hosty/acme/lone-7b"] = entry("hosty", 100)
    days[1]["hosty/acme/lone-7b"] = entry("hosty", 0.1)
    for day, listed in enumerate(days, start=1):
        run_once(settings, "litellm", payload("litellm", {**reference, **listed}), ts(f"2026-03-0{day}T00:00"))
    judged = query(
        settings,
        "SELECT provider_model_id, amount::DOUBLE, plausible, judged_against FROM price_segments "
        "WHERE provider IN ('hostz', 'hosty') ORDER BY provider_model_id, valid_from",
    )
    expected = [
        ("hostz/acme/solo-7b", 100.0, True, None),  # its first price: nothing to judge it against
        ("hostz/acme/solo-7b", 0.1, True, "its provider's prices in the same run"),  # corrected with its run
        ("hosty/acme/lone-7b", 0.1, True, None),
        ("hosty/acme/lone-7b", 100.0, False, "its previous value"),  # a lone jump, held
    ]
    for key in hosted:
        expected += [(key, 100.0, False, "other offers"), (key, 0.1, True, "other offers")]
    assert sorted(judged) == sorted(expected)
    before = query(settings, SEGMENTS)
    assert _full_rebuild(settings) == before


def test_a_git_import_shows_progress_on_a_terminal_and_only_its_lines_in_a_pipe_as_one_flow_run(
    tmp_path: Path, litellm_history: Path
) -> None:
    from tests.helpers import cli

    window = ["--since", "2025-02-06T00:00", "--until", "2025-02-07T01:00"]  # four versions
    args = ["import", "prices", "litellm", "--git", str(litellm_history), "--file", FILE, *window]
    piped = cli(*args, "--db", str(tmp_path / "piped.duckdb"))
    assert piped.returncode == 0 and piped.stderr == "", piped.stderr  # Prefect's own lines only with -v
    # with -v, Prefect's lines of the flow run named from what it imports
    verbose = cli("-v", *args, "--db", str(tmp_path / "verbose.duckdb"))
    assert verbose.returncode == 0 and "Traceback" not in verbose.stderr, verbose.stderr
    assert "Flow run 'import-litellm-4-versions' - Finished in state Completed()" in verbose.stderr, verbose.stderr
    lines = piped.stdout.splitlines()
    assert len(lines) == 4 and all(" (commit): ok: " in line for line in lines), lines
    shown = cli(*args, "--db", str(tmp_path / "terminal.duckdb"), terminal=True)
    assert shown.returncode == 0
    assert "importing litellm" in shown.stderr and "4/4" in shown.stderr and "versions" in shown.stderr, shown.stderr
    assert len(shown.stdout.splitlines()) == 4


def test_an_interrupted_import_resumes_where_it_stopped(tmp_path: Path, litellm_history: Path) -> None:
    import os
    import signal
    import sys

    from tests.helpers import ROOT

    window = ["--since", "2025-02-06T00:00", "--until", "2025-02-07T06:00"]  # eight versions
    db_path = tmp_path / "w.duckdb"
    args = [sys.executable, "-m", "llmflation", "import", "prices", "litellm", "--git", str(litellm_history)]
    args += ["--file", FILE, *window, "--db", str(db_path)]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LLMFLATION_")}
    child = subprocess.Popen(args, cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout is not None
    first = [child.stdout.readline(), child.stdout.readline(), child.stdout.readline()]
    child.send_signal(signal.SIGKILL)  # killed, mid-import, after its third version
    child.wait()
    child.stdout.close()
    assert all(" (commit): ok: " in line for line in first), first
    again = subprocess.run(args, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    skipped = sum(1 for line in lines if line.endswith("already imported"))
    assert len(lines) == 8 and 3 <= skipped < 8, again.stdout
    whole = Settings(db=tmp_path / "whole.duckdb")
    _import(whole, litellm_history, "2025-02-06T00:00", "2025-02-07T06:00")
    resumed = Settings(db=db_path)
    assert query(resumed, SEGMENTS) == query(whole, SEGMENTS)
    assert query(resumed, "SELECT count(*) FROM source_runs WHERE status = 'ok'") == [(8,)]
