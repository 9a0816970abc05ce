"""Read-only SQL for the command line: one run of the statement, its rows written as they come (memory stays bounded
however many there are), stopped cleanly by Ctrl-C or a timeout. Imports neither prefect nor rich until a rich
table is asked for."""

from __future__ import annotations

import csv
import json
import math
import os
import select
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from itertools import chain
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from llmflation.extractors.errors import LlmflationError

if TYPE_CHECKING:
    import duckdb

BATCH_ROWS = 2048  # rows fetched from DuckDB at a time
TABLE_ROWS = 10_000  # a terminal table shows at most this many (DuckDB's renderer draws no more); csv and json all


class QueryError(LlmflationError):
    """A query that failed or was stopped; printed as one line."""


class Stop:
    """Stops a query at Ctrl-C or after its timeout, and says why it stopped.

    While DuckDB runs a query the main thread is inside it, and Python runs its own SIGINT handler only once DuckDB
    returns; so a watcher thread, woken through the signal wakeup fd (written by the C-level handler at once) or by
    the timeout, calls con.interrupt(), and the query fails in the main thread with DuckDB's interrupt error."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.interrupted = False
        self.timed_out = False
        self._watched = False
        self._woken: int | None = None  # read end of the signal wakeup fd, while signals are taken over

    def check(self) -> None:
        """Raise what the stop means to the user: click.Abort (main() prints `interrupted`, exit 130) or the timeout."""
        if self.interrupted:
            raise click.Abort()
        if self.timed_out:
            raise QueryError(f"the query ran past --timeout {self.timeout:g} s and was stopped")

    @contextmanager
    def signals(self) -> Iterator[Stop]:
        """Take Ctrl-C over: it aborts at once until a query is watched (a wait to connect), then stops the query."""
        if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
            yield self
            return
        woken, wake = os.pipe()
        os.set_blocking(wake, False)

        def on_sigint(signum: int, frame: object) -> None:
            self.interrupted = True
            if not self._watched:
                raise click.Abort()

        previous_handler = signal.signal(signal.SIGINT, on_sigint)
        previous_fd = signal.set_wakeup_fd(wake, warn_on_full_buffer=False)
        self._woken = woken
        try:
            yield self
        finally:
            signal.set_wakeup_fd(previous_fd)
            signal.signal(signal.SIGINT, previous_handler)
            self._woken = None
            os.close(woken)
            os.close(wake)

    @contextmanager
    def watching(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """Interrupt what runs on con at Ctrl-C or once the timeout has passed (counted from here)."""
        done_read, done_write = os.pipe()
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        woken = self._woken
        watched = [done_read] if woken is None else [done_read, woken]

        def watch() -> None:
            while True:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                ready, _, _ = select.select(watched, [], [], left)
                if done_read in ready:
                    return
                if woken is not None and woken in ready:
                    if signal.SIGINT not in os.read(woken, 64):
                        continue
                    self.interrupted = True
                else:
                    self.timed_out = True
                con.interrupt()
                return

        watcher = threading.Thread(target=watch, name="query-watcher", daemon=True)
        self._watched = True
        watcher.start()
        try:
            yield
        finally:
            os.write(done_write, b"x")
            watcher.join()
            os.close(done_read)
            os.close(done_write)


def run(path: Path, query: str, fmt: str, *, timeout: float | None = None, empty: str | None = None) -> None:
    """Run one read-only statement against the warehouse and write its rows to stdout (table, csv or json); while it
    runs it leaves a record beside the warehouse, so a run held off by it can name it."""
    import duckdb

    from llmflation.warehouse import queries
    from llmflation.warehouse.db import connect, explain, is_damage

    stop = Stop(timeout)
    with stop.signals(), queries.recorded(path, query):
        con = connect(path, read_only=True, wait_s=10)
        try:
            # DuckDB's progress bar on a terminal only, and not over rows streaming onto the same screen
            bar = sys.stderr.isatty() and (fmt == "table" or not sys.stdout.isatty())
            con.execute(f"SET enable_progress_bar = {str(bar).lower()}")
            with stop.watching(con):
                try:
                    _answer(con, query, fmt, empty, stop)
                except duckdb.Error as exc:
                    stop.check()
                    if is_damage(exc):  # the file, not the query, is at fault
                        raise explain(path, exc) from exc
                    raise QueryError(f"SQL error: {_first_line(exc)}") from exc
                except BrokenPipeError:  # the reader has all it wanted (`| head`): stop the query, quietly
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                    return
            stop.check()
        finally:
            con.close()


def _answer(con: duckdb.DuckDBPyConnection, query: str, fmt: str, empty: str | None, stop: Stop) -> None:
    if fmt == "table":
        relation = con.sql(query)
        if relation is None:
            return
        # one run of the statement, held to one row past what the table shows: the row says there are more
        held = relation.limit(TABLE_ROWS + 1).materialize()
        count = held.aggregate("count(*)").fetchall()[0][0]
        stop.check()
        if empty and not count:
            click.echo(empty)
            return
        if held.columns != relation.columns:  # holding the rows made repeated names unique; show them as written
            held = held.project(", ".join(f"#{i} AS {_quote(n)}" for i, n in enumerate(relation.columns, 1)))
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 10_000
        held.show(max_rows=TABLE_ROWS, max_width=width)
        sys.stdout.flush()
        if count > TABLE_ROWS:
            click.echo(f"showing the first {TABLE_ROWS} rows; --format csv or json writes them all", err=True)
        return
    con.execute(query)
    if con.description is None:
        return
    _stream([d[0] for d in con.description], _batches(con, stop), fmt)
    sys.stdout.flush()  # a reader gone away shows here, inside the query, not at exit


def _batches(con: duckdb.DuckDBPyConnection, stop: Stop) -> Iterator[list[tuple[Any, ...]]]:
    while batch := con.fetchmany(BATCH_ROWS):
        yield batch
        stop.check()


def write(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> None:
    """Rows held in memory to stdout, as json, csv or a rich table (the short lists of the other commands)."""
    if fmt in ("json", "csv"):
        _stream(columns, [rows], fmt)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*["" if v is None else str(_plain(v)) for v in row])
    Console().print(table)


def _stream(columns: Sequence[str], batches: Iterable[Sequence[Sequence[Any]]], fmt: str) -> None:
    """Batches of rows to stdout as they come: json (one array) or csv (a header, then a line a row)."""
    out = sys.stdout
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for batch in batches:
            if _AS_IS.issuperset(map(type, chain.from_iterable(batch))):
                writer.writerows(batch)
                continue
            values = list(zip(*batch, strict=True))
            for i, column in enumerate(values):
                if not _AS_IS.issuperset(map(type, column)):
                    values[i] = tuple(map(_plain, column))
            writer.writerows(zip(*values, strict=True))
        return
    # what json.dumps(records, indent=1) writes for the {column: value} records, a batch at a time; a dict holds a
    # repeated name once, in its first place, with its last value
    keys = list(dict.fromkeys(columns))
    last = {name: i for i, name in enumerate(columns)}
    fields = ["  " + json.dumps(key).replace("%", "%%") + ": %s" for key in keys]
    record = " {\n" + ",\n".join(fields) + "\n }"
    opening = "[\n"
    for batch in batches:
        if not batch:
            continue
        values = list(zip(*batch, strict=True))
        texts = [_json_column(values[last[key]]) for key in keys]
        out.write(opening + ",\n".join(map(record.__mod__, zip(*texts, strict=True))))
        opening = ",\n"
    out.write("[]\n" if opening == "[\n" else "\n]\n")


_AS_IS = {str, int, float, bool, type(None)}


def _json_column(values: Sequence[Any]) -> list[str]:
    """The JSON text of each value of one column of a batch (DuckDB columns are typed: one kind, or None)."""
    kinds = set(map(type, values))
    if kinds == {int}:
        return list(map(int.__repr__, values))
    if kinds == {str}:
        return list(map(encode_basestring_ascii, values))
    return list(map(_json_value, values))


def _json_value(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is float:
        return _json_float(value)
    nested = json.dumps(_plain(value, for_json=True), indent=1, default=lambda v: _plain(v, for_json=True))
    return nested.replace("\n", "\n  ")


def _json_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _plain(value: Any, for_json: bool = False) -> Any:
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return float(text) if for_json else text
    if isinstance(value, datetime | date):
        return value.isoformat()
    if for_json and not isinstance(value, str | int | float | bool | type(None) | list | dict):
        return str(value)
    return value


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
