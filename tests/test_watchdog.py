"""The watchdog stops the servers a process started when that process dies, SIGKILL included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import psutil

from tests.helpers import ROOT, process_running, wait_until_stopped

PARENT = textwrap.dedent("""
    import subprocess, sys
    from llmflation.flows import watchdog
    servers = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]) for _ in range(2)]
    for server in servers:
        watchdog.watch(server.pid)
    watchdog.forget(servers[1].pid)  # no longer this process's to stop
    print(*[server.pid for server in servers], flush=True)
    sys.stdin.readline()  # killed meanwhile, or told to exit
""")


def _parent() -> tuple[subprocess.Popen[str], list[int], list[int]]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert parent.stdout is not None
    watched, forgotten = (int(pid) for pid in parent.stdout.readline().split())
    helpers = [p.pid for p in psutil.Process(parent.pid).children() if p.pid not in (watched, forgotten)]
    return parent, [watched, forgotten], helpers


def _clean_up(parent: subprocess.Popen[str], pids: list[int]) -> None:
    for stream in (parent.stdin, parent.stdout):
        if stream is not None:
            stream.close()
    parent.wait()
    for pid in pids:
        if process_running(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_killed_process_takes_its_watched_servers_with_it() -> None:
    parent, (watched, forgotten), helpers = _parent()
    try:
        assert len(helpers) == 1  # the watchdog
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert wait_until_stopped([watched, *helpers]) == []
        assert process_running(forgotten)
    finally:
        _clean_up(parent, [watched, forgotten, *helpers])


def test_a_process_that_exits_stops_what_it_still_watches_and_its_watchdog_ends() -> None:
    parent, (watched, forgotten), helpers = _parent()
    try:
        assert len(helpers) == 1
        assert parent.stdin is not None
        parent.stdin.write("exit\n")
        parent.stdin.flush()
        assert parent.wait(timeout=30) == 0
        assert wait_until_stopped([watched, *helpers]) == []
        assert process_running(forgotten)
    finally:
        _clean_up(parent, [watched, forgotten, *helpers])
