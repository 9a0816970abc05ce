"""Prefect's side of `llmflation run`: its temporary API server bound to this process.

Import this only after flows.settings.prefect_environment() is in os.environ: it imports prefect.
"""

from __future__ import annotations

import subprocess
from typing import Any

from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_API_URL

from flows import watchdog


class BoundServer(SubprocessASGIServer):
    """Prefect's temporary server, watched from the moment its process starts (flows.watchdog), so that it stops
    with this process even when this process is killed. Prefect itself stops it at a normal exit."""

    def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
        process = super()._run_uvicorn_command()
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
