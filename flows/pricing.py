"""@flow track_prices: fetch the enabled sources concurrently, then archive, parse, validate and load each.

No `from __future__ import annotations` here: `serve` pickles the flow by value, and string annotations would
lose the names (datetime) that Prefect needs to validate parameters in the run's subprocess.
"""

from datetime import datetime

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from extractors.base import Payload, parse_source_list
from extractors.errors import FetchError
from flows import alerts, pipeline
from flows.settings import Settings


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
def fetch(settings: Settings, name: str) -> list[Payload]:
    """Fetch one source's documents (I/O: the only retried step)."""
    payloads = pipeline.fetch_source(settings, name)
    size = sum(len(p.content) for p in payloads)
    get_run_logger().info(
        "%s: fetched %s bytes in %s document(s) from %s",
        name,
        size,
        len(payloads),
        payloads[0].url if len(payloads) == 1 else settings.url_for(name),
    )
    return payloads


def _failed(delivery: alerts.Delivery) -> tuple[str, int, str | None]:
    return delivery.channel, delivery.events, delivery.error


@flow(
    name=pipeline.FLOW_NAME,
    task_runner=ThreadPoolTaskRunner(max_workers=4),  # type: ignore[arg-type]
    log_prints=False,
)
def track_prices(
    sources: list[str] | None = None,
    as_of: datetime | None = None,
    db: str | None = None,
) -> dict:
    """Track LLM API prices: one run of every enabled source into the warehouse."""
    logger = get_run_logger()
    settings = Settings.from_env(db=db)
    names = parse_source_list(",".join(sources) if sources else None)
    with pipeline.run_lock(settings, wait_s=settings.lock_wait_s):
        run_id, observed_at = pipeline.start(settings, names, as_of)
        logger.info(
            "run %s: as of %s, sources %s, warehouse %s",
            run_id,
            observed_at.isoformat(),
            ", ".join(names),
            settings.db,
        )
        futures = {name: fetch.submit(settings, name) for name in names}
        outcomes = []
        for name, future in futures.items():
            try:
                fetched: list[Payload] | FetchError = future.result()
            except FetchError as exc:
                fetched = exc
            except Exception as exc:  # one broken source never stops the others
                fetched = FetchError(name, settings.url_for(name), f"{type(exc).__name__}: {exc}")
            outcome = pipeline.ingest(settings, run_id, name, observed_at, fetched)
            log = logger.info if outcome.status == "ok" else logger.warning
            log(
                "%s: %s, %s models, %s rows parsed, %s rejected, %s loaded%s",
                name,
                outcome.status,
                outcome.items,
                outcome.parsed,
                outcome.rejected,
                outcome.loaded,
                f" ({outcome.error})" if outcome.error else "",
            )
            outcomes.append(outcome)
        summary = pipeline.finish(settings, run_id, observed_at, outcomes)
        summary.alerts = alerts.after_run(settings, run_id)
    logger.info("run %s: %s", run_id, summary.status)
    for delivery in summary.alerts:
        if delivery.channel == "console":
            for line in delivery.lines:
                logger.info("alert: %s", line)
        elif delivery.sent:
            logger.info("alerts to %s: %d event(s) sent", delivery.channel, delivery.events)
        else:
            logger.warning("alerts to %s: %d event(s) not sent (%s); kept for retry", *_failed(delivery))
    if summary.status == "failed":
        raise RuntimeError(f"every source failed: {'; '.join(o.error or o.status for o in outcomes)}")
    return summary.as_dict()
