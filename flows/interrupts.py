"""Ctrl-C and SIGTERM during a run, an import or the census: every fetch ends at once, the run unwinds (a load in
progress rolls back, the ledger marks the run aborted, Prefect marks its flow run Crashed), and the command prints one
line and exits 128 + the signal's number.

Two layers, because Prefect's flow engine puts its own SIGTERM handler in place while a flow runs:

    with interrupts.handled("the price run of litellm"):   # the command: what runs, and a handler for both signals
        track_prices(...)                                   # its flow body runs under `stopping()`, which ends the
                                                            # fetches first, then hands the signal on (to Prefect's)

Later signals of the same interrupt are ignored, so a second Ctrl-C never cuts the cleanup short. Standard library
only: the command line imports it before Prefect.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from llmflation.extractors import deadlines

SIGNALS = (signal.SIGINT, signal.SIGTERM)
MESSAGE = "interrupted: {what}; the warehouse is consistent, rerun to continue"

_received: list[int] = []  # the signal that interrupted this process, once one has
_doing: list[str] = []  # what the command is doing, while `handled` is in force


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread by the first SIGINT or SIGTERM of a handled command."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def received() -> int | None:
    """The signal that interrupted this process, or None."""
    return _received[0] if _received else None


def message() -> str | None:
    """The line a handled command prints when interrupted, or None outside one."""
    return MESSAGE.format(what=_doing[-1]) if _doing else None


def _first(signum: int) -> bool:
    """Note the signal; True for the first of this process, which also ends every fetch."""
    if _received:
        return False
    _received.append(signum)
    deadlines.stop_all()
    return True


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _first(signum):
        raise Interrupted(signum)


@contextmanager
def handled(what: str) -> Iterator[None]:
    """Run a command's work: the first SIGINT or SIGTERM ends its fetches and raises Interrupted; `what` names the
    work in the line printed (message())."""
    previous = {number: signal.signal(number, _on_signal) for number in SIGNALS}
    _doing.append(what)
    try:
        yield
    finally:
        if not _received:  # once interrupted, the handler stays (later signals wait for the cleanup), and so does what
            _doing.pop()
            for number, handler in previous.items():
                signal.signal(number, handler)


@contextmanager
def stopping() -> Iterator[None]:
    """Inside a flow: a signal ends every fetch first, then goes to the handler that was in place (Prefect's for
    SIGTERM, which marks the flow run Crashed; the command's, or Python's KeyboardInterrupt, for SIGINT). Under a
    handled command, later signals are ignored. An error that an interrupt caused (DuckDB turns one into `Query
    interrupted`) leaves the flow as the interrupt, so that Prefect marks the run Crashed, not Failed. Outside the main
    thread (a flow run in a worker thread), no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in SIGNALS}

    def chained(signum: int, frame: FrameType | None) -> None:
        first = _first(signum)
        handler: Callable[..., Any] | int | None = previous[signal.Signals(signum)]
        if not first and _doing:
            return
        if handler == signal.SIG_IGN:
            return
        if handler is _on_signal or not callable(handler):
            if first:
                raise Interrupted(signum)
            return
        handler(signum, frame)

    for number in SIGNALS:
        signal.signal(number, chained)
    try:
        yield
    except Exception:
        if _received:  # what the interrupt became on its way (DuckDB: `Query interrupted`) is the interrupt
            raise Interrupted(_received[0]) from None
        raise
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
