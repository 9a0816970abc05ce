"""The llmflation command line. Query commands (sql, status, sources) never import prefect."""

from __future__ import annotations

import csv
import json
import os
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from extractors.errors import LlmflationError
from flows.settings import ConfigError, Settings, prefect_environment

app = typer.Typer(
    name="llmflation",
    help="Track LLM API prices and open-model adoption into DuckDB, and query them with SQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
DEBUG = {"on": False}

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="Warehouse file [default: $LLMFLATION_DB or ./data/llmflation.duckdb]"),
]


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class UserError(LlmflationError):
    """A mistake the user can fix; printed as one line."""


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    DEBUG["on"] = debug or os.environ.get("LLMFLATION_DEBUG") == "1"


@app.command()
def run(
    sources: Annotated[
        str | None, typer.Option("--sources", help="Comma-separated sources [default: all]")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Observation time, ISO 8601 (replays, backfills) [default: now]"),
    ] = None,
    db: DbOption = None,
) -> None:
    """Run the price flow once, on the embedded defaults (a local DuckDB file and Prefect's ephemeral API)."""
    from extractors.base import parse_source_list
    from flows import pipeline
    from warehouse import db as warehouse_db

    settings = Settings.from_env(db=db)
    names = parse_source_list(sources)
    observed_at = parse_timestamp(as_of) if as_of else None
    with pipeline.run_lock(settings):  # fail fast, before Prefect starts, if another run is writing
        warehouse_db.connect(settings.db, wait_s=5).close()
    os.environ.update(prefect_environment(settings))
    from flows.pricing import track_prices

    state = track_prices(sources=names, as_of=observed_at, db=str(settings.db), return_state=True)
    status = _print_last_run(settings)
    if state.is_failed() and status is None:
        raise UserError(f"the run failed: {state.message}")
    raise typer.Exit(0 if status == "ok" else 1)


@app.command()
def serve(
    cron: Annotated[
        str | None, typer.Option(help="Cron schedule in UTC [default: $LLMFLATION_CRON or 0 3 * * *]")
    ] = None,
    db: DbOption = None,
) -> None:
    """Run the nightly schedule in this process (Prefect's ephemeral API unless one is configured)."""
    settings = Settings.from_env(db=db)
    os.environ.update(prefect_environment(settings))
    from prefect.schedules import Cron

    from flows.pricing import track_prices

    track_prices.serve(
        name="nightly",
        schedules=[Cron(cron or settings.cron, timezone="UTC")],
        parameters={"db": str(settings.db.resolve())},
        tags=["llmflation"],
    )


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A read-only SQL query")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format")] = Format.table,
    db: DbOption = None,
) -> None:
    """Run read-only SQL against the warehouse."""
    import duckdb

    from warehouse.db import connect

    con = connect(Settings.from_env(db=db).db, read_only=True, wait_s=10)
    try:
        cursor = con.execute(query)
        columns = [d[0] for d in cursor.description] if cursor.description else []
        rows = cursor.fetchall() if columns else []
    except duckdb.Error as exc:
        raise UserError(f"SQL error: {_first_line(exc)}") from exc
    finally:
        con.close()
    _print_rows(columns, rows, fmt)


@app.command()
def status(
    db: DbOption = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format")] = Format.table,
) -> None:
    """Show the last run of each source: status, counts, reason and hours since its last success."""
    from warehouse.db import connect

    con = connect(Settings.from_env(db=db).db, read_only=True, wait_s=10)
    try:
        cursor = con.execute(
            "SELECT source, status, last_run_at, last_observed_at, rows, loaded, rejected, hours_since_ok, "
            "reason FROM source_health ORDER BY source"
        )
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        con.close()
    if not rows and fmt is Format.table:
        typer.echo("no runs yet; start one with `llmflation run`")
        return
    _print_rows(columns, rows, fmt)


@app.command()
def sources(
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format")] = Format.table,
) -> None:
    """List the sources, the URL each fetches (after LLMFLATION_<SOURCE>_URL overrides) and their maturity."""
    from extractors.base import PRICE_SOURCES, source_module

    settings = Settings.from_env()
    rows = []
    for name in PRICE_SOURCES:
        module = source_module(name)
        url = settings.url_for(name)
        rows.append(
            (
                name,
                "experimental" if getattr(module, "EXPERIMENTAL", False) else "stable",
                url + (" (overridden)" if url != module.URL else ""),
                module.DESCRIPTION,
            )
        )
    _print_rows(["source", "maturity", "url", "description"], rows, fmt)


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 date or timestamp; a value without a zone is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise UserError(
            f"--as-of {text!r} is not an ISO 8601 timestamp (for example 2025-12-29T18:00:00Z)"
        ) from exc
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


def _print_last_run(settings: Settings) -> str | None:
    from warehouse.db import connect

    con = connect(settings.db, read_only=True, wait_s=10)
    try:
        last = con.execute(
            "SELECT run_id, status, as_of FROM runs ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
        if last is None:
            return None
        cursor = con.execute(
            "SELECT source, status, items AS models, parsed, rejected, loaded, error AS reason "
            "FROM source_runs WHERE run_id = ? ORDER BY source",
            [last[0]],
        )
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        con.close()
    _print_rows(
        columns, rows, Format.table, title=f"run {last[0]} as of {last[2]:%Y-%m-%d %H:%M:%S %Z}: {last[1]}"
    )
    return last[1]


def _print_rows(
    columns: list[str], rows: list[tuple[Any, ...]], fmt: Format, title: str | None = None
) -> None:
    if fmt is Format.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_plain(v) for v in row] for row in rows])
    elif fmt is Format.json:
        records = [{c: _plain(v, for_json=True) for c, v in zip(columns, row, strict=True)} for row in rows]
        sys.stdout.write(json.dumps(records, indent=1) + "\n")
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, show_lines=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*["" if v is None else str(_plain(v)) for v in row])
        Console(width=max(Console().width, 160) if not sys.stdout.isatty() else None).print(table)


def _plain(value: Any, for_json: bool = False) -> Any:
    if isinstance(value, Decimal):
        normal = value.normalize()
        text = format(normal, "f")
        return float(text) if for_json else text
    if isinstance(value, datetime | date):
        return value.isoformat()
    if for_json and not isinstance(value, str | int | float | bool | type(None) | list | dict):
        return str(value)
    return value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main() -> None:
    """Console entry point: user errors print one line and exit 1; --debug shows the traceback."""
    try:
        app()
    except (LlmflationError, ConfigError) as exc:
        if DEBUG["on"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
