"""Exchange rates through the pipeline: the real ECB history loaded once, and prices in yuan given dollar values."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import duckdb
import pytest

from llmflation.extractors.base import Payload, parse_source_list
from llmflation.extractors.sources import deepseek, ecb
from llmflation.flows.settings import Settings
from llmflation.warehouse import db, history
from tests.helpers import payload, real, ts
from tests.ledger_helpers import query, run_once

HISTORY = "fx/eurofxref-hist_2026-10-30.zip"
PAGE = "html/deepseek_pricing_zh-cn_2026-07-17.html"
RATES = 221_702  # rates in the real history (tests/test_source_ecb.py counts them by another route)


def _csv() -> str:
    with zipfile.ZipFile(real(HISTORY)) as archive:
        return archive.read("eurofxref-hist.csv").decode()


def _zipped(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("eurofxref-hist.csv", text)
    return buffer.getvalue()


def ecb_payload(content: bytes | None = None) -> Payload:
    return payload("ecb", content if content is not None else real(HISTORY).read_bytes(), url=ecb.URL)


def deepseek_payload(html: str | None = None) -> Payload:
    return payload("deepseek", html if html is not None else real(PAGE).read_text(encoding="utf-8"), url=deepseek.URL)


def in_dollars(amount: Decimal, usd_per_eur: str, units_per_eur: str) -> Decimal:
    """amount x USD per EUR / CUR per EUR, rounded half up to 18 decimals: the warehouse's exact conversion."""
    with localcontext() as context:
        context.prec = 60
        value = amount * Decimal(usd_per_eur) / Decimal(units_per_eur)
        return value.quantize(Decimal("1e-18"), rounding=ROUND_HALF_UP)


@pytest.fixture(scope="module")
def with_rates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding the real ECB history (tests take a copy)."""
    settings = Settings(db=tmp_path_factory.mktemp("rates") / "data" / "llmflation.duckdb")
    assert run_once(settings, "ecb", ecb_payload(), ts("2026-10-30T18:00")).status == "ok"
    return settings.db


def _copy(with_rates: Path, tmp_path: Path) -> Settings:
    target = tmp_path / "data" / "llmflation.duckdb"
    target.parent.mkdir(parents=True)
    shutil.copy(with_rates, target)
    return Settings(db=target)


def test_the_history_loads_once_and_a_rerun_loads_nothing_new(settings: Settings) -> None:
    first = run_once(settings, "ecb", ecb_payload(), ts("2026-10-30T18:00"))
    second = run_once(settings, "ecb", ecb_payload(), ts("2026-10-31T18:00"))
    assert [(o.status, o.items, o.parsed, o.rejected, o.loaded) for o in first.outcomes + second.outcomes] == [
        ("ok", 7126, RATES, 0, RATES),
        ("ok", 7126, RATES, 0, 0),
    ]
    sha = ecb_payload().sha256
    assert query(settings, "SELECT count(*), count(DISTINCT run_id), min(raw_sha256), max(raw_sha256) FROM "
                 "fx_rates_observed WHERE source = 'ecb'") == [(RATES, 1, sha, sha)]  # fmt: skip
    assert query(settings, "SELECT status, kind, applied, loaded, notes FROM source_runs ORDER BY observed_at") == [
        ("ok", "reference", True, n, "skipped 70464 (not quoted that day (N/A))") for n in (RATES, 0)
    ]
    assert query(settings, "SELECT count(*) FROM raw_documents WHERE sha256 = ?", [sha]) == [(1,)]
    assert query(settings, "SELECT DISTINCT url FROM fetches WHERE source = 'ecb'") == [(ecb.URL,)]
    con = db.connect(settings.db)
    try:
        assert history.sources_with_history(con) == []  # rates are no price history: `rebuild` leaves them alone
    finally:
        con.close()


def test_a_history_cut_to_a_fraction_is_a_broken_source_and_loads_nothing(with_rates: Path, tmp_path: Path) -> None:
    settings = _copy(with_rates, tmp_path)
    lines = _csv().splitlines(keepends=True)
    newest = "".join(lines[:1001])  # the header and the latest 1000 days
    parsed = sum(cell not in ("N/A", "") for line in lines[1:1001] for cell in line.strip().split(",")[1:])
    cut_short = ecb_payload(_zipped(newest))
    summary = run_once(settings, "ecb", cut_short, ts("2026-10-31T18:00"))
    ((outcome,),) = [summary.outcomes]
    assert (outcome.status, outcome.parsed, outcome.loaded) == ("suspect", parsed, 0)
    assert outcome.error == (
        f"parsed {parsed} rates, fewer than 50% of the {RATES} of its last healthy run; quarantined, not applied"
    )
    assert query(settings, "SELECT count(*) FROM fx_rates_observed") == [(RATES,)]
    assert query(settings, "SELECT event_type, source, news FROM price_events") == [("source_broken", "ecb", True)]
    assert query(settings, "SELECT count(*) FROM raw_documents WHERE sha256 = ?", [cut_short.sha256]) == [(1,)]


def test_a_new_day_is_loaded_and_a_restated_rate_keeps_the_stored_one(with_rates: Path, tmp_path: Path) -> None:
    settings = _copy(with_rates, tmp_path)
    header, *rows = _csv().splitlines(keepends=True)
    assert rows[0].startswith("2026-10-30,1.1172,") and ",7.4326," in rows[0]
    monday = rows[0].replace("2026-10-30,1.1172,", "2026-11-02,1.1180,")
    quoted = sum(cell not in ("N/A", "") for cell in monday.strip().split(",")[1:])
    not_quoted = 70_464 + monday.count("N/A")
    text = "".join([header, monday, rows[0].replace(",7.4326,", ",7.4327,"), *rows[1:]])
    summary = run_once(settings, "ecb", ecb_payload(_zipped(text)), ts("2026-11-02T18:00"))
    ((outcome,),) = [summary.outcomes]
    assert (outcome.status, outcome.parsed, outcome.loaded) == ("ok", RATES + quoted, quoted)
    assert outcome.notes == (
        f"skipped {not_quoted} (not quoted that day (N/A)); 1 stored rates stated again with another value "
        "(the stored ones kept)"
    )
    assert query(
        settings,
        "SELECT date::VARCHAR, units_per_eur FROM fx_rates_observed WHERE currency = 'CNY' AND date >= '2026-10-30' "
        "ORDER BY date",
    ) == [("2026-10-30", Decimal("7.4326")), ("2026-11-02", Decimal("7.4326"))]


def test_a_day_stated_twice_with_two_values_is_rejected_and_a_repeat_is_one_rate(settings: Settings) -> None:
    text = (
        "Date,USD,CNY,\n2026-07-17,1.1435,7.7501,\n2026-07-17,1.1435,7.7502,\n"
        "2026-07-16,1.1467,7.7596,\n2026-07-16,1.1467,7.7596,\n"
    )
    ((outcome,),) = [run_once(settings, "ecb", ecb_payload(_zipped(text)), ts("2026-07-17T18:00")).outcomes]
    assert (outcome.status, outcome.items, outcome.parsed, outcome.rejected, outcome.loaded) == ("ok", 4, 3, 1, 3)
    assert query(settings, "SELECT item, reason FROM rejects") == [
        ("2026-07-17 CNY", "conflicting rates in one payload (7.750100, 7.750200)")
    ]
    assert query(settings, "SELECT date::VARCHAR, currency FROM fx_rates_observed ORDER BY ALL") == [
        ("2026-07-16", "CNY"),
        ("2026-07-16", "USD"),
        ("2026-07-17", "USD"),
    ]


# (as-of of the DeepSeek page, the ECB day whose rates convert it: USD and CNY per EUR), or None: no USD value
@pytest.mark.parametrize(
    ("as_of", "rates"),
    [
        pytest.param("2026-07-17T12:00", ("1.1435", "7.7501"), id="a business day: its own rates"),
        pytest.param("2026-07-18T09:00", ("1.1435", "7.7501"), id="Saturday: Friday's"),
        pytest.param("2026-07-19T23:30", ("1.1435", "7.7501"), id="Sunday late (Monday in Asia): Friday's"),
        pytest.param("2026-07-20T00:30", ("1.1426", "7.7319"), id="Monday: its own"),
        pytest.param("2026-04-06T12:00", ("1.1525", "7.9495"), id="Easter Monday: Thursday's, 4 days older"),
        pytest.param("2026-11-03T12:00", ("1.1172", "7.4326"), id="4 days after the last rate: that rate"),
        pytest.param("2026-11-04T00:00", None, id="5 days after the last rate: none"),
        pytest.param("2005-03-31T12:00", None, id="before the ECB quoted the yuan: none"),
    ],
)
def test_a_price_in_yuan_converts_with_the_rates_of_its_day(
    with_rates: Path, tmp_path: Path, as_of: str, rates: tuple[str, str] | None
) -> None:
    settings = _copy(with_rates, tmp_path)
    assert run_once(settings, "deepseek", deepseek_payload(), ts(as_of)).status == "ok"
    sql = "SELECT provider_model_id, metric, currency, price_per_mtok, usd_per_mtok FROM price_history ORDER BY ALL"
    found = query(settings, sql)
    assert len(found) == 6 and {row[2] for row in found} == {"CNY"}
    expected = [(*row[:4], in_dollars(row[3], *rates) if rates else None) for row in found]
    assert found == expected
    flash = {row[1]: row[4] for row in found if row[0] == "deepseek-v4-flash"}
    if rates == ("1.1435", "7.7501"):
        assert flash["input"] == Decimal("0.147546483271183598")  # 1 CNY x 1.1435 / 7.7501
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        con.execute("SET TimeZone = 'Asia/Shanghai'")  # the day of a price is its UTC day, whatever the session's
        assert con.execute(sql).fetchall() == expected
    finally:
        con.close()


def test_rates_loaded_after_the_prices_give_their_events_dollar_values_as_no_news(settings: Settings) -> None:
    page = real(PAGE).read_text(encoding="utf-8")
    cheaper = page.replace(
        "<td>百万tokens输入（缓存未命中）</td><td>1元</td>", "<td>百万tokens输入（缓存未命中）</td><td>0.5元</td>"
    )
    assert cheaper != page
    run_once(settings, "deepseek", deepseek_payload(page), ts("2026-07-16T12:00"))
    run_once(settings, "deepseek", deepseek_payload(cheaper), ts("2026-07-17T12:00"))
    cut = (
        "SELECT old_usd_per_mtok, new_usd_per_mtok, news FROM price_events WHERE event_type = 'price_cut' "
        "AND provider_model_id = 'deepseek-v4-flash' AND metric = 'input'"
    )
    assert query(settings, cut) == [(None, None, True)]  # no rate known yet
    summary = run_once(settings, "ecb", ecb_payload(), ts("2026-10-30T18:00"))
    assert query(settings, cut) == [
        (in_dollars(Decimal(1), "1.1467", "7.7596"), in_dollars(Decimal("0.5"), "1.1435", "7.7501"), True)
    ]
    found_by_rates = query(settings, "SELECT event_type, news FROM price_events WHERE run_id = ?", [summary.run_id])
    assert ("all_time_low", False) in found_by_rates  # the cut is a low in dollars too, found now: not news
    assert all(not news for _, news in found_by_rates)


def test_sources_of_rates_load_first_in_a_run(settings: Settings) -> None:
    from pytest_httpserver import HTTPServer

    with HTTPServer() as server:
        server.expect_request("/ecb.zip").respond_with_data(real(HISTORY).read_bytes())
        server.expect_request("/pricing").respond_with_data(real(PAGE).read_bytes())

        from llmflation.flows.pipeline import run_prices

        urls = {"ecb": server.url_for("/ecb.zip"), "deepseek": server.url_for("/pricing")}
        summary = run_prices(
            settings.model_copy(update={"source_urls": urls}), ["deepseek", "ecb"], ts("2026-07-17T12:00")
        )
    assert [(o.source, o.status) for o in summary.outcomes] == [("ecb", "ok"), ("deepseek", "ok")]
    assert parse_source_list(None)[0] == "ecb"  # `llmflation run` without --sources includes it, first
    assert query(
        settings, "SELECT usd_per_mtok FROM price_history WHERE provider_model_id = 'deepseek-v4-flash' "
        "AND metric = 'input'"
    ) == [(in_dollars(Decimal(1), "1.1435", "7.7501"),)]  # fmt: skip


def test_the_hand_kept_file_holds_only_rates_no_source_gives() -> None:
    header, *rows = csv.reader(io.StringIO(_csv()))
    quoted = {
        (row[0], currency)
        for row in rows
        for currency, cell in zip(header[1:], row[1:], strict=False)
        if cell not in ("N/A", "")
    }
    with (Path(db.__file__).parent / "data" / "fx_rates.csv").open(encoding="utf-8") as file:
        kept = list(csv.DictReader(file))
    assert [row for row in kept if (row["date"], row["currency"]) in quoted] == []
    assert all(row["source_url"].startswith("http") for row in kept)


def test_a_rate_a_source_gives_wins_over_a_hand_kept_one_and_the_euro_converts_too() -> None:
    con = duckdb.connect(":memory:")
    db.migrate(con)
    con.execute(
        "INSERT INTO fx_rates_observed VALUES ('ecb', '2026-07-17', 'USD', 1.1435, 'r', 's'), "
        "('ecb', '2026-07-17', 'CNY', 7.7501, 'r', 's')"
    )
    con.execute(
        "INSERT INTO fx_rates_curated VALUES ('2026-07-17', 'CNY', 7.0, 'https://example.org/cny'), "
        "('2026-07-17', 'TWD', 31.5, 'https://example.org/twd')"
    )
    assert con.execute(
        "SELECT currency, units_per_usd, base, units_per_base, usd_per_base, source, source_url FROM fx_rates "
        "ORDER BY currency"
    ).fetchall() == [
        ("CNY", in_dollars(Decimal(1), "7.7501", "1.1435"), "EUR", Decimal("7.7501"), Decimal("1.1435"), "ecb", None),
        ("EUR", in_dollars(Decimal(1), "1", "1.1435"), "EUR", Decimal(1), Decimal("1.1435"), "ecb", None),
        ("TWD", Decimal("31.5"), "USD", Decimal("31.5"), Decimal(1), "fx_rates.csv", "https://example.org/twd"),
    ]


@pytest.mark.parametrize(
    ("amount", "numerator", "denominator"),
    [
        ("1", "1.1435", "7.7501"),
        ("0.02", "1.1435", "7.7501"),
        ("0.000000000000000001", "1.1435", "7.7501"),
        ("0.5", "1", "3"),  # 0.1666...67: rounds up
        ("0.000000000000000005", "1", "10"),  # exactly half a unit of the last place: up
        ("12345678901234.123456789012345678", "1.1172", "20275.17"),
        ("9999999999999.999999999999999999", "1912400", "0.3883"),  # near the largest value that fits
        ("0", "1.1435", "7.7501"),
    ],
)
def test_conversion_is_exact_to_the_last_decimal(amount: str, numerator: str, denominator: str) -> None:
    con = duckdb.connect(":memory:")
    db.migrate(con)
    got = con.execute(
        "SELECT fx_times(CAST(? AS DECIMAL(38, 18)), CAST(? AS DECIMAL(18, 6)), CAST(? AS DECIMAL(18, 6)))",
        [amount, numerator, denominator],
    ).fetchone()[0]
    assert got == in_dollars(Decimal(amount), numerator, denominator)
