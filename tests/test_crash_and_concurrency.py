"""A run killed mid-load leaves a consistent warehouse; two runs at once never both write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from llmflation.flows import ledger
from llmflation.flows.pipeline import run_prices
from llmflation.flows.settings import Settings
from tests.helpers import ROOT, cli, cli_process, real, ts, wait_until_stopped
from tests.ledger_helpers import query

SEGMENTS = "SELECT * FROM price_segments ORDER BY ALL"


def _serve(server: HTTPServer, name: str) -> str:
    server.clear()
    server.expect_request("/map.json").respond_with_data(real(f"litellm/{name}").read_bytes())
    return server.url_for("/map.json")


def test_sigkill_in_the_middle_of_a_load(settings: Settings, httpserver: HTTPServer, tmp_path: Path) -> None:
    first = settings.model_copy(update={"source_urls": {"litellm": _serve(httpserver, "model_prices_2025-02-06.json")}})
    assert run_prices(first, ["litellm"], ts("2025-02-06T00:00")).status == "ok"
    before = query(settings, SEGMENTS)

    url = _serve(httpserver, "model_prices_2025-03-14.json")
    # The child runs the real pipeline; it pauses inside the load transaction, after the history rebuild.
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from datetime import datetime, UTC
        from llmflation.warehouse import history
        real_fold = history.fold_run
        def fold_then_hang(*args, **kwargs):
            touched = real_fold(*args, **kwargs)
            print("IN-LOAD", flush=True)
            time.sleep(120)
            return touched
        history.fold_run = fold_then_hang
        from llmflation.flows.settings import Settings
        from llmflation.flows.pipeline import run_prices
        settings = Settings(db=Path({str(settings.db)!r}), source_urls={{"litellm": {url!r}}})
        run_prices(settings, ["litellm"], datetime(2025, 3, 14, tzinfo=UTC))
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "IN-LOAD"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
    # The killed load left nothing half-applied.
    assert query(settings, SEGMENTS) == before
    assert query(
        settings, "SELECT count(*) FROM observations o JOIN runs r USING (run_id) WHERE r.status = 'running'"
    ) == [(0,)]

    second = settings.model_copy(update={"source_urls": {"litellm": url}})
    assert run_prices(second, ["litellm"], ts("2025-03-14T00:00")).status == "ok"
    statuses = query(settings, "SELECT status, count(*) FROM runs GROUP BY ALL ORDER BY ALL")
    assert statuses == [("aborted", 1), ("ok", 2)]
    assert query(settings, "SELECT status, applied FROM source_runs WHERE status = 'aborted'") == [("aborted", False)]

    clean = Settings(db=tmp_path / "clean" / "w.duckdb")
    url = _serve(httpserver, "model_prices_2025-02-06.json")
    run_prices(clean.model_copy(update={"source_urls": {"litellm": url}}), ["litellm"], ts("2025-02-06T00:00"))
    url = _serve(httpserver, "model_prices_2025-03-14.json")
    run_prices(clean.model_copy(update={"source_urls": {"litellm": url}}), ["litellm"], ts("2025-03-14T00:00"))
    assert query(settings, SEGMENTS) == query(clean, SEGMENTS)


def test_a_second_cli_run_fails_at_once_with_a_clear_message(settings: Settings) -> None:
    with ledger.run_lock(settings):
        done = subprocess.run(
            [sys.executable, "-m", "llmflation", "run", "--db", str(settings.db), "--sources", "openrouter"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr == (
        f"error: another llmflation run is already writing to {settings.db} (lock {settings.lock_path}); "
        "wait for it to finish\n"
    )
    assert not settings.db.exists() or query(settings, "SELECT count(*) FROM runs") == [(0,)]


def test_two_runs_at_once_one_writes_the_other_refuses(settings: Settings, httpserver: HTTPServer) -> None:
    from werkzeug import Request, Response

    body = real("litellm/model_prices_2025-02-06.json").read_bytes()

    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return Response(body, content_type="application/json")

    httpserver.expect_request("/map.json").respond_with_handler(slow)
    url = httpserver.url_for("/map.json")
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from llmflation.flows.settings import Settings
        from llmflation.flows.pipeline import run_prices
        from llmflation.flows.ledger import RunInProgress
        settings = Settings(db=Path({str(settings.db)!r}), source_urls={{"litellm": {url!r}}})
        try:
            print(run_prices(settings, ["litellm"]).status)
        except RunInProgress as exc:
            print("refused:", exc)
    """)
    children = [
        subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outputs = sorted(child.communicate(timeout=120)[0].strip() for child in children)
    for child in children:
        child.stdout.close()
    assert outputs[0] == "ok"
    assert outputs[1].startswith("refused: another llmflation run is already writing to")
    assert query(settings, "SELECT status, count(*) FROM runs GROUP BY ALL") == [("ok", 1)]


@pytest.mark.e2e
def test_two_cli_runs_a_second_apart_one_runs_the_other_refuses_at_once(tmp_path: Path, httpserver: HTTPServer) -> None:
    from werkzeug import Request, Response

    body = real("litellm/model_prices_2025-02-06.json").read_bytes()

    def slow(request: Request) -> Response:
        time.sleep(3)
        return Response(body, content_type="application/json")

    httpserver.expect_request("/map.json").respond_with_handler(slow)
    env = {"HOME": str(tmp_path), "LLMFLATION_LITELLM_URL": httpserver.url_for("/map.json")}
    args = ("run", "--sources", "litellm", "--as-of", "2025-02-06T00:00:00Z")
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    children, started, ended = [], [], {}
    for log in logs:
        if children:
            time.sleep(1)
        started.append(time.monotonic())
        children.append(cli_process(*args, env=env, cwd=tmp_path, embedded=True, output=log))
    deadline = time.monotonic() + 300
    while len(ended) < 2 and time.monotonic() < deadline:
        for index, child in enumerate(children):
            if index not in ended and child.poll() is not None:
                ended[index] = time.monotonic()
        time.sleep(0.1)
    for child in children:
        if child.poll() is None:
            child.kill()
            child.wait()
    first, second = (log.read_text() for log in logs)
    settings = Settings(db=tmp_path / "data" / "llmflation.duckdb")
    # the second fails at once, before Prefect starts, with the lock's message and nothing else
    assert children[1].returncode == 1, second
    assert second == (
        f"error: another llmflation run is already writing to {Path('data') / 'llmflation.duckdb'} "
        f"(lock {Path('data') / 'llmflation.duckdb.lock'}); wait for it to finish\n"
    )
    assert ended[1] - started[1] < 10
    # the first ran alone and reports its own run
    assert children[0].returncode == 0, first
    ((run_id, status),) = query(settings, "SELECT run_id, status FROM runs")
    assert status == "ok"
    assert [line for line in first.splitlines() if line.startswith("run ")] == [
        f"run {run_id} as of 2025-02-06 00:00:00 UTC: ok"
    ], first


@pytest.mark.e2e
def test_a_killed_cli_run_leaves_no_prefect_server_and_the_next_run_marks_it_crashed(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    import socket
    import sqlite3
    import threading

    import psutil
    from werkzeug import Request, Response

    body = real("litellm/model_prices_2025-02-06.json").read_bytes()
    arrived, release = threading.Event(), threading.Event()

    def hang(request: Request) -> Response:
        arrived.set()
        release.wait(120)
        return Response(body, content_type="application/json")

    httpserver.expect_request("/map.json").respond_with_handler(hang)
    env = {"HOME": str(tmp_path), "LLMFLATION_LITELLM_URL": httpserver.url_for("/map.json")}
    args = ("run", "--sources", "litellm", "--as-of", "2025-02-06T00:00:00Z")
    child = cli_process(*args, env=env, cwd=tmp_path, embedded=True, output=tmp_path / "killed.log")
    try:
        assert arrived.wait(240), (tmp_path / "killed.log").read_text()
        helpers = psutil.Process(child.pid).children()  # read from /proc/<pid>/task/*/children on Linux
        servers = [p.pid for p in helpers if "uvicorn" in p.cmdline()]
        assert len(servers) == 1, [p.cmdline() for p in helpers]
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        release.set()

    left = wait_until_stopped([p.pid for p in helpers])
    for pid in left:  # never leave them behind, even when this test fails
        os.kill(pid, signal.SIGKILL)
    assert servers[0] not in left, "Prefect's temporary server outlived the killed run"
    assert not left

    def prefect_runs() -> tuple[list[tuple[str, str, str, str]], list[tuple[str, str]]]:
        con = sqlite3.connect(tmp_path / "data" / "prefect" / "prefect.db")
        try:
            flow_runs = con.execute("SELECT name, state_type, tags, id FROM flow_run ORDER BY created").fetchall()
            task_runs = con.execute("SELECT flow_run_id, state_type FROM task_run ORDER BY created").fetchall()
        finally:
            con.close()
        return flow_runs, task_runs

    ((killed_name, state, tags, killed_id),), _ = prefect_runs()
    assert state == "RUNNING"  # as the killed process left it
    assert f'"llmflation-run:{socket.gethostname()}:{child.pid}"' in tags

    httpserver.clear()
    httpserver.expect_request("/map.json").respond_with_data(body, content_type="application/json")
    done = cli(*args, env=env, cwd=tmp_path, timeout=300, embedded=True)
    assert done.returncode == 0, done.stdout + done.stderr
    flow_runs, task_runs = prefect_runs()
    assert [(name, state) for name, state, _, _ in flow_runs] == [(killed_name, "CRASHED"), (killed_name, "COMPLETED")]
    assert {state for run, state in task_runs if run == killed_id} <= {"CRASHED"}  # its fetch, if recorded
    assert (
        f"Prefect flow run {killed_name} was left running by a process that stopped (pid {child.pid}): marked Crashed\n"
    ) in done.stderr, done.stderr
    # the ledger's record of the killed run is closed too, and nothing is left running
    settings = Settings(db=tmp_path / "data" / "llmflation.duckdb")
    assert query(settings, "SELECT status, note FROM runs ORDER BY started_at") == [
        ("aborted", "the process stopped before it finished"),
        ("ok", None),
    ]
    assert query(settings, "SELECT count(*) FROM source_runs WHERE status = 'running'") == [(0,)]
