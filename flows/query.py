"""Read-only SQL for the command line: the query reads the warehouse and nothing else, runs once, and its rows are
written as they come (memory stays bounded however many there are); Ctrl-C or a timeout stops it cleanly. Imports
neither prefect nor rich."""

from __future__ import annotations

import os
import re
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from llmflation.extractors.errors import LlmflationError
from llmflation.flows import render

if TYPE_CHECKING:
    import duckdb

BATCH_ROWS = 2048  # rows fetched from DuckDB at a time
TABLE_ROWS = 10_000  # a text table shows at most this many (it holds them to size its columns); the others all


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
    """Run read-only SQL against the warehouse and write its rows to stdout in fmt; the connection reads the
    warehouse and nothing else (warehouse/db.py SANDBOX). While it runs it leaves a record beside the warehouse, so
    a run held off by it can name it."""
    import duckdb

    from llmflation.warehouse import queries
    from llmflation.warehouse.db import connect, explain, is_damage

    stop = Stop(timeout)
    with stop.signals(), queries.recorded(path, query):
        # DuckDB's progress bar on a terminal only, and not over rows streaming onto the same screen
        bar = sys.stderr.isatty() and (fmt == "table" or not sys.stdout.isatty())
        con = connect(path, sandboxed=True, progress_bar=bar, wait_s=10)
        try:
            with stop.watching(con):
                try:
                    refuse_writing(con, query)
                    _answer(con, query, fmt, empty, stop)
                except duckdb.Error as exc:
                    stop.check()
                    if is_damage(exc):  # the file, not the query, is at fault
                        raise explain(path, exc) from exc
                    if isinstance(exc, duckdb.PermissionException) or LOCKED in str(exc):
                        raise QueryError(f"{ONLY_READS}: {_first_line(exc)}") from exc
                    raise QueryError(f"SQL error: {_first_line(exc)}") from exc
            stop.check()
        finally:
            con.close()


ONLY_READS = "the query may only read the warehouse"
LOCKED = "the configuration has been locked"
READING = {"SELECT", "EXPLAIN", "CALL", "PRAGMA"}
EXPLAINED = re.compile(r"\s*EXPLAIN(\s+ANALYZE)?\b", re.IGNORECASE)
KEYWORD = re.compile(r"\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*(\w+)", re.DOTALL)


def refuse_writing(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """Refuse a query with any statement that does more than read (attach, detach, use, set, copy, install, ...),
    before any statement of it runs; what reads (SELECT, EXPLAIN, CALL, PRAGMA) DuckDB's sandbox holds in turn."""
    for statement in con.extract_statements(query):
        kind = statement.type.name
        if kind == "EXPLAIN":  # EXPLAIN ANALYZE runs what it explains
            import duckdb

            # EXPLAIN (FORMAT json) ... does not parse alone: what it explains, DuckDB's sandbox holds
            with suppress(duckdb.ParserException):
                refuse_writing(con, EXPLAINED.sub("", statement.query, count=1))
        elif kind not in READING:
            found = KEYWORD.match(statement.query)
            name = found.group(1).upper() if found else kind
            name = kind if name in READING | {"WITH"} else name  # PRAGMA threads = 1 is a SET
            raise QueryError(f"{ONLY_READS}: {name} is not a reading statement (only SELECT, EXPLAIN, CALL, PRAGMA)")


def _answer(con: duckdb.DuckDBPyConnection, query: str, fmt: str, empty: str | None, stop: Stop) -> None:
    con.execute(query)
    if con.description is None:
        return
    columns = [d[0] for d in con.description]
    if fmt != "table":
        render.stream(columns, _batches(con, stop), fmt)
        return
    # a table sizes its columns from its rows: it holds at most TABLE_ROWS of them, and one more says there are more
    rows: list[tuple[Any, ...]] = []
    while len(rows) <= TABLE_ROWS and (batch := con.fetchmany(min(BATCH_ROWS, TABLE_ROWS + 1 - len(rows)))):
        rows.extend(batch)
        stop.check()
    if empty and not rows:
        click.echo(empty)
        return
    render.write(columns, rows[:TABLE_ROWS], "table")
    if len(rows) > TABLE_ROWS:
        click.echo(f"showing the first {TABLE_ROWS} rows; --format csv or json writes them all", err=True)


def _batches(con: duckdb.DuckDBPyConnection, stop: Stop) -> Iterator[list[tuple[Any, ...]]]:
    while batch := con.fetchmany(BATCH_ROWS):
        yield batch
        stop.check()


def query_text(query: str | None, from_file: Path | None) -> str:
    """The text of the query: QUERY itself, standard input for `-`, or the file --file names."""
    if from_file is not None:
        if query is not None:
            raise QueryError("give the query as QUERY or with --file, not both")
        try:
            text = from_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise QueryError(f"cannot read the query from {from_file}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise QueryError(f"cannot read the query from {from_file}: not UTF-8 text") from exc
    elif query == "-":
        text = sys.stdin.read()
    elif query is None:
        raise QueryError("give a query: QUERY, - to read it from standard input, or --file PATH")
    else:
        text = query
    if not text.strip():
        raise QueryError("the query is empty")
    return text


def print_runs(db: Path, since: datetime) -> list[str]:
    """Print the runs started since `since` (the caller holds the run lock, so they are its own); their statuses."""
    from llmflation.warehouse.db import connect

    con = connect(db, read_only=True, wait_s=10)
    try:
        runs = con.execute(
            "SELECT run_id, status, as_of FROM runs WHERE started_at >= ? ORDER BY started_at", [since]
        ).fetchall()
        shown = []
        for run_id, _, _ in runs:
            relation = con.execute(
                "SELECT source, status, items AS models, parsed, rejected, loaded, error AS reason "
                "FROM source_runs WHERE run_id = ? ORDER BY source",
                [run_id],
            )
            columns = [d[0] for d in relation.description]
            rows = relation.fetchall()
            alerts = con.execute(
                "SELECT d.channel, d.status, d.last_error, e.* FROM alert_deliveries d JOIN price_events e "
                "USING (event_id) WHERE e.run_id = ? ORDER BY d.channel, e.provider, e.model_key",
                [run_id],
            )
            alert_columns = [d[0] for d in alerts.description]
            shown.append((columns, rows, [dict(zip(alert_columns, row, strict=True)) for row in alerts.fetchall()]))
    finally:
        con.close()
    for (run_id, status, as_of), (columns, rows, alert_rows) in zip(runs, shown, strict=True):
        click.echo(f"run {run_id} as of {as_of:%Y-%m-%d %H:%M:%S} UTC: {status}")
        render.write(columns, rows, "table")
        if alert_rows:
            from llmflation.flows.alerts import describe

            click.echo(f"alerts ({len(alert_rows)}):")
            for row in alert_rows:
                state = row["status"] if row["status"] == "sent" else f"{row['status']}: {row['last_error']}"
                click.echo(f"  {row['channel']} [{state}] {describe(row)}")
    return [status for _, status, _ in runs]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
