"""The llmflation command line (click). Query commands (sql, status, sources) import neither prefect nor rich."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from llmflation import __version__
from llmflation.extractors.errors import LlmflationError
from llmflation.flows import render
from llmflation.flows.settings import ConfigError, Settings, use_own_prefect

FORMATS = click.Choice(render.FORMATS)
DEBUG = {"on": False}
WAREHOUSE: dict[str, Path | None] = {"db": None}  # this command's --db, for a damaged file met outside a query


class UserError(LlmflationError):
    """A mistake the user can fix; printed as one line."""


def db_option(function: Any) -> Any:
    return click.option(
        "--db",
        # not click's checks: the warehouse explains an unreadable file or a directory, in one line
        type=click.Path(path_type=Path, readable=False),
        default=None,
        help="Warehouse file [default: $LLMFLATION_DB or ./data/llmflation.duckdb].",
        callback=_remember_db,
    )(function)


def _remember_db(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    WAREHOUSE["db"] = value
    return value


def format_option(function: Any) -> Any:
    return click.option(
        "--format", "-f", "fmt", type=FORMATS, default="table", show_default=True, help="Output format."
    )(function)


class _Commands(click.Group):
    """The top-level group: a reader that goes away (`| head`) ends the command quietly, with exit status 0."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # click would exit 1; nothing more can be written, not even Python's final flush of stdout
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise click.exceptions.Exit(0) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="llmflation", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.option("--quiet", "-q", is_flag=True, help="Print only errors and the result (no progress, no log lines).")
@click.option("--verbose", "-v", is_flag=True, help="Also print Prefect's own log lines.")
def app(debug: bool, quiet: bool, verbose: bool) -> None:
    """Track LLM API prices and open-model adoption into DuckDB, and query them with SQL."""
    DEBUG["on"] = debug or os.environ.get("LLMFLATION_DEBUG") == "1"
    if quiet and verbose:
        raise UserError("--quiet and --verbose contradict each other; give one")
    from llmflation.flows import progress

    progress.SHOWN["verbosity"] = -1 if quiet else 1 if verbose else 0


@app.command()
@click.option("--sources", default=None, help="Comma-separated sources [default: all].")
@click.option("--as-of", "as_of", default=None, help="Observation time, ISO 8601 (replays, backfills) [default: now].")
@click.option("--census", is_flag=True, help="With --sources huggingface: every public model on the Hub, resumable.")
@db_option
def run(sources: str | None, as_of: str | None, census: bool, db: Path | None) -> None:
    """Run the flows once, on the embedded defaults (a local DuckDB file and Prefect's ephemeral API): prices for
    the price sources, adoption for huggingface."""
    from llmflation.extractors.base import parse_source_list
    from llmflation.flows import interrupts, launch

    settings = Settings.from_env(db=db)
    names = parse_source_list(sources)
    if census and names != ["huggingface"]:
        raise UserError("--census goes with --sources huggingface alone")
    observed_at = parse_timestamp(as_of) if as_of else None
    settings.alert_config()  # a mistake in llmflation.toml is reported now, not after the run
    with interrupts.handled(launch.describe_run(names, census)):
        statuses = launch.run(settings, names, census, observed_at)
    sys.exit(0 if statuses and all(status == "ok" for status in statuses) else 1)


@app.command()
@click.option("--cron", default=None, help="Cron schedule in UTC [default: $LLMFLATION_CRON or 0 3 * * *].")
@db_option
def serve(cron: str | None, db: Path | None) -> None:
    """Run the nightly schedule (and the weekly verification of the raw archive) in this process, with a local Prefect
    server unless one is configured."""
    from contextlib import nullcontext

    from llmflation.flows.local_server import local_prefect_server

    settings = Settings.from_env(db=db)
    own_prefect = use_own_prefect(settings)
    server = (
        local_prefect_server(settings.data_dir / "prefect" / "server.log")
        if not os.environ.get("PREFECT_API_URL")
        else nullcontext(os.environ["PREFECT_API_URL"])
    )
    with server as api_url:
        os.environ["PREFECT_API_URL"] = api_url
        click.echo(f"Prefect API: {api_url}" + (f" (UI at {api_url.removesuffix('/api')})" if own_prefect else ""))
        from prefect import serve as prefect_serve
        from prefect.schedules import Cron

        from llmflation.flows.progress import SHOWN, show_logs

        show_logs(SHOWN["verbosity"])

        from llmflation.flows.adoption import track_adoption
        from llmflation.flows.pricing import track_prices
        from llmflation.flows.verify import WEEKLY_CRON, verify_archive

        schedule = [Cron(cron or settings.cron, timezone="UTC")]
        parameters = {"db": str(settings.db.resolve())}
        prefect_serve(
            track_prices.to_deployment(name="nightly", schedules=schedule, parameters=parameters, tags=["llmflation"]),
            track_adoption.to_deployment(
                name="nightly", schedules=schedule, parameters=parameters, tags=["llmflation"]
            ),
            verify_archive.to_deployment(
                name="weekly",
                schedules=[Cron(WEEKLY_CRON, timezone="UTC")],
                parameters=parameters,
                tags=["llmflation"],
            ),
        )


@app.command()
@click.argument("query", required=False)
@click.option(
    "--file",
    "from_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Read the query from this file.",
)
@format_option
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop the query after this many seconds [default: no limit].",
)
@db_option
def sql(query: str | None, from_file: Path | None, fmt: str, timeout: float | None, db: Path | None) -> None:
    """Run SQL that reads the warehouse (and nothing else) on it; QUERY, `-` for standard input, or --file PATH.
    Rows are written as they come; Ctrl-C stops the query."""
    from llmflation.flows import query as querying

    _query(Settings.from_env(db=db).db, querying.query_text(query, from_file), fmt, timeout=timeout)


@app.command()
@format_option
@db_option
def status(fmt: str, db: Path | None) -> None:
    """Show the last run of each source: status, counts, reason and hours since its last success."""
    _query(
        Settings.from_env(db=db).db,
        "SELECT source, status, last_run_at, last_observed_at, rows, loaded, rejected, hours_since_ok, reason "
        "FROM source_health ORDER BY source",
        fmt,
        empty="no runs yet; start one with `llmflation run`",
    )


@app.command()
@format_option
def sources(fmt: str) -> None:
    """List the sources: kind, status (stable or experimental, and why) and the URL each fetches (after overrides)."""
    from llmflation.extractors.base import listed_sources
    from llmflation.extractors.redact import redact

    settings = Settings.from_env()
    rows = []
    for module in listed_sources():
        url = settings.url_for(module.NAME)
        why = module.EXPERIMENTAL or ""
        overridden = " (overridden)" if url != module.URL else ""
        status = "experimental" if why else "stable"
        rows.append((module.NAME, module.KIND, status, redact(url) + overridden, module.DESCRIPTION, why))
    _write(["source", "kind", "status", "url", "description", "why_experimental"], rows, fmt)


@app.command()
@click.option("--unmapped", is_flag=True, help="Only the ids the identity rules could not place.")
@format_option
@db_option
def models(unmapped: bool, fmt: str, db: Path | None) -> None:
    """List the model catalogue: canonical key, family, open weights, HF repo, release date, providers."""
    where = "WHERE NOT mapped" if unmapped else ""
    _query(
        Settings.from_env(db=db).db,
        "SELECT model_key, family, open_weights, hf_repo, release_date, class, providers, provider_model_ids "
        f"FROM models {where} ORDER BY model_key",
        fmt,
        empty="every observed model id is mapped" if unmapped else "no models yet; start with `llmflation run`",
    )


@app.group(name="import")
def import_() -> None:
    """Load saved history into the warehouse (idempotent; every row keeps its own stated date)."""


@import_.command("hf-snapshots")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@db_option
def import_hf_snapshots(paths: tuple[Path, ...], db: Path | None) -> None:
    """Hugging Face snapshots: reduced daily model lists (*.json) and monthly download CSVs (*.csv), or folders."""
    from llmflation.flows import interrupts
    from llmflation.flows.hub import import_files

    settings = Settings.from_env(db=db)
    with interrupts.handled("the import of Hugging Face snapshots"):
        summary = import_files(settings, paths)
    outcome = summary.outcomes[0]
    click.echo(
        f"imported {outcome.parsed} snapshot rows ({outcome.loaded} new, {outcome.rejected} rejected) "
        f"from {len(paths)} path(s): {summary.status}"
    )
    sys.exit(0 if summary.status == "ok" else 1)


@import_.command("prices")
@click.argument("source")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--git",
    "repo",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A local git clone: import every version of --file in its history, dated by commit.",
)
@click.option("--file", "in_repo", default=None, help="With --git: the file's path in the repository.")
@click.option("--as-of", "as_of", default=None, help="The date of a single document that carries none.")
@click.option("--since", default=None, help="Only documents dated at or after this time (ISO 8601).")
@click.option("--until", default=None, help="Only documents dated at or before this time (ISO 8601).")
@db_option
def import_prices(
    source: str,
    paths: tuple[Path, ...],
    repo: Path | None,
    in_repo: str | None,
    as_of: str | None,
    since: str | None,
    until: str | None,
    db: Path | None,
) -> None:
    """Saved price documents of SOURCE as past runs: files or folders (llm_prices: a folder of vendor files), or a
    file's whole git history. Dated by the time they carry (fetched_at, last_updated), their name (YYYY-MM-DD),
    their commit, or --as-of; never guessed. Idempotent."""
    from llmflation.extractors.errors import UnknownSourceError
    from llmflation.flows import backfill, interrupts, launch

    settings = Settings.from_env(db=db)
    dated = parse_timestamp(as_of) if as_of else None
    start, end = (parse_timestamp(t, option) if t else None for t, option in ((since, "--since"), (until, "--until")))
    try:
        chosen = backfill.choose(backfill.documents(source, paths, repo, in_repo, dated), start, end)
        with interrupts.handled(f"the import of {source} prices"):
            results = launch.import_prices(
                settings,
                source,
                len(chosen),
                paths=[str(path) for path in paths] or None,
                repo=str(repo) if repo else None,
                in_repo=in_repo,
                as_of=dated,
                since=start,
                until=end,
            )
    except (backfill.BackfillError, UnknownSourceError) as exc:
        raise UserError(str(exc)) from exc
    failed = [what for what in results if not what.startswith(("ok", "already"))]
    sys.exit(1 if failed else 0)


@app.command()
@click.option("--sources", default=None, help="Comma-separated sources [default: every source with history].")
@db_option
def rebuild(sources: str | None, db: Path | None) -> None:
    """Recompute price history from the stored observations (a repair), then every event; nothing is fetched."""
    from llmflation.flows import pipeline

    settings = Settings.from_env(db=db)
    names = [part.strip() for part in sources.split(",") if part.strip()] if sources else None
    for source, segments, runs in pipeline.rebuild_history(settings, names):
        click.echo(f"{source}: {segments} segments rebuilt from {runs} runs")


@app.command()
@click.option(
    "--repair", is_flag=True, help="Fetch the sources of damaged documents again and restore what they bring."
)
@db_option
def verify(repair: bool, db: Path | None) -> None:
    """Re-hash every archived raw document against raw_documents; report the missing, truncated and mismatched ones
    (exit 1 if any), and with --repair restore those a new fetch of their source brings back unchanged."""
    from llmflation.flows import pipeline
    from llmflation.flows.progress import progress_bar
    from llmflation.warehouse import evidence

    settings = Settings.from_env(db=db)
    with progress_bar("verifying the raw archive", unit="documents", total=evidence.count(settings.db)) as advance:
        result = evidence.verify(
            settings.db, settings.data_dir, lambda finding: advance(str(finding) if finding else None)
        )
    if repair and result.findings:
        restored, failed = pipeline.repair_archive(settings, result.findings)
        for line in failed:
            click.echo(line)
        for finding, source in restored:
            click.echo(f"{finding.path}: restored from a new fetch of {source}")
        result.restored = [finding for finding, _ in restored]
    click.echo(result.summary())
    sys.exit(1 if result.damaged else 0)


@app.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("report.html"),
    show_default=True,
    help="Where to write the HTML file.",
)
@db_option
def report(out: Path, db: Path | None) -> None:
    """Write one self-contained HTML report (works offline): headline rates of the price decline, price at
    constant capability, price versus capability, open versus closed, adoption, price events to sort and filter,
    methodology, and each source's freshness; every chart's data downloads as CSV."""
    from llmflation.flows import report as reporting

    written = reporting.write(Settings.from_env(db=db).db, out)
    click.echo(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB)")


@app.command("export")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--since", default=None, help="Leave months and census days before this date as they are (2026-11-01).")
@db_option
def export_(directory: Path, since: str | None, db: Path | None) -> None:
    """Write the public views, and the census as of each day, as Parquet (Hive partitions source/year/month) with a
    manifest of every file's rows and sha256, for DuckDB, Polars, pyarrow, Spark or Trino; files whose rows did not
    change are left as they are."""
    from llmflation.flows import export as exporting
    from llmflation.flows.progress import progress_bar

    first = parse_timestamp(since, "--since").date() if since else None
    with progress_bar("export", unit="datasets", total=len(exporting.public_views()) + 1) as advance:
        summary = exporting.export(Settings.from_env(db=db).db, directory, first, on_dataset=lambda _: advance())
    click.echo(summary.line())


@app.command()
@click.option("--input", "input_", default=None, help="Prompt tokens a month, cache reads and writes included (50M).")
@click.option("--output", default=None, help="Output tokens a month (10M).")
@click.option("--cached", default=None, help="Of the input, tokens read from a prompt cache (30M).")
@click.option("--cache-write", default=None, help="Of the input, tokens written to a prompt cache.")
@click.option("--batch-share", type=click.FloatRange(0, 1), default=None, help="Share sent through batch APIs.")
@click.option("--long-context-share", type=click.FloatRange(0, 1), default=None, help="Share in long-context requests.")
@click.option("--profile", default=None, help="A named workload: chat, rag, batch-summaries or [workloads.NAME].")
@click.option("--model", default=None, help="Only models whose key or id holds this text (* as a wildcard).")
@click.option("--open-weights", is_flag=True, help="Only open-weights models.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Offers to print.")
@format_option
@db_option
def cost(
    input_: str | None,
    output: str | None,
    cached: str | None,
    cache_write: str | None,
    batch_share: float | None,
    long_context_share: float | None,
    profile: str | None,
    model: str | None,
    open_weights: bool,
    limit: int,
    fmt: str,
    db: Path | None,
) -> None:
    """What a month of a workload costs at the cheapest offers in force, with each offer's own cache, batch and
    long-context prices (and what was assumed where it has none). Amounts: 50M, 200k, 1.5B or a count."""
    from llmflation.flows import workloads

    settings = Settings.from_env(db=db)
    given = {
        "input": input_,
        "output": output,
        "cached": cached,
        "cache_write": cache_write,
        "batch_share": batch_share,
        "long_context_share": long_context_share,
    }
    given = {name: value for name, value in given.items() if value is not None}
    if profile is None and not {"input", "output"} <= given.keys():
        raise UserError("give --input and --output (for example --input 50M --output 10M), or --profile NAME")
    try:
        workload = (
            settings.workload(profile, **given) if profile else workloads.Workload.model_validate(given)
        ).check()
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise UserError(_workload_problem(exc)) from None
    _query(
        settings.db,
        workloads.sql(workload, model=model, open_weights=open_weights, limit=limit),
        fmt,
        empty="no offer in force matches",
    )


def _workload_problem(exc: ValueError) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-")
        return f"{option}: {str(first['msg']).removeprefix('Value error, ')}"
    return str(exc)


@app.group()
def alerts() -> None:
    """Price alerts: what was queued and sent, test a channel, retry failed deliveries."""


@alerts.command("list")
@click.option("--limit", default=50, show_default=True, help="Most recent deliveries to show.")
@format_option
@db_option
def alerts_list(limit: int, fmt: str, db: Path | None) -> None:
    """Deliveries, newest first: channel, status, attempts, the event, next attempt or sent time, last error."""
    _query(
        Settings.from_env(db=db).db,
        f"SELECT * FROM alert_history ORDER BY created_at DESC, channel LIMIT {int(limit)}",
        fmt,
        empty="no alerts yet",
    )


@alerts.command("test")
@click.argument("channel")
@db_option
def alerts_test(channel: str, db: Path | None) -> None:
    """Send a test message to CHANNEL (a name from llmflation.toml); exit 1 if it does not go out."""
    from llmflation.flows import alerts as alerting
    from llmflation.flows.alert_config import CONSOLE

    settings = Settings.from_env(db=db)
    config = settings.alert_config()
    use_own_prefect(settings)  # before a prefect-secret: channel imports prefect
    if channel == CONSOLE:
        click.echo("console: alerts go to the run log and the output of `llmflation run`")
        return
    if channel not in config.channels:
        known = ", ".join(sorted(config.channels)) or "none configured"
        raise UserError(f"no channel {channel!r} in llmflation.toml (channels: {known})")
    error = alerting.send(
        settings, config.channels[channel], "llmflation: test", "A test message from llmflation alerts test."
    )
    if error:
        raise UserError(f"{channel}: not sent: {error}")
    click.echo(f"{channel}: sent")


@alerts.command("retry")
@db_option
def alerts_retry(db: Path | None) -> None:
    """Send every pending delivery now, without waiting for its backoff."""
    from llmflation.flows import alerts as alerting
    from llmflation.flows import ledger

    settings = Settings.from_env(db=db)
    config = settings.alert_config()
    use_own_prefect(settings)  # before a prefect-secret: channel imports prefect
    with ledger.run_lock(settings, wait_s=settings.lock_wait):
        con = ledger.connect(settings)
        try:
            results = alerting.deliver(con, settings, config, datetime.now(UTC), force=True)
        finally:
            con.close()
    if not results:
        click.echo("nothing to retry")
    for result in results:
        outcome = "sent" if result.sent else f"not sent: {result.error}"
        click.echo(f"{result.channel}: {result.events} event(s) {outcome}")
    sys.exit(0 if all(result.sent for result in results) else 1)


def parse_timestamp(text: str, option: str = "--as-of") -> datetime:
    """ISO 8601 date or timestamp; a value without a zone is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise UserError(f"{option} {text!r} is not an ISO 8601 timestamp (for example 2025-12-29T18:00:00Z)") from exc
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


def _query(path: Path, query: str, fmt: str, empty: str | None = None, timeout: float | None = None) -> None:
    from llmflation.flows import query as querying

    querying.run(path, query, fmt, timeout=timeout, empty=empty)


def _write(columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> None:
    render.write(columns, rows, fmt)


def main() -> None:
    """Console entry point: user errors print one line and exit 1; --debug shows the traceback."""
    try:
        try:
            app.main(standalone_mode=False)
        except (click.exceptions.Exit, click.ClickException, SystemExit, GeneratorExit):
            raise
        except BaseException:
            # an interrupt, however it surfaced: Ctrl-C's KeyboardInterrupt (click's Abort), Prefect's
            # TerminationSignal for SIGTERM in a flow, or the error of a DuckDB statement it cut short
            if _interrupt_received() and not DEBUG["on"]:
                _interrupted()
            raise
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except (LlmflationError, ConfigError) as exc:
        if DEBUG["on"]:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        damaged = _damaged_warehouse(exc)
        if damaged is None or DEBUG["on"]:
            raise
        click.echo(f"error: {damaged}", err=True)
        sys.exit(1)


def _interrupt_received() -> bool:
    if "llmflation.flows.interrupts" not in sys.modules:  # no command that handles signals ran
        return False
    from llmflation.flows import interrupts

    return interrupts.received() is not None


def _interrupted() -> None:
    """Ctrl-C or SIGTERM during a run or an import: one line, and 128 + the signal's number (130, 143)."""
    from llmflation.flows import interrupts

    click.echo(interrupts.message() or "interrupted", err=True)
    sys.exit(128 + (interrupts.received() or 2))


def _damaged_warehouse(exc: Exception) -> LlmflationError | None:
    """DuckDB's error for a damaged warehouse met outside a query (in a run, an import, a report), explained."""
    if "duckdb" not in sys.modules:
        return None
    from llmflation.warehouse.db import explain, is_damage

    return explain(Settings.from_env(db=WAREHOUSE["db"]).db, exc) if is_damage(exc) else None


if __name__ == "__main__":
    main()
