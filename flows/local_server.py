"""A Prefect server for `llmflation serve` when the user has configured none.

Prefect's ephemeral API runs flows but never schedules them, so a long-lived schedule needs a real server.
This starts `prefect server start` on a free loopback port, with its state in llmflation's data folder, and
stops it when the serving process ends, even by SIGKILL (flows.watchdog).
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from llmflation.extractors.errors import LlmflationError
from llmflation.flows import watchdog


class ServerError(LlmflationError):
    """The local Prefect server did not start."""


@contextmanager
def local_prefect_server(log_path: Path, startup_timeout: float = 120.0) -> Iterator[str]:
    """Run a Prefect server on 127.0.0.1 for the duration of the block; yields its API URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the serving process, which then stops the server itself
            env={**os.environ, "PREFECT_UI_ENABLED": os.environ.get("PREFECT_UI_ENABLED", "true")},
        )
    watchdog.watch(process.pid)  # stopped with the serving process even if that is killed
    atexit.register(_stop, process)
    try:
        _wait_healthy(process, url, log_path, startup_timeout)
        yield url
    finally:
        _stop(process)


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise ServerError(f"the local Prefect server exited with {process.returncode}: {tail[0]}")
        try:
            if requests.get(f"{url}/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    _stop(process)
    raise ServerError(f"the local Prefect server did not answer within {timeout:.0f} s (log: {log_path})")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    watchdog.forget(process.pid)
