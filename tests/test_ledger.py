"""The ledger's invariants (DESIGN.md): bitemporal history, missing is not removed, broken is not a market event."""

from __future__ import annotations

from decimal import Decimal

from llmflation.extractors.errors import FetchError
from llmflation.flows.settings import Settings
from tests.helpers import payload, ts
from tests.ledger_helpers import history, openrouter_payload, query, run_once

A = {"prompt": "0.000001", "completion": "0.000002"}
A_CUT = {"prompt": "0.0000005", "completion": "0.000002"}
B = {"prompt": "0.000003", "completion": "0.000004"}


def test_a_price_change_closes_the_old_value_and_opens_the_new(settings: Settings) -> None:
    run_once(settings, "openrouter", openrouter_payload({"x/a": A, "x/b": B}), ts("2026-01-01T00:00"))
    run_once(settings, "openrouter", openrouter_payload({"x/a": A_CUT, "x/b": B}), ts("2026-01-02T00:00"))
    rows = [r for r in history(settings) if r[1] == "input"]
    assert rows == [
        ("x/a", "input", "standard", Decimal("0.5"), ts("2026-01-02T00:00"), None, 0),
        ("x/a", "input", "standard", Decimal("1"), ts("2026-01-01T00:00"), ts("2026-01-02T00:00"), 0),
        ("x/b", "input", "standard", Decimal("3"), ts("2026-01-01T00:00"), None, 0),
    ]
    last_seen = query(settings, "SELECT max(last_seen_at) FROM price_history WHERE provider_model_id = 'x/b'")
    assert last_seen == [(ts("2026-01-02T00:00"),)]


def test_missing_is_not_removed_until_three_healthy_runs(settings: Settings) -> None:
    run_once(settings, "openrouter", openrouter_payload({"x/a": A, "x/b": B}), ts("2026-01-01T00:00"))
    for day in (2, 3):
        run_once(settings, "openrouter", openrouter_payload({"x/a": A}), ts(f"2026-01-0{day}T00:00"))
    b_rows = [r for r in history(settings) if r[0] == "x/b" and r[1] == "input"]
    assert b_rows == [("x/b", "input", "standard", Decimal("3"), ts("2026-01-01T00:00"), None, 2)]
    run_once(settings, "openrouter", openrouter_payload({"x/a": A}), ts("2026-01-04T00:00"))
    b_rows = [r for r in history(settings) if r[0] == "x/b" and r[1] == "input"]
    # removed after the third absence; valid until the first run that no longer saw it
    assert b_rows == [("x/b", "input", "standard", Decimal("3"), ts("2026-01-01T00:00"), ts("2026-01-02T00:00"), 3)]
    assert query(settings, "SELECT DISTINCT end_reason FROM price_history WHERE provider_model_id = 'x/b'") == [
        ("removed",)
    ]


def test_an_offer_back_within_the_grace_period_is_one_unbroken_row(settings: Settings) -> None:
    run_once(settings, "openrouter", openrouter_payload({"x/a": A, "x/b": B}), ts("2026-01-01T00:00"))
    run_once(settings, "openrouter", openrouter_payload({"x/a": A}), ts("2026-01-02T00:00"))
    run_once(settings, "openrouter", openrouter_payload({"x/a": A, "x/b": B}), ts("2026-01-03T00:00"))
    b_rows = [r for r in history(settings) if r[0] == "x/b" and r[1] == "input"]
    assert b_rows == [("x/b", "input", "standard", Decimal("3"), ts("2026-01-01T00:00"), None, 0)]


def test_rerun_and_out_of_order_replay_change_nothing(settings: Settings, tmp_path) -> None:
    days = [
        (ts("2026-01-01T00:00"), {"x/a": A, "x/b": B}),
        (ts("2026-01-02T00:00"), {"x/a": A_CUT, "x/b": B}),
        (ts("2026-01-03T00:00"), {"x/a": A}),
    ]
    for as_of, prices in days:
        run_once(settings, "openrouter", openrouter_payload(prices), as_of)
    in_order = history(settings)
    run_once(settings, "openrouter", openrouter_payload(days[1][1]), days[1][0])
    assert history(settings) == in_order
    shuffled = Settings(db=tmp_path / "other" / "w.duckdb")
    for as_of, prices in [days[2], days[0], days[1]]:
        run_once(shuffled, "openrouter", openrouter_payload(prices), as_of)
    assert history(shuffled) == in_order


def test_a_collapsed_parse_is_quarantined_not_a_market_event(settings: Settings) -> None:
    many = {f"x/m{i}": A for i in range(10)}
    run_once(settings, "openrouter", openrouter_payload(many), ts("2026-01-01T00:00"))
    before = history(settings)
    summary = run_once(settings, "openrouter", openrouter_payload({"x/m0": A_CUT}), ts("2026-01-02T00:00"))
    outcome = summary.outcomes[0]
    assert outcome.status == "suspect" and summary.status == "failed"
    assert outcome.error == (
        "parsed 2 rows, fewer than 50% of the 20 of its last healthy run; quarantined, not applied"
    )
    assert history(settings) == before
    # the rows are kept (quarantined), traceable to their raw document
    kept = query(
        settings,
        "SELECT count(*) FROM observations o JOIN source_runs r USING (run_id, source) WHERE NOT r.applied",
    )
    assert kept == [(2,)]


def test_broken_payloads_and_failed_fetches_leave_history_untouched(settings: Settings) -> None:
    run_once(settings, "openrouter", openrouter_payload({"x/a": A, "x/b": B}), ts("2026-01-01T00:00"))
    before = history(settings)
    cases = [
        (payload("openrouter", '{"data": [{"id": "x/a", "pri'), "suspect", "parse failed: not valid JSON"),
        (payload("openrouter", {"data": []}), "suspect", 'parse failed: the "data" list is empty'),
        (
            payload("openrouter", {"error": "maintenance"}),
            "suspect",
            'parse failed: no "data" list of models',
        ),
        (
            FetchError("openrouter", "http://127.0.0.1/x", "HTTP 500 after 3 retries"),
            "failed",
            "fetch failed: HTTP 500 after 3 retries",
        ),
    ]
    for day, (fetched, status, reason) in enumerate(cases, start=2):
        outcome = run_once(settings, "openrouter", fetched, ts(f"2026-01-0{day}T00:00")).outcomes[0]
        assert outcome.status == status
        assert outcome.error is not None and outcome.error.startswith(reason)
    assert history(settings) == before
    # Broken runs are not healthy runs: four of them do not count toward removing anything.
    assert query(settings, "SELECT max(missing_runs) FROM price_history") == [(0,)]
    health = query(settings, "SELECT status, reason FROM source_health WHERE source = 'openrouter'")
    assert health == [("failed", "fetch failed: HTTP 500 after 3 retries")]


def test_every_observation_traces_to_an_archived_raw_document(settings: Settings) -> None:
    from llmflation.warehouse import archive

    fetched = openrouter_payload({"x/a": A})
    run_once(settings, "openrouter", fetched, ts("2026-01-01T00:00"))
    rows = query(
        settings,
        "SELECT DISTINCT d.path, d.sha256 FROM observations o JOIN raw_documents d ON d.sha256 = o.raw_sha256",
    )
    assert len(rows) == 1
    assert archive.read(settings.data_dir, rows[0][0]) == fetched.content
    assert rows[0][1] == fetched.sha256


def _dated_source(monkeypatch, rows: list[dict]) -> None:
    """Make the openrouter parser return these rows (dated prices come from sources that state periods)."""
    from llmflation.extractors.base import ParseResult
    from llmflation.extractors.sources import openrouter

    def parse(payload):
        result = ParseResult(items=1)
        for row in rows:
            result.add(provider="google", provider_model_id="gemini-x", model_key="google/gemini-x", **row)
        return result

    monkeypatch.setattr(openrouter, "parse", parse)


def test_a_stated_future_price_is_known_before_it_applies(settings: Settings, monkeypatch) -> None:
    _dated_source(
        monkeypatch,
        [
            {"metric": "input", "amount": Decimal("0.75"), "effective_to": ts("2027-01-01T00:00")},
            {"metric": "input", "amount": Decimal("1.50"), "effective_from": ts("2027-01-01T00:00")},
        ],
    )
    run_once(settings, "openrouter", payload("openrouter", "{}"), ts("2026-09-04T00:00"))
    assert history(settings) == [
        ("gemini-x", "input", "standard", Decimal("0.75"), ts("2026-09-04T00:00"), ts("2027-01-01T00:00"), 0),
        ("gemini-x", "input", "standard", Decimal("1.5"), ts("2027-01-01T00:00"), None, 0),
    ]
    assert query(settings, "SELECT usd_per_mtok FROM current_prices") == [(Decimal("0.75"),)]
    assert query(settings, "SELECT usd_per_mtok FROM prices_as_of(TIMESTAMPTZ '2027-01-02 00:00:00+00')") == [
        (Decimal("1.5"),)
    ]
    assert query(settings, "SELECT usd_per_mtok FROM prices_as_of(TIMESTAMPTZ '2026-12-31 23:59:59+00')") == [
        (Decimal("0.75"),)
    ]


def test_stated_history_gives_stated_dates_and_restatements_win(settings: Settings, monkeypatch) -> None:
    _dated_source(
        monkeypatch,
        [
            {
                "metric": "output",
                "amount": Decimal("10"),
                "effective_from": ts("2024-05-13T00:00"),
                "effective_to": ts("2024-08-06T00:00"),
            },
            {"metric": "output", "amount": Decimal("15"), "effective_from": ts("2024-08-06T00:00")},
        ],
    )
    run_once(settings, "openrouter", payload("openrouter", "{}"), ts("2026-01-01T00:00"))
    _dated_source(
        monkeypatch,
        [
            {
                "metric": "output",
                "amount": Decimal("10"),
                "effective_from": ts("2024-05-13T00:00"),
                "effective_to": ts("2024-08-06T00:00"),
            },
            {"metric": "output", "amount": Decimal("12"), "effective_from": ts("2024-08-06T00:00")},
        ],
    )
    run_once(settings, "openrouter", payload("openrouter", "{}"), ts("2026-01-02T00:00"))
    assert history(settings) == [
        ("gemini-x", "output", "standard", Decimal("10"), ts("2024-05-13T00:00"), ts("2024-08-06T00:00"), 0),
        ("gemini-x", "output", "standard", Decimal("12"), ts("2024-08-06T00:00"), None, 0),
    ]
    stated_twice = "SELECT count(*) FROM observations WHERE effective_from = TIMESTAMPTZ '2024-08-06 00:00:00+00'"
    assert query(settings, stated_twice) == [(2,)]
