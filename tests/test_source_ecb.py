"""The ecb source against the real saved history of the ECB's euro reference rates."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from llmflation.extractors.base import Rate, RateResult
from llmflation.extractors.errors import ParseError
from llmflation.extractors.sources import ecb
from tests.helpers import payload, real

HISTORY = "fx/eurofxref-hist_2026-10-30.zip"


def _csv() -> bytes:
    with zipfile.ZipFile(real(HISTORY)) as archive:
        return archive.read("eurofxref-hist.csv")


def _zipped(csv_bytes: bytes, name: str = "eurofxref-hist.csv") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, csv_bytes)
    return buffer.getvalue()


def _parse(content: bytes) -> RateResult:
    return ecb.parse(payload("ecb", content, url="https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip"))


def _read(content: bytes) -> tuple[list[Rate], RateResult]:
    result = _parse(content)
    return list(result.rates), result


@pytest.fixture(scope="module")
def history() -> tuple[list[Rate], RateResult]:
    """The real history, read once for this module's tests."""
    return _read(real(HISTORY).read_bytes())


def test_the_real_history_parses_completely(history: tuple[list[Rate], RateResult], tmp_path: Path) -> None:
    rates, result = history
    assert result.rejects == []
    # Independent route: DuckDB's own CSV reader over the unzipped file, every column read as text.
    (tmp_path / "rates.csv").write_bytes(_csv())
    con = duckdb.connect(":memory:")
    con.execute(f"CREATE TABLE wide AS SELECT * FROM read_csv('{tmp_path / 'rates.csv'}', all_varchar = true)")
    columns = [name for (name, *_) in con.execute("DESCRIBE wide").fetchall()]
    currencies = [c for c in columns if c != "Date" and con.execute(f'SELECT count("{c}") FROM wide').fetchone()[0]]
    unpivoted = con.execute(
        f"SELECT Date::DATE, currency, rate::DECIMAL(18, 6) FROM (UNPIVOT wide ON {', '.join(currencies)} "
        "INTO NAME currency VALUE rate) WHERE rate <> 'N/A'"
    ).fetchall()
    ((days, not_quoted),) = con.execute(
        f"SELECT count(*), {' + '.join(f'count(*) FILTER (WHERE {c} = {chr(39)}N/A{chr(39)})' for c in currencies)} "
        "FROM wide"
    ).fetchall()
    assert result.items == days == 7126
    assert len(currencies) == len({r.currency for r in rates}) == 41
    assert len(rates) == len(unpivoted) == 221_702
    assert sorted(rates) == sorted(unpivoted)
    assert result.skipped == {"not quoted that day (N/A)": not_quoted}
    assert not_quoted == 70_464
    assert min(r.date for r in rates) == date(1999, 1, 4) and max(r.date for r in rates) == date(2026, 10, 30)


@pytest.mark.parametrize(
    ("day", "currency", "units_per_eur"),
    [
        ("2026-07-17", "USD", "1.1435"),
        ("2026-07-17", "CNY", "7.7501"),
        ("2026-07-17", "JPY", "185.65"),
        ("2026-10-30", "USD", "1.1172"),
        ("2026-10-30", "CNY", "7.4326"),
        ("2005-04-01", "CNY", "10.7255"),  # the first day the ECB quoted the renminbi
        ("1999-01-04", "USD", "1.1789"),
        ("1999-01-04", "TRL", "372274"),
    ],
)
def test_pinned_rates(history: tuple[list[Rate], RateResult], day: str, currency: str, units_per_eur: str) -> None:
    rates, _ = history
    found = [r.units_per_eur for r in rates if r.date == date.fromisoformat(day) and r.currency == currency]
    assert found == [Decimal(units_per_eur)]


def test_a_currency_not_quoted_that_day_has_no_rate(history: tuple[list[Rate], RateResult]) -> None:
    rates, _ = history
    cny = sorted(r.date for r in rates if r.currency == "CNY")
    assert cny[0] == date(2005, 4, 1) and len(cny) == 5527
    assert not [r for r in rates if r.currency in ("TRL", "CYP") and r.date > date(2008, 1, 1)]


def test_rows_are_read_as_the_rates_are_taken() -> None:
    result = _parse(real(HISTORY).read_bytes())
    first = next(result.rates)
    assert first == Rate(date(2026, 10, 30), "USD", Decimal("1.1172"))  # newest first
    assert result.items == 1  # one row read so far, not the file


def test_a_bad_cell_or_row_is_rejected_and_the_rest_parses() -> None:
    text = _csv().decode()
    lines = text.splitlines(keepends=True)
    assert lines[1].startswith("2026-10-30,1.1172,175.68,")
    lines[1] = lines[1].replace(",175.68,", ",about 175,")  # one bad cell
    quoted_on_29th = sum(cell not in ("N/A", "") for cell in lines[2].strip().split(",")[1:])
    lines[2] = lines[2].split(",", 1)[0] + ",1.113\n"  # a row cut short
    rates, result = _read(_zipped("".join(lines).encode()))
    assert result.rejects == [
        ("2026-10-30 JPY", "not a rate: 'about 175'"),
        ("2026-10-29", "row skipped: 2 cells under a header of 42"),
    ]
    assert result.items == 7125
    assert len(rates) == 221_702 - 1 - quoted_on_29th
    assert Rate(date(2026, 10, 30), "CNY", Decimal("7.4326")) in rates


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"<html><body>Service unavailable</body></html>", "not a zip file"),
        (_zipped(b"hello", name="readme.txt"), "expected one CSV file in the zip, found readme.txt"),
        (_zipped(b"Day,USD,CNY\n2026-10-30,1.1,7.4\n"), "no 'Date,USD,...' header"),
        (_zipped(b"Date,JPY,CNY\n2026-10-30,175.68,7.4326\n"), "no 'Date,USD,...' header"),
        (_zipped(b"Date,USD,CNY,\n"), "0 days but not one rate"),
        (_zipped(b"Date,USD,CNY,\n2026-10-30,N/A,N/A,\n"), "1 days but not one rate"),
    ],
)
def test_a_payload_that_is_not_the_ecb_history_is_a_parse_error(content: bytes, error: str) -> None:
    with pytest.raises(ParseError, match=error):
        list(_parse(content).rates)


def test_a_zip_cut_short_is_a_parse_error() -> None:
    content = real(HISTORY).read_bytes()
    with pytest.raises(ParseError, match="not a zip file"):
        list(_parse(content[: len(content) // 2]).rates)
