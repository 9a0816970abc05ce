"""`llmflation sql` on a real warehouse, in real processes: rows streamed in bounded memory, Ctrl-C and --timeout
stop a query cleanly, and a run that finds a query holding the warehouse waits for it by name."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from pytest_httpserver import HTTPServer

from llmflation.flows.settings import Settings
from llmflation.warehouse import queries
from tests.helpers import ROOT, cli, openrouter_body, real, ts
from tests.ledger_helpers import openrouter_payload, query, run_once

EXACT = "\0"  # a decimal's text in `expected`, written as a number
ENDLESS = "SELECT count(*) FROM range(1000000000000000)"


def _environ(extra: dict[str, str] | None = None, embedded: bool = False) -> dict[str, str]:
    dropped = ("LLMFLATION_", "PREFECT_") if embedded else ("LLMFLATION_",)
    return {**{k: v for k, v in os.environ.items() if not k.startswith(dropped)}, **(extra or {})}


def _start(args: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "llmflation", *args]
    return subprocess.Popen(
        command, cwd=cwd, env=env or _environ(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _open_query(db: Path, child: subprocess.Popen[str]) -> queries.OpenQuery:
    """The record a running `sql` leaves beside the warehouse, once it is there."""
    record = queries.record_path(db, child.pid)
    while not record.exists():
        assert child.poll() is None, child.communicate()
        time.sleep(0.05)
    [found] = [q for q in queries.open_queries(db) if q.pid == child.pid]
    return found


def _count_json_items(stream: IO[str], on_blocks: Callable[[], None] = lambda: None) -> tuple[int, dict]:
    """Items of the JSON array `sql --format json` writes (one ' {' ... ' }' block per record), read as it comes:
    every 10,000 blocks are parsed together (and on_blocks called), so the whole text is checked without ever being
    held."""
    assert stream.readline() == "[\n"
    count, block, closed = 0, [], 0
    for line in stream:
        if line == "]\n":
            assert block and block[-1] == " }\n", block[-3:]
            items = json.loads("[" + "".join(block) + "]")
            assert stream.read() == ""
            return count + len(items), items[-1]
        block.append(line)
        if line == " },\n":
            closed += 1
            if closed == 10_000:
                count += len(json.loads("[" + "".join(block)[:-2] + "]"))
                block, closed = [], 0
                on_blocks()
    raise AssertionError("the JSON array was never closed")


def test_ten_million_rows_stream_as_json_in_bounded_memory(warehouse: Settings) -> None:
    sql = "SELECT range AS i, 'row ' || range AS label FROM range(10000000)"
    child = _start(["sql", sql, "--format", "json", "--db", str(warehouse.db)])
    assert child.stdout is not None and child.stderr is not None
    # On Linux the child's own high-water mark, read while it runs: its ru_maxrss counts this test process's pages
    # too (a vforked child inherits its parent's peak), which a session fixture may have made large.
    status_file = Path(f"/proc/{child.pid}/status")
    peaks = [0.0]

    def sample() -> None:
        if status_file.exists():
            [line] = [x for x in status_file.read_text().splitlines() if x.startswith("VmHWM:")]
            peaks.append(int(line.split()[1]) / 1024)

    count, last = _count_json_items(child.stdout, sample)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    assert (child.returncode, child.stderr.read()) == (0, "")
    child.stdout.close()
    child.stderr.close()
    assert (count, last) == (10_000_000, {"i": 9_999_999, "label": "row 9999999"})
    if sys.platform == "linux":
        peak_mb = max(peaks)
        assert len(peaks) > 100  # sampled all along
    else:
        peak_mb = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20
    assert peak_mb < 300, f"peak RSS {peak_mb:.0f} MB"


def test_json_and_csv_are_written_as_before_across_batches(warehouse: Settings) -> None:
    """What json.dumps(records, indent=1) and csv.writer wrote for the whole list at once, over several batches,
    with a repeated name (its last value, in its first place), nested values, escapes, decimals (as numbers in
    their exact digits, trailing zeros trimmed) and dates."""
    db = str(warehouse.db)
    sql = (
        "SELECT range AS a, 'é\"' || chr(10) || range AS b, range * 2 AS a, [range, NULL] AS l, "
        "{'k': 'v', 'n': [1.5::DOUBLE]} AS s, NULL AS n, range / 4 AS f, (range / 8)::DECIMAL(10, 3) AS d, "
        "DATE '2026-01-02' + range::INTEGER AS day, range % 2 = 0 AS even FROM range(5000)"
    )
    expected = [
        {
            "a": a2,
            "b": b,
            "l": xs,
            "s": s,
            "n": n,
            "f": f,
            "d": EXACT + format(d.normalize(), "f"),
            "day": day.isoformat(),
            "even": even,
        }
        for _, b, a2, xs, s, n, f, d, day, even in query(warehouse, sql)
    ]
    done = cli("sql", sql, "--format", "json", "--db", db)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == re.sub(r'"\\u0000([^"]*)"', r"\1", json.dumps(expected, indent=1)) + "\n"
    assert cli("sql", "SELECT * FROM range(0)", "--format", "json", "--db", db).stdout == "[]\n"
    sql = "SELECT range AS i, (range / 8)::DECIMAL(10, 3) AS d, DATE '2026-01-02' + range::INTEGER AS day "
    sql += "FROM range(5000)"
    lines = [f"{i},{format(d.normalize(), 'f')},{day.isoformat()}\n" for i, d, day in query(warehouse, sql)]
    assert cli("sql", sql, "--format", "csv", "--db", db).stdout == "i,d,day\n" + "".join(lines)


def test_a_terminal_table_shows_the_first_ten_thousand_rows_and_says_so(warehouse: Settings) -> None:
    db = str(warehouse.db)
    whole = cli("sql", "SELECT * FROM range(10000)", "--db", db)
    assert (whole.returncode, whole.stderr) == (0, "")
    more = cli("sql", "SELECT * FROM range(10000000)", "--db", db)
    assert (more.returncode, more.stderr) == (0, "showing the first 10000 rows; --format csv or json writes them all\n")
    assert more.stdout == whole.stdout  # the same first rows, the same table


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_ctrl_c_stops_a_long_query_and_exits_130_within_two_seconds(warehouse: Settings, fmt: str) -> None:
    child = _start(["sql", ENDLESS, "--format", fmt, "--db", str(warehouse.db)])
    _open_query(warehouse.db, child)
    time.sleep(0.5)  # inside DuckDB by now
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=2)
    assert (child.returncode, err, out) == (130, "interrupted\n", "")
    assert queries.open_queries(warehouse.db) == []
    assert not queries.record_path(warehouse.db, child.pid).exists()


def test_a_timeout_stops_an_endless_query_with_one_line(warehouse: Settings) -> None:
    recursive = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT max(n) FROM r"
    for sql, fmt in ((ENDLESS, "table"), (recursive, "json")):
        done = cli("sql", sql, "--timeout", "1", "--format", fmt, "--db", str(warehouse.db))
        assert (done.returncode, done.stderr, done.stdout) == (
            1,
            "error: the query ran past --timeout 1 s and was stopped\n",
            "",
        ), sql
    assert cli("sql", "SELECT 42 AS answer", "--timeout", "1", "-f", "csv", "--db", str(warehouse.db)).stdout == (
        "answer\n42\n"
    )


def test_a_run_gives_up_on_a_query_after_lock_wait_and_names_it(warehouse: Settings) -> None:
    child = _start(["sql", ENDLESS, "--db", str(warehouse.db)])
    try:
        held = _open_query(warehouse.db, child)
        done = cli("run", "--sources", "openrouter", "--db", str(warehouse.db), env={"LLMFLATION_LOCK_WAIT": "1"})
    finally:
        child.send_signal(signal.SIGINT)
        child.communicate(timeout=10)
    since = f"{held.started_at:%Y-%m-%d %H:%M:%S}"
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"waiting for a query to end before writing to {warehouse.db} (pid {child.pid}, since {since} UTC): {ENDLESS}\n"
        f"error: a query still holds the warehouse {warehouse.db} after waiting 1 s (pid {child.pid}, since {since} "
        f"UTC): {ENDLESS}\n"
    )
    assert query(warehouse, "SELECT count(*) FROM runs") == [(1,)]


@pytest.mark.e2e
def test_a_run_waits_for_an_open_query_names_it_and_goes_on_when_it_ends(
    warehouse: Settings, httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/api/v1/models").respond_with_data(
        openrouter_body(real("openrouter/openrouter_models_2025-12-29.json"))
    )
    sql = _start(["sql", f"{ENDLESS}\n  -- the analyst's long one", "--db", str(warehouse.db)])
    held = _open_query(warehouse.db, sql)
    env = _environ({"HOME": str(tmp_path), "LLMFLATION_OPENROUTER_URL": httpserver.url_for("/api/v1/models")}, True)
    run = _start(["run", "--sources", "openrouter", "--db", str(warehouse.db)], cwd=tmp_path, env=env)
    assert run.stderr is not None
    try:
        waiting = run.stderr.readline()
    finally:
        sql.send_signal(signal.SIGINT)  # the analyst gives up
        assert sql.communicate(timeout=10)[1] == "interrupted\n"
    assert waiting == (
        f"waiting for a query to end before writing to {warehouse.db} (pid {sql.pid}, since "
        f"{held.started_at:%Y-%m-%d %H:%M:%S} UTC): {ENDLESS} -- the analyst's long one\n"
    )
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, out + err
    assert out.splitlines()[0].endswith(" UTC: ok") and "error" not in err, out + err
    assert query(warehouse, "SELECT status, count(*) FROM runs GROUP BY ALL") == [("ok", 2)]


def test_a_query_record_left_by_a_dead_process_is_ignored_and_removed(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = queries.record_path(db, gone.pid)
    stale.write_text(json.dumps({"pid": gone.pid, "started_at": "2026-01-01T00:00:00+00:00", "query": "SELECT 1"}))
    with queries.recorded(db, "SELECT 2"):
        [mine] = queries.open_queries(db)
        assert (mine.pid, mine.text) == (os.getpid(), "SELECT 2")
    assert queries.open_queries(db) == []
    assert not stale.exists() and list(tmp_path.iterdir()) == []


def test_every_run_step_waits_for_a_query_up_to_lock_wait_and_names_it(
    warehouse: Settings, caplog: pytest.LogCaptureFixture
) -> None:

    from llmflation.warehouse.db import WarehouseError

    payload = openrouter_payload({"x/a": {"prompt": "0.000001", "completion": "0.000003"}})
    child = _start(["sql", ENDLESS, "--timeout", "2", "--db", str(warehouse.db)])  # ends by itself
    held = _open_query(warehouse.db, child)
    with caplog.at_level("WARNING", logger="llmflation.ledger"):
        assert run_once(warehouse, "openrouter", payload, ts("2026-01-02T00:00")).status == "ok"
    assert child.communicate(timeout=10)[1] == "error: the query ran past --timeout 2 s and was stopped\n"
    assert caplog.messages[0] == (
        f"waiting for a query to end before writing to {warehouse.db} (pid {child.pid}, since "
        f"{held.started_at:%Y-%m-%d %H:%M:%S} UTC): {ENDLESS}"
    )
    child = _start(["sql", ENDLESS, "--db", str(warehouse.db)])
    try:
        _open_query(warehouse.db, child)
        with pytest.raises(
            WarehouseError, match=rf"^a query still holds the warehouse .* after waiting 0.5 s \(pid {child.pid}, "
        ):
            run_once(warehouse.model_copy(update={"lock_wait": 0.5}), "openrouter", payload, ts("2026-01-03T00:00"))
    finally:
        child.send_signal(signal.SIGINT)
        child.communicate(timeout=10)
