"""@flow track_adoption: one snapshot of the tracked Hugging Face models per day.

No `from __future__ import annotations`: `serve` pickles flows by value (see flows/pricing.py).
"""

from datetime import datetime

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from llmflation.extractors.base import Payload
from llmflation.extractors.deadlines import Deadline
from llmflation.extractors.errors import FetchError
from llmflation.flows import alerts, hub, interrupts, ledger, pipeline, publish
from llmflation.flows.progress import progress_bar
from llmflation.flows.settings import Settings


@task(name="fetch-hub", cache_policy=NO_CACHE)
def fetch(settings: Settings, until: Deadline | None = None) -> tuple[list[Payload], FetchError | None]:
    """Every page of the tracked lists (the HTTP client retries 429/5xx, honouring Retry-After), each by its
    deadline and all by `until`."""
    pages, error = hub.fetch_hub(settings, until=until)
    get_run_logger().info(
        "huggingface: fetched %s pages, %s bytes%s",
        len(pages),
        sum(len(p.content) for p in pages),
        f"; then {error.detail}" if error else "",
    )
    return pages, error


@flow(name="census-adoption", flow_run_name=publish.named("census"), log_prints=False)
def census_adoption(as_of: datetime | None = None, db: str | None = None) -> dict:
    """Every public model on the Hub, streamed page by page into a resumable census stored as changes."""
    settings = Settings.from_env(db=db)
    with interrupts.stopping(), progress_bar("census", unit="pages") as advance:
        summary = hub.census(settings, as_of, on_page=advance)
    publish.emit(publish.news_of(settings, summary.run_id))
    outcome = summary.outcomes[0]
    (get_run_logger().info if outcome.status == "ok" else get_run_logger().warning)(
        "huggingface census: %s (%s)", outcome.status, outcome.error or outcome.notes
    )
    if summary.status == "failed":
        raise RuntimeError(outcome.error)
    return summary.as_dict()


@flow(name=hub.FLOW_NAME, flow_run_name=publish.named("adoption"), log_prints=False)
def track_adoption(as_of: datetime | None = None, db: str | None = None) -> dict:
    """Track open-model adoption: today's snapshot of the tracked Hub models."""
    logger = get_run_logger()
    settings = Settings.from_env(db=db)
    with (
        interrupts.stopping(),
        ledger.recorded(settings, [hub.SOURCE], as_of, flow=hub.FLOW_NAME, wait_s=settings.lock_wait) as run,
    ):
        outcome = hub.ingest_hub(settings, run.run_id, run.as_of, *fetch(settings, pipeline.run_deadline(settings)))
        run.outcomes.append(outcome)
        (logger.info if outcome.status == "ok" else logger.warning)(
            "huggingface: %s, %s models, %s new snapshot rows%s",
            outcome.status,
            outcome.parsed,
            outcome.loaded,
            f" ({outcome.error})" if outcome.error else "",
        )
        summary = run.close()
        summary.alerts = alerts.after_run(settings, run.run_id)  # a broken Hub listing is a source_broken event
    publish.emit(publish.news_of(settings, summary.run_id))
    for delivery in summary.alerts:
        (logger.info if delivery.sent else logger.warning)(
            "alerts to %s: %d event(s) %s", delivery.channel, delivery.events, "sent" if delivery.sent else "kept"
        )
    if summary.status == "failed":
        raise RuntimeError(f"huggingface: {outcome.error}")
    return summary.as_dict()
