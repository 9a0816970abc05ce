"""Prefect's side of `llmflation run`: its temporary API server bound to this process, each flow run tagged with the
process that runs it, and `Crashed` for the flow runs of processes that died.

Import this only after flows.settings.prefect_environment() is in os.environ: it imports prefect.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import prefect
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    TaskRunFilter,
    TaskRunFilterFlowRunId,
    TaskRunFilterState,
    TaskRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_API_URL
from prefect.states import Crashed

from llmflation.flows import watchdog

TAG = "llmflation-run"  # then :HOST:PID of the process that runs the flow run
UNFINISHED = [StateType.PENDING, StateType.RUNNING]


class BoundServer(SubprocessASGIServer):
    """Prefect's temporary server, watched from the moment its process starts (flows.watchdog), so that it stops
    with this process even when this process is killed. Prefect itself stops it at a normal exit.

    It runs in a session of its own: Ctrl-C on a terminal signals the whole foreground process group, and a server
    stopped by it before llmflation has recorded the interrupt leaves the flow run `Running` and every log call
    failing. The interrupted process stops it afterwards, as at any exit."""

    def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
        # Prefect's own command line, started with start_new_session (its module's `subprocess` for the call only)
        module = sys.modules[SubprocessASGIServer.__module__]
        module.subprocess = SimpleNamespace(Popen=functools.partial(subprocess.Popen, start_new_session=True))  # type: ignore[attr-defined]
        try:
            process = super()._run_uvicorn_command()
        finally:
            module.subprocess = subprocess  # type: ignore[attr-defined]
        watchdog.watch(process.pid)
        return process

    def stop(self) -> None:
        process = self.server_process
        super().stop()
        if process is not None:
            watchdog.forget(process.pid)


def start_server() -> None:
    """Start Prefect's temporary API server now, bound to this process, unless a Prefect API is configured."""
    if PREFECT_API_URL.value():
        return
    # Prefect's clients start and use the server registered for no port: registered first, this one is it.
    server = BoundServer()
    server.start()
    if server.server_process is not None:  # watched already, unless Prefect had started one before
        watchdog.watch(server.server_process.pid)


@contextmanager
def tagged() -> Iterator[None]:
    """Flow runs started in the block carry this process's host and id, which tell whether it is still alive."""
    with prefect.tags(f"{TAG}:{socket.gethostname()}:{os.getpid()}"):
        yield


def crash_runs_of_stopped_processes() -> list[tuple[FlowRun, int]]:
    """Mark `Crashed` the unfinished flow runs (and their unfinished task runs) whose `llmflation run` process on
    this host is gone; returns each with that process's id. Runs of other hosts, and untagged runs (those of
    `llmflation serve`, whose own runner reports a crashed run), are left alone."""
    host = socket.gethostname()
    crashed = []
    with get_client(sync_client=True) as client:
        unfinished = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=UNFINISHED)))
        )
        for flow_run in unfinished:
            pid = _stopped_process(flow_run.tags, host)
            if pid is None:
                continue
            message = f"the llmflation process running it (pid {pid} on {host}) stopped before it finished"
            client.set_flow_run_state(flow_run.id, Crashed(message=message), force=True)
            task_runs = client.read_task_runs(
                task_run_filter=TaskRunFilter(
                    flow_run_id=TaskRunFilterFlowRunId(any_=[flow_run.id]),
                    state=TaskRunFilterState(type=TaskRunFilterStateType(any_=UNFINISHED)),
                )
            )
            for task_run in task_runs:
                client.set_task_run_state(task_run.id, Crashed(message=message), force=True)
            crashed.append((flow_run, pid))
    return crashed


def _stopped_process(tags: list[str], host: str) -> int | None:
    """The id of the process named by the run's tag, if it ran on this host and no longer exists."""
    for tag in tags:
        name, _, where = tag.partition(":")
        tag_host, _, pid = where.rpartition(":")
        if name == TAG and tag_host == host and pid.isdigit():
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                return int(pid)
            except PermissionError:  # alive, another user's: the id was reused
                return None
            return None
    return None
