"""The work of `llmflation run` and `llmflation import prices` through Prefect: the run lock, Prefect's temporary
server, the flows, and the table of each run printed afterwards.

Imports prefect only inside its functions: the command line imports this module before setting Prefect's
environment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from llmflation.flows import ledger
from llmflation.flows.settings import Settings, use_own_prefect


def describe_run(names: list[str], census: bool) -> str:
    """What `llmflation run` does, for the line an interrupt prints: `the price run of litellm`."""
    from llmflation.extractors.base import is_adoption

    prices = [name for name in names if not is_adoption(name)]
    parts = []
    if prices:
        parts.append(f"the price run of {', '.join(prices) if len(prices) <= 3 else f'{len(prices)} sources'}")
    if len(prices) < len(names):
        parts.append("the census of the Hugging Face Hub" if census else "the adoption run of huggingface")
    return " and ".join(parts)


@contextmanager
def prefect_session(settings: Settings, wait_s: float = 0) -> Iterator[None]:
    """Hold the run lock for the whole command, from before Prefect starts (a second run fails at once however close
    together they start, an import waits wait_s for it; every run started meanwhile is this command's own); wait for
    an open query; start Prefect's temporary server; mark Crashed the flow runs of processes that died; tag this
    process's flow runs."""
    from llmflation.warehouse import db as warehouse_db

    with ledger.run_lock(settings, wait_s=wait_s):
        # an open query holds the file too: wait for it (LLMFLATION_LOCK_WAIT), saying which
        warehouse_db.connect(
            settings.db, wait_s=5, query_wait_s=settings.lock_wait, on_wait=lambda line: click.echo(line, err=True)
        ).close()
        use_own_prefect(settings)
        from llmflation.flows import prefect_runs
        from llmflation.flows.progress import SHOWN, show_logs

        show_logs(SHOWN["verbosity"])

        prefect_runs.start_server()
        for flow_run, pid in prefect_runs.crash_runs_of_stopped_processes():
            click.echo(
                f"Prefect flow run {flow_run.name} was left running by a process that stopped (pid {pid}): "
                "marked Crashed",
                err=True,
            )
        with prefect_runs.tagged():
            yield


def run(settings: Settings, names: list[str], census: bool, observed_at: datetime | None) -> list[str]:
    """The price flow for the price sources, the adoption flow (or the census) for huggingface; prints each run's
    table and returns the statuses of the runs."""
    from llmflation.extractors.base import is_adoption

    price_names = [name for name in names if not is_adoption(name)]
    statuses: list[str] = []
    with prefect_session(settings):
        if price_names:
            from llmflation.flows.pricing import track_prices

            statuses += flow_statuses(
                settings,
                lambda: track_prices(sources=price_names, as_of=observed_at, db=str(settings.db), return_state=True),
            )
        if len(price_names) < len(names):
            from llmflation.flows.adoption import census_adoption, track_adoption

            adoption_flow = census_adoption if census else track_adoption
            statuses += flow_statuses(
                settings, lambda: adoption_flow(as_of=observed_at, db=str(settings.db), return_state=True)
            )
    return statuses


def import_prices(settings: Settings, source: str, count: int, **parameters: Any) -> list[str]:
    """The import flow, named from what it imports (`import-litellm-640-versions`); what each document did."""
    with prefect_session(settings, wait_s=settings.lock_wait):
        from llmflation.flows.importing import import_prices as flow
        from llmflation.flows.importing import run_name

        state = flow.with_options(flow_run_name=run_name(source, count))(
            source=source, db=str(settings.db), return_state=True, **parameters
        )
    if state.is_failed():
        failure = state.result(raise_on_failure=False)
        if isinstance(failure, BaseException):
            raise failure
    return list(state.result())


def flow_statuses(settings: Settings, start: Callable[[], Any]) -> list[str]:
    """Run a flow (start() returns its final state), print the runs it recorded, and return their statuses."""
    since = datetime.now(UTC)
    state = start()
    _raise_warehouse_failure(state)
    from llmflation.flows.query import print_runs

    return print_runs(settings.db, since) or [f"failed: {state.message}"]


def _raise_warehouse_failure(state: Any) -> None:
    """A flow stopped by the warehouse itself (damaged, unreadable) ends the command with that error."""
    if not state.is_failed():
        return
    from llmflation.warehouse.db import WarehouseError, is_damage

    failure = state.result(raise_on_failure=False)
    if isinstance(failure, WarehouseError) or is_damage(failure):
        raise failure
