"""The census's stager processes, apart from the flow that uses them: a spawned process unpickles its Process class
first, so this module imports nothing but the standard library."""

from __future__ import annotations

import multiprocessing
import signal
import sys
import types
from concurrent.futures import ProcessPoolExecutor
from typing import Any


class Stager(multiprocessing.context.SpawnProcess):
    """A spawned process that does not run the parent's __main__ first. Spawning runs __main__ again as __mp_main__
    (for `llmflation`, its script and the CLI with all it imports, DuckDB included; or a bench, or a test runner);
    a stager's tasks live in modules of their own and import only what they use, so it starts while a bare
    __main__ stands in."""

    @staticmethod
    def _Popen(process_obj: multiprocessing.process.BaseProcess) -> Any:  # multiprocessing's hook for starting one
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            return multiprocessing.context.SpawnProcess._Popen(process_obj)
        finally:
            sys.modules["__main__"] = main


class StagerContext(multiprocessing.context.SpawnContext):
    Process = Stager


def pool(workers: int) -> ProcessPoolExecutor:
    """Processes spawned (not forked from a parent holding threads and a DuckDB connection), without the parent's
    __main__, deaf to Ctrl-C: the census that started them stops them, after the batch in hand."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=StagerContext(), initializer=_ignore_interrupts)


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
