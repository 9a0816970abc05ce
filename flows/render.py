"""The one renderer of every table the command line prints: rows as a plain text table, csv, json, ndjson or
markdown. Rows come in batches and are written as they come (a text table needs its rows first, to size its
columns). Decimals are written exactly, with their trailing zeros trimmed; json writes them as numbers from their
exact text, never through a float. Imports neither prefect nor rich."""

from __future__ import annotations

import csv
import json
import math
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from itertools import chain
from json.encoder import encode_basestring_ascii
from typing import IO, Any

FORMATS = ("table", "csv", "json", "ndjson", "markdown")
Rows = Sequence[Sequence[Any]]


def write(columns: Sequence[str], rows: Rows, fmt: str, out: IO[str] | None = None) -> None:
    """Rows held in memory, in fmt."""
    stream(columns, [rows], fmt, out)


def stream(columns: Sequence[str], batches: Iterable[Rows], fmt: str, out: IO[str] | None = None) -> None:
    """Batches of rows in fmt, each written as it comes (a table takes them all first)."""
    out = out or sys.stdout
    if fmt == "table":
        out.write(table(columns, list(chain.from_iterable(batches))))
    elif fmt == "csv":
        _csv(columns, batches, out)
    elif fmt in ("json", "ndjson"):
        _json(columns, batches, out, lines=fmt == "ndjson")
    elif fmt == "markdown":
        _markdown(columns, batches, out)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    out.flush()  # a reader gone away shows here, while the rows are being written


def table(columns: Sequence[str], rows: Rows) -> str:
    """A plain text table: a header, a rule, one line a row; every value in full (a line is as wide as its values
    need: a URL or an id is never cut), numbers to the right."""
    cells = [[text(value) for value in row] for row in rows]
    widths = [max([_width(name), *(_width(row[i]) for row in cells)]) for i, name in enumerate(columns)]
    right = [
        any(row[i] is not None for row in rows) and all(_is_number(row[i]) for row in rows if row[i] is not None)
        for i in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        padded = (_pad(value, width, to_right) for value, width, to_right in zip(values, widths, right, strict=True))
        return "  ".join(padded).rstrip() + "\n"

    return line(list(columns)) + line(["-" * width for width in widths]) + "".join(map(line, cells))


def text(value: Any) -> str:
    """A value as a person reads it in a table: NULL, true/false, decimals without trailing zeros, escapes for
    line breaks and tabs (a row stays one line)."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(text, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{text(key)}: {text(item)}" for key, item in value.items()) + "}"
    return str(value)


def decimal_text(value: Decimal) -> str:
    """The exact digits of a decimal, trailing zeros trimmed: 10.000 is 10, 0.150 is 0.15."""
    if not value.is_finite():
        return str(value)
    return format(value.normalize(), "f")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _width(value: str) -> int:
    if value.isascii():
        return len(value)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) else 1 for c in value)


def _pad(value: str, width: int, to_right: bool) -> str:
    space = " " * (width - _width(value))
    return space + value if to_right else value + space


def _markdown(columns: Sequence[str], batches: Iterable[Rows], out: IO[str]) -> None:
    def line(values: Iterable[str]) -> str:
        return "| " + " | ".join(value.replace("|", "\\|") for value in values) + " |\n"

    out.write(line(columns) + "|" + "---|" * len(columns) + "\n")
    for batch in batches:
        out.write("".join(line(map(text, row)) for row in batch))


_AS_IS = {str, int, float, bool, type(None)}


def _csv(columns: Sequence[str], batches: Iterable[Rows], out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for batch in batches:
        if _AS_IS.issuperset(map(type, chain.from_iterable(batch))):
            writer.writerows(batch)
            continue
        values = list(zip(*batch, strict=True))
        for i, column in enumerate(values):
            if not _AS_IS.issuperset(map(type, column)):
                values[i] = tuple(map(_csv_value, column))
        writer.writerows(zip(*values, strict=True))


def _csv_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _json(columns: Sequence[str], batches: Iterable[Rows], out: IO[str], lines: bool) -> None:
    """json: what json.dumps(records, indent=1) writes for the {column: value} records, a batch at a time, with
    decimals exact; ndjson: one compact record a line. A dict holds a repeated name once, in its first place, with
    its last value."""
    keys = list(dict.fromkeys(columns))
    last = {name: i for i, name in enumerate(columns)}
    if lines:
        fields = [json.dumps(key).replace("%", "%%") + ": %s" for key in keys]
        record, opening, between = "{" + ", ".join(fields) + "}", "", "\n"
    else:
        fields = ["  " + json.dumps(key).replace("%", "%%") + ": %s" for key in keys]
        record, opening, between = " {\n" + ",\n".join(fields) + "\n }", "[\n", ",\n"
    written = False
    for batch in batches:
        if not batch:
            continue
        values = list(zip(*batch, strict=True))
        texts = [_json_column(values[last[key]], indent=not lines) for key in keys]
        out.write((between if written else opening) + between.join(map(record.__mod__, zip(*texts, strict=True))))
        written = True
    if lines:
        out.write("\n" if written else "")
    else:
        out.write("\n]\n" if written else "[]\n")


def _json_column(values: Sequence[Any], indent: bool) -> list[str]:
    """The JSON text of each value of one column of a batch (DuckDB columns are typed: one kind, or None)."""
    kinds = set(map(type, values))
    if kinds == {int}:
        return list(map(int.__repr__, values))
    if kinds == {str}:
        return list(map(encode_basestring_ascii, values))
    if indent:
        return [_json_value(value, 0).replace("\n", "\n  ") for value in values]
    return [_json_value(value, None) for value in values]


def _json_value(value: Any, level: int | None) -> str:
    """value as JSON, nested values as json.dumps(indent=1) lays them out (level None: on one line)."""
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        return _json_float(value)
    if kind is Decimal:
        return decimal_text(value) if value.is_finite() else _json_float(float(value))
    if isinstance(value, datetime | date):
        return encode_basestring_ascii(value.isoformat())
    if isinstance(value, dict):
        items = [(encode_basestring_ascii(str(key)), item) for key, item in value.items()]
        return _nested("{", "}", [f"{key}: {_json_value(item, _deeper(level))}" for key, item in items], level)
    if isinstance(value, list | tuple):
        return _nested("[", "]", [_json_value(item, _deeper(level)) for item in value], level)
    return encode_basestring_ascii(str(value))


def _deeper(level: int | None) -> int | None:
    return None if level is None else level + 1


def _nested(opening: str, closing: str, items: list[str], level: int | None) -> str:
    if not items:
        return opening + closing
    if level is None:
        return opening + ", ".join(items) + closing
    inner = "\n" + " " * (level + 1)
    return opening + inner + ("," + inner).join(items) + "\n" + " " * level + closing


def _json_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)
