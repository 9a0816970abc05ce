"""The European Central Bank's euro foreign exchange reference rates: reference data for converting prices, not prices.

The history file is a zip holding one CSV, `Date,USD,JPY,...,CNY,...,`: one row per business day since 1999-01-04,
newest first, each cell the units of that currency per 1 EUR, `N/A` where the ECB did not quote it that day (a
currency before it was quoted, or after it was replaced by the euro). Rows are read one at a time, as the pipeline
takes them: the decompressed file never sits in memory whole.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from llmflation.extractors.base import REFERENCE, Payload, Rate, RateResult
from llmflation.extractors.errors import ParseError

NAME = "ecb"
URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip"
DESCRIPTION = "ECB euro foreign exchange reference rates, every business day since 1999 (units per 1 EUR)"
KIND = REFERENCE
EXPERIMENTAL = False

MAX_CSV_BYTES = 64 * 1024 * 1024  # the file is about 2 MB; a zip claiming far more is not the ECB's
CURRENCY = re.compile(r"^[A-Z]{3}$")
RATE = re.compile(r"^\d+(?:\.\d+)?$")
NOT_QUOTED = "N/A"


def parse(payload: Payload) -> RateResult:
    """Open the zip and check the CSV's header now; its rows are read as `rates` is consumed."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload.content))
    except zipfile.BadZipFile as exc:
        raise ParseError(NAME, payload.url, f"not a zip file ({exc})", payload.content) from exc
    members = [info for info in archive.infolist() if info.filename.lower().endswith(".csv")]
    if len(members) != 1:
        names = ", ".join(info.filename for info in archive.infolist()) or "nothing"
        raise ParseError(NAME, payload.url, f"expected one CSV file in the zip, found {names}")
    member = members[0]
    if member.file_size > MAX_CSV_BYTES:
        raise ParseError(NAME, payload.url, f"{member.filename} claims {member.file_size} bytes, more than expected")
    text = io.TextIOWrapper(archive.open(member), encoding="utf-8", newline="")
    try:
        header = next(csv.reader([text.readline()]), [])
    except (UnicodeDecodeError, zipfile.BadZipFile, csv.Error) as exc:
        raise ParseError(NAME, payload.url, f"{member.filename} cannot be read ({exc})") from exc
    columns = [cell.strip() for cell in header]
    while columns and not columns[-1]:  # each line ends with a comma: an empty last column
        columns.pop()
    odd = [c for c in columns[1:] if not CURRENCY.match(c)]
    if not columns or columns[0] != "Date" or "USD" not in columns or odd:
        detail = f"{member.filename} has no 'Date,USD,...' header of currency codes"
        raise ParseError(NAME, payload.url, detail, ",".join(header))
    result = RateResult()
    result.rates = _rates(payload, member.filename, text, columns, result)
    return result


def _rates(
    payload: Payload, name: str, text: io.TextIOWrapper, columns: list[str], result: RateResult
) -> Iterator[Rate]:
    found = 0
    try:
        for row in csv.reader(text):
            if not any(cell.strip() for cell in row):
                continue
            day = _day(row[0])
            cells = [cell.strip() for cell in row]
            while len(cells) > len(columns) and not cells[-1]:
                cells.pop()
            if day is None or len(cells) != len(columns):
                why = "not a date" if day is None else f"{len(cells)} cells under a header of {len(columns)}"
                result.rejects.append((row[0][:40], f"row skipped: {why}"))
                continue
            result.items += 1
            for currency, cell in zip(columns[1:], cells[1:], strict=True):
                if cell == NOT_QUOTED:
                    result.skipped["not quoted that day (N/A)"] += 1
                elif RATE.match(cell):
                    found += 1
                    yield Rate(day, currency, Decimal(cell))
                else:
                    result.rejects.append((f"{day} {currency}", f"not a rate: {cell[:40]!r}"))
    except (UnicodeDecodeError, zipfile.BadZipFile, csv.Error, EOFError) as exc:
        raise ParseError(NAME, payload.url, f"{name} cannot be read past day {result.items} ({exc})") from exc
    if not found:
        raise ParseError(NAME, payload.url, f"{result.items} days but not one rate in {name}")


def _day(cell: str) -> date | None:
    try:
        return date.fromisoformat(cell.strip())
    except ValueError:
        return None
