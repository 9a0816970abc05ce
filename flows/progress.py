"""Progress of long commands: a rich bar on a terminal (items done, total, rate, time left), nothing in pipes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

# -q: -1 (errors and the result only: no bar, no log line), -v: 1 (Prefect's own lines too); set by the CLI
SHOWN = {"verbosity": 0}


def show_logs(verbosity: int) -> None:
    """What the console log handlers print: -1 (-q) errors only, 0 llmflation's own lines (Prefect's own info
    lines, such as "Finished in state Completed()", left out), 1 (-v) everything. Prefect's API log handler, which
    feeds its UI, keeps every line."""
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()  # Prefect's handlers exist from here on
    shown = _Shown(verbosity)
    for handler in _all_handlers():
        if isinstance(handler, logging.StreamHandler):
            handler.addFilter(shown)


class _Shown(logging.Filter):
    def __init__(self, verbosity: int) -> None:
        super().__init__()
        self.verbosity = verbosity
        import prefect

        self.prefect_dir = str(Path(prefect.__file__).parent)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR or self.verbosity > 0:
            return True
        if self.verbosity < 0:
            return False
        return record.levelno >= logging.WARNING or not record.pathname.startswith(self.prefect_dir)


class RateColumn(ProgressColumn):
    """Items per second, or per minute when slower than one a second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("")
        return Text(f"{speed:.1f}/s" if speed >= 1 else f"{speed * 60:.1f}/min")


class Tracker:
    """Echoes one result line per item (above the bar on a terminal) and advances the bar."""

    def __init__(self, progress: Progress | None = None, task: int | None = None) -> None:
        self._progress, self._task = progress, task

    def total(self, count: int) -> None:
        """How many items there are to do."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=count)

    def __call__(self, line: str | None = None) -> None:
        if line:
            click.echo(line)
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)


@contextmanager
def progress_bar(description: str, unit: str = "versions", total: int | None = None) -> Iterator[Tracker]:
    """A Tracker with a bar on stderr when that is a terminal; otherwise it only echoes the lines. While the bar
    shows, log handlers that print through a rich console (Prefect's) print through the bar's, above it."""
    console = Console(stderr=True)
    if not console.is_terminal or SHOWN["verbosity"] < 0:
        yield Tracker()
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        RateColumn(),
        TimeRemainingColumn(),
    )
    # result lines go to stdout: above the bar when stdout is the terminal too, untouched when it is redirected
    handlers = [h for h in _all_handlers() if isinstance(getattr(h, "console", None), Console)]
    consoles = [h.console for h in handlers]  # type: ignore[attr-defined]
    with Progress(
        *columns, console=console, transient=True, redirect_stdout=sys.stdout.isatty(), redirect_stderr=False
    ) as progress:
        for handler in handlers:
            handler.console = console  # type: ignore[attr-defined]
        try:
            yield Tracker(progress, progress.add_task(description, total=total))
        finally:
            for handler, own in zip(handlers, consoles, strict=True):
                handler.console = own  # type: ignore[attr-defined]


def _all_handlers() -> list[logging.Handler]:
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    return list({id(h): h for logger in loggers for h in logger.handlers}.values())
