"""@flow track_prices: fetch the enabled sources concurrently, then archive, parse, validate and load each.

No `from __future__ import annotations` here: `serve` pickles the flow by value, and string annotations would
lose the names (datetime) that Prefect needs to validate parameters in the run's subprocess.
"""

from collections.abc import Callable
from datetime import datetime

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from llmflation.extractors.base import Payload, is_reference, parse_source_list
from llmflation.extractors.deadlines import Deadline
from llmflation.extractors.errors import FetchError
from llmflation.extractors.redact import redact
from llmflation.flows import alerts, interrupts, ledger, pipeline, publish
from llmflation.flows.ledger import SourceOutcome
from llmflation.flows.progress import progress_bar
from llmflation.flows.settings import Settings


def _retry_if_cut_short(task: object, task_run: object, state: object) -> bool:
    """Retry a fetch whose body was cut short; the HTTP client already retried statuses and timeouts."""
    try:
        state.result()  # type: ignore[attr-defined]
    except FetchError as exc:
        return exc.retryable
    except Exception:
        return False
    return False


@task(
    name="fetch",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=_retry_if_cut_short,
    task_run_name="fetch-{name}",
)
def fetch(settings: Settings, name: str, until: Deadline | None = None) -> list[Payload]:
    """Fetch one source's documents (I/O: the only retried step), each by its deadline and all by `until`."""
    payloads = pipeline.fetch_source(settings, name, until=until)
    size = sum(len(p.content) for p in payloads)
    redirected = [p.final_url for p in payloads if p.final_url]
    get_run_logger().info(
        "%s: fetched %s bytes in %s document(s) from %s%s",
        name,
        size,
        len(payloads),
        payloads[0].url if len(payloads) == 1 else redact(settings.url_for(name)),
        f", redirected to {', '.join(redirected)}" if redirected else "",
    )
    return payloads


def _failed(delivery: alerts.Delivery) -> tuple[str, int, str | None]:
    return delivery.channel, delivery.events, delivery.error


def _submit_fetches(
    settings: Settings, names: list[str], until: Deadline | None
) -> dict[str, Callable[[], list[Payload] | FetchError]]:
    """One fetch task per source, all submitted at once; each callable waits for its task's result."""
    futures = {name: fetch.submit(settings, name, until) for name in names}

    def waiter(name: str) -> Callable[[], list[Payload] | FetchError]:
        def result() -> list[Payload] | FetchError:
            try:
                return futures[name].result()
            except FetchError as exc:
                return exc
            except Exception as exc:  # one broken source never stops the others
                return FetchError(name, settings.url_for(name), f"{type(exc).__name__}: {exc}")

        return result

    return {name: waiter(name) for name in names}


@flow(
    name=ledger.FLOW_NAME,
    flow_run_name=publish.named("prices"),
    task_runner=ThreadPoolTaskRunner(max_workers=4),  # type: ignore[arg-type]
    log_prints=False,
)
def track_prices(
    sources: list[str] | None = None,
    as_of: datetime | None = None,
    db: str | None = None,
) -> dict | State:
    """Track LLM API prices: one run of every enabled source (prices, and the exchange rates that convert them)
    into the warehouse."""
    with interrupts.stopping():  # Ctrl-C or SIGTERM ends the fetches at once
        return _track_prices(sources, as_of, db)


def _track_prices(sources: list[str] | None, as_of: datetime | None, db: str | None) -> dict | State:
    logger = get_run_logger()
    settings = Settings.from_env(db=db)
    names = parse_source_list(",".join(sources) if sources else None)
    logger.info("sources %s, warehouse %s", ", ".join(names), settings.db)

    def done(outcome: SourceOutcome) -> None:
        items, rows = ("days", "rates") if is_reference(outcome.source) else ("models", "rows")
        (logger.info if outcome.status == "ok" else logger.warning)(
            "%s: %s, %s %s, %s %s parsed, %s rejected, %s loaded%s",
            outcome.source,
            outcome.status,
            outcome.items,
            items,
            outcome.parsed,
            rows,
            outcome.rejected,
            outcome.loaded,
            f" ({outcome.error})" if outcome.error else "",
        )
        advance()

    with progress_bar("prices", unit="sources", total=len(names)) as advance:
        summary = pipeline.run_prices(settings, names, as_of, done, fetch=_submit_fetches, wait_s=settings.lock_wait)
    logger.info("run %s as of %s: %s", summary.run_id, summary.as_of.isoformat(), summary.status)
    for delivery in summary.alerts:
        if delivery.channel == "console":
            for line in delivery.lines:
                logger.info("alert: %s", line)
        elif delivery.sent:
            logger.info("alerts to %s: %d event(s) sent", delivery.channel, delivery.events)
        else:
            logger.warning("alerts to %s: %d event(s) not sent (%s); kept for retry", *_failed(delivery))
    publish.publish_run(settings, summary)
    if settings.export_dir and summary.status != "failed":
        from llmflation.flows import export

        logger.info("%s", export.export(settings.db, settings.export_dir).line())
    if summary.status == "failed":
        raise RuntimeError(f"every source failed: {'; '.join(o.error or o.status for o in summary.outcomes)}")
    return publish.final_state(summary)
