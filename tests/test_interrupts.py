"""Ctrl-C (SIGINT to the terminal's whole process group) or SIGTERM during `llmflation run`: the command stops at
once with one line, the warehouse is consistent, Prefect's flow run is not left Running, and the next run is clean."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from llmflation.flows.settings import Settings
from tests.helpers import TricklingServer, cli, cli_process, real, through_prefect
from tests.ledger_helpers import query

pytestmark = pytest.mark.e2e
LINE = "interrupted: the price run of litellm; the warehouse is consistent, rerun to continue"
ARGS = ("run", "--sources", "litellm", "--as-of", "2025-02-06T00:00:00Z")
FLOW_RUNS = """
from prefect.client.schemas.sorting import FlowRunSort
runs = client.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_ASC)
print(__import__("json").dumps([[run.name, run.state.type.value, run.state.name] for run in runs]))
"""


def _signalled(
    tmp_path: Path,
    args: tuple[str, ...],
    env: dict[str, str],
    started: Callable[[str], bool],
    *,
    number: signal.Signals = signal.SIGINT,
    group: bool = True,
    wait_s: float = 240,
) -> tuple[int, str]:
    """Start the command, signal it once started(its output so far) holds (the whole group as Ctrl-C does, or the
    process alone as `kill` does); its exit code and output."""
    log = tmp_path / f"{args[0]}-{number.name}.log"
    child = cli_process(*args, env={"HOME": str(tmp_path), **env}, cwd=tmp_path, embedded=True, output=log, group=True)
    try:
        deadline = time.monotonic() + wait_s
        while not started(log.read_text()) and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert started(log.read_text()) and child.poll() is None, log.read_text()
        (os.killpg if group else os.kill)(child.pid, number)
        code = child.wait(timeout=10)  # the bound: a few seconds in fact
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    return code, log.read_text()


def _trickled(tmp_path: Path, args: tuple[str, ...], variable: str, path: str, **how: Any) -> tuple[int, str]:
    """Signal the command a second after the source it fetches (served slowly, its body trickling) was asked."""
    with TricklingServer(every=0.5, size=10_000) as slow:

        def fetching(output: str) -> bool:
            if slow.requests and not asked:
                time.sleep(1)  # the body is trickling in
                asked.append(True)
            return bool(asked)

        asked: list[bool] = []

        return _signalled(tmp_path, args, {variable: slow.url + path}, fetching, **how)


def _stopped_with_one_line(code: int, output: str, expected_code: int, line: str) -> None:
    assert code == expected_code, output
    assert [text for text in output.splitlines() if text.startswith("interrupted")] == [line], output
    assert "Traceback" not in output and "Error logging to API" not in output, output


def _interrupt_a_slow_run(tmp_path: Path, number: signal.Signals, *, group: bool) -> tuple[int, str]:
    return _trickled(tmp_path, ARGS, "LLMFLATION_LITELLM_URL", "/map.json", number=number, group=group)


def _rerun(tmp_path: Path, httpserver: HTTPServer) -> subprocess.CompletedProcess[str]:
    httpserver.expect_request("/map.json").respond_with_data(real("litellm/model_prices_2025-02-06.json").read_bytes())
    env = {"HOME": str(tmp_path), "LLMFLATION_LITELLM_URL": httpserver.url_for("/map.json")}
    return cli(*ARGS, env=env, cwd=tmp_path, timeout=300, embedded=True)


def test_ctrl_c_stops_a_run_at_once_with_one_line_and_the_next_run_is_clean(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    code, output = _interrupt_a_slow_run(tmp_path, signal.SIGINT, group=True)
    _stopped_with_one_line(code, output, 130, LINE)
    settings = Settings(db=tmp_path / "data" / "llmflation.duckdb")
    assert query(settings, "SELECT status, note FROM runs") == [("aborted", "interrupted (SIGINT) before it finished")]
    assert query(settings, "SELECT count(*) FROM source_runs WHERE status = 'running'") == [(0,)]

    again = _rerun(tmp_path, httpserver)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "was left running" not in again.stderr  # the interrupted run had closed its flow run itself
    assert query(settings, "SELECT status FROM runs ORDER BY started_at") == [("aborted",), ("ok",)]
    # Prefect's own record, read back through its API: the interrupted flow run Crashed, the next one Completed
    assert through_prefect(tmp_path, FLOW_RUNS) == [
        ["prices-2025-02-06", "CRASHED", "Crashed"],
        ["prices-2025-02-06", "COMPLETED", "Completed"],
    ]


def test_sigterm_stops_a_run_with_143(tmp_path: Path, httpserver: HTTPServer) -> None:
    code, output = _interrupt_a_slow_run(tmp_path, signal.SIGTERM, group=False)
    _stopped_with_one_line(code, output, 143, LINE)
    settings = Settings(db=tmp_path / "data" / "llmflation.duckdb")
    assert query(settings, "SELECT status, note FROM runs") == [("aborted", "interrupted (SIGTERM) before it finished")]
    assert _rerun(tmp_path, httpserver).returncode == 0
    assert through_prefect(tmp_path, FLOW_RUNS) == [
        ["prices-2025-02-06", "CRASHED", "Crashed"],
        ["prices-2025-02-06", "COMPLETED", "Completed"],
    ]


def test_ctrl_c_stops_an_import_between_or_inside_documents_and_a_rerun_resumes(tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    saved.mkdir()
    for day in range(1, 13):
        (saved / f"model_prices_2025-01-{day:02d}.json").symlink_to(real("litellm/model_prices_2025-02-06.json"))
    args = ("import", "prices", "litellm", str(saved))
    env = {"HOME": str(tmp_path)}
    code, output = _signalled(tmp_path, args, {}, lambda output: " ok: " in output, wait_s=120)
    line = "interrupted: the import of litellm prices; the warehouse is consistent, rerun to continue"
    _stopped_with_one_line(code, output, 130, line)
    settings = Settings(db=tmp_path / "data" / "llmflation.duckdb")
    statuses = dict(query(settings, "SELECT status, count(*) FROM runs GROUP BY ALL"))
    assert 1 <= statuses.pop("ok") < 12 and set(statuses) <= {"aborted"}, statuses
    again = cli(*args, env=env, cwd=tmp_path, timeout=300, embedded=True)
    assert again.returncode == 0, again.stdout + again.stderr
    assert query(settings, "SELECT count(*) FROM runs WHERE status = 'ok'") == [(12,)]
    # one flow run per import, named from what it imports: the interrupted one Crashed
    assert through_prefect(tmp_path, FLOW_RUNS) == [
        ["import-litellm-12-versions", "CRASHED", "Crashed"],
        ["import-litellm-12-versions", "COMPLETED", "Completed"],
    ]


def test_ctrl_c_stops_the_census_at_once(tmp_path: Path) -> None:
    args = ("run", "--sources", "huggingface", "--census", "--as-of", "2026-12-01T00:00:00Z")
    code, output = _trickled(tmp_path, args, "LLMFLATION_HUGGINGFACE_URL", "/api/models")
    line = "interrupted: the census of the Hugging Face Hub; the warehouse is consistent, rerun to continue"
    _stopped_with_one_line(code, output, 130, line)
    settings = Settings(db=tmp_path / "data" / "llmflation.duckdb")
    assert query(settings, "SELECT flow, status, note FROM runs") == [
        ("census-adoption", "aborted", "interrupted (SIGINT) before it finished")
    ]
    assert through_prefect(tmp_path, FLOW_RUNS) == [["census-2026-12-01", "CRASHED", "Crashed"]]
