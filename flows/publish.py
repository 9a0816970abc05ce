"""What a run shows in Prefect: its flow run's name, its artifacts (a table of the sources, a list of the price events
it found) and Prefect events for its news (`llmflation.price.changed`, `llmflation.source.broken`), which
automations can act on.

Each event is emitted by the run that recorded it, once: a rerun finds nothing new (warehouse/events.py), and the
Prefect event's id is the warehouse event's own.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event
from prefect.events.worker import EventsWorker
from prefect.runtime import flow_run
from prefect.states import Completed, State

from llmflation.flows import ledger
from llmflation.flows.ledger import RunSummary
from llmflation.flows.settings import Settings

RUN_ARTIFACT = "llmflation-run"
EVENTS_ARTIFACT = "llmflation-price-events"
PRICE_CHANGED = "llmflation.price.changed"
SOURCE_BROKEN = "llmflation.source.broken"
STORED_WAIT_S = 60.0  # for Prefect's API to hold the events a run emitted
PAGE = 50  # events read back at a time: the most Prefect's API returns
LISTED = 200  # price events listed in the artifact; the rest are counted (all are in price_events)
FIELDS = (
    "event_id, event_type, detected_at, effective_at, provider, model_key, provider_model_id, metric, tier, region, "
    "old_usd_per_mtok, new_usd_per_mtok, pct_change, source, evidence, run_id, changes_30d, plausible, family, "
    "open_weights"
)


def named(prefix: str) -> Callable[[], str]:
    """A flow_run_name: the prefix and the run's as-of day (`prices-2026-12-01`), today when the run has none."""

    def name() -> str:
        as_of = flow_run.parameters.get("as_of")
        if isinstance(as_of, str):
            as_of = datetime.fromisoformat(as_of)
        day = as_of.astimezone(UTC).date() if isinstance(as_of, datetime) else datetime.now(UTC).date()
        return f"{prefix}-{day.isoformat()}"

    name.__name__ = f"{prefix}_run_name"
    return name


def final_state(summary: RunSummary) -> State | dict[str, object]:
    """A partial run (some sources failed) ends `Completed` named `Partial`, so that the UI and automations tell it
    from a run where every source was ok; an ok run returns its summary (Completed)."""
    if summary.status != "partial":
        return summary.as_dict()
    broken = [o.source for o in summary.outcomes if o.status != "ok"]
    return Completed(name="Partial", message=f"sources not ok: {', '.join(broken)}", data=summary.as_dict())


def publish_run(settings: Settings, summary: RunSummary) -> None:
    """The run's table artifact, the list of the price events it found (when it found any), and their events."""
    create_table_artifact(
        [{"source": o.source, "status": o.status, "rows": o.loaded, "reason": o.error or ""} for o in summary.outcomes],
        key=RUN_ARTIFACT,
        description=f"run {summary.run_id} as of {summary.as_of:%Y-%m-%d %H:%M} UTC: {summary.status}",
    )
    news = news_of(settings, summary.run_id)
    prices = [event for event in news if event["event_type"] != "source_broken"]
    if prices:
        create_markdown_artifact(
            _markdown(summary, prices), key=EVENTS_ARTIFACT, description=f"price events of run {summary.run_id}"
        )
    emit(news)


def news_of(settings: Settings, run_id: str) -> list[dict[str, Any]]:
    """The events the run recorded as news (price events and broken sources), in the order alerts list them."""
    con = ledger.connect(settings)
    try:
        rows = con.execute(
            f"SELECT {FIELDS} FROM price_events WHERE run_id = ? AND news "
            "ORDER BY event_type = 'source_broken', provider, model_key, metric, tier, region, event_id",
            [run_id],
        )
        names = [d[0] for d in rows.description]
        return [dict(zip(names, row, strict=True)) for row in rows.fetchall()]
    finally:
        con.close()


def emit(news: list[dict[str, Any]]) -> None:
    """One Prefect event per news event: `llmflation.price.changed` on its model, `llmflation.source.broken` on its
    source; the payload holds the event's fields."""
    for event in news:
        payload = {name: _plain(value) for name, value in event.items()}
        if isinstance(event["evidence"], str):
            payload["evidence"] = json.loads(event["evidence"])
        labels = {"llmflation.source": event["source"], "llmflation.event-type": event["event_type"]}
        if event["event_type"] == "source_broken":
            resource = {"prefect.resource.id": f"llmflation.source.{event['source']}", **labels}
            name = SOURCE_BROKEN
        else:
            resource = {
                "prefect.resource.id": f"llmflation.model.{event['model_key']}",
                "llmflation.provider": event["provider"] or "",
                "llmflation.metric": event["metric"] or "",
                **labels,
            }
            name = PRICE_CHANGED
        emit_event(
            event=name,
            resource=resource,
            occurred=event["detected_at"],
            payload=payload,
            id=uuid.UUID(hex=event["event_id"]),
        )
    if news:
        stored([uuid.UUID(hex=event["event_id"]) for event in news], min(event["detected_at"] for event in news))


def stored(ids: list[uuid.UUID], since: datetime, timeout_s: float = STORED_WAIT_S) -> bool:
    """Wait until Prefect's API holds the events `ids` (emit_event only queues them, and a server stores what it
    receives a few seconds later), so that a run's events are kept even when its Prefect server stops with it;
    False if they are not all there after timeout_s (the run goes on: the warehouse has them all)."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventIDFilter, EventOccurredFilter

    _send_queued_events(timeout_s)
    deadline = time.monotonic() + timeout_s
    window = EventOccurredFilter(since=since - timedelta(days=1), until=datetime.now(UTC) + timedelta(days=1))
    with get_client(sync_client=True) as client:
        for start in range(0, len(ids), PAGE):
            chunk = ids[start : start + PAGE]
            wanted = EventFilter(id=EventIDFilter(id=chunk), occurred=window)
            while client.read_events(filter=wanted, limit=len(chunk)).total < len(chunk):
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.25)
    return True


def _send_queued_events(timeout_s: float) -> None:
    """Wait until the Prefect events emitted by this process are sent. Prefect's worker warns "Still processing
    items" while it sends: that is its normal work here, not a problem to show."""
    worker_log = logging.getLogger(EventsWorker.__name__)
    level = worker_log.level
    worker_log.setLevel(logging.ERROR)
    try:
        EventsWorker.drain_all(timeout=timeout_s)
    finally:
        worker_log.setLevel(level)


def _markdown(summary: RunSummary, events: list[dict[str, Any]]) -> str:
    lines = [
        f"# Price events of run {summary.run_id} (as of {summary.as_of:%Y-%m-%d %H:%M} UTC)",
        "",
        "| event | provider | model | metric | old -> new USD per 1M tokens | source |",
        "|---|---|---|---|---|---|",
    ]
    for event in events[:LISTED]:
        model = event["provider_model_id"] or event["model_key"]
        tier = "" if event["tier"] in (None, "standard") else f" ({event['tier']})"
        lines.append(
            f"| {event['event_type']} | {event['provider']} | {model} | {event['metric']}{tier} | "
            f"{_usd(event['old_usd_per_mtok'])} -> {_usd(event['new_usd_per_mtok'])} | {event['source']} |"
        )
    if len(events) > LISTED:
        lines += [
            "",
            f"and {len(events) - LISTED} more: `SELECT * FROM price_events WHERE run_id = '{summary.run_id}'`",
        ]
    return "\n".join(lines) + "\n"


def _usd(value: Decimal | None) -> str:
    return "-" if value is None else f"{value.normalize():f}"


def _plain(value: object) -> object:
    """A payload value as JSON has it: prices as exact decimal strings, times in ISO 8601."""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
