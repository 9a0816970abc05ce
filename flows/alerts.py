"""Alerts: rules pick a run's new events, an outbox keeps one row per (event, channel), and delivery sends them
through Apprise (or the built-in console channel), marking each row sent once it went out.

Secrets (channel URLs, SMTP passwords, webhook tokens, HF_TOKEN) never reach a log line, an output or the
warehouse: the outbox stores channel names, and every error text is redacted before it is kept or shown.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import duckdb

from llmflation.flows.alert_config import CONSOLE, AlertConfig, Channel
from llmflation.flows.settings import Settings
from llmflation.warehouse.db import transaction

log = logging.getLogger("llmflation.alerts")
MAX_BACKOFF = timedelta(hours=6)
EVENT_COLUMNS = (
    "event_id, event_type, detected_at, provider, model_key, provider_model_id, metric, tier, region, "
    "old_usd_per_mtok, new_usd_per_mtok, pct_change, source, evidence, family, open_weights"
)


@dataclass
class Delivery:
    """What one delivery attempt did: a channel, its events, and whether it went out."""

    channel: str
    events: int
    sent: bool
    error: str | None = None
    lines: list[str] = field(default_factory=list)


def after_run(settings: Settings, run_id: str, config: AlertConfig | None = None) -> list[Delivery]:
    """Queue the run's new events for their channels, then send whatever is due (earlier failures included)."""
    from llmflation.flows import ledger

    config = config or settings.alert_config()
    now = datetime.now(UTC)
    con = ledger.connect(settings)
    try:
        enqueue(con, run_id, config, now)
        return deliver(con, settings, config, now)
    finally:
        con.close()


def enqueue(con: duckdb.DuckDBPyConnection, run_id: str, config: AlertConfig, now: datetime) -> int:
    """Queue the new events for the channels of every rule they match; returns rows queued.

    A rule with min_runs = 1 takes this run's events. A rule with min_runs = N also looks at the price events of its
    sources' last N applied runs, and takes those whose new value has now held N runs (and that do not undo a change
    that never held that long), so a price that flips back within N runs alerts nothing."""
    window = max(rule.min_runs for rule in config.rules) if config.rules else 1
    rows = con.execute(
        f"SELECT {', '.join('e.' + c.strip() for c in EVENT_COLUMNS.split(','))}, e.run_id, e.changes_30d, "
        "e.plausible, p.held_runs, p.reverted_runs "
        "FROM price_events e LEFT JOIN event_persistence p USING (event_id) "
        "WHERE e.news AND (e.run_id = ? OR (p.held_runs IS NOT NULL AND e.run_id IN ("
        "  SELECT run_id FROM (SELECT run_id, row_number() OVER (PARTITION BY source ORDER BY observed_at DESC, "
        "  started_at DESC) AS n FROM source_runs WHERE applied "
        "  AND source IN (SELECT source FROM source_runs WHERE run_id = ?)) WHERE n <= ?))) "
        "ORDER BY e.provider, e.model_key, e.metric, e.event_id",
        [run_id, run_id, window],
    )
    names = [d[0] for d in rows.description]
    events = [dict(zip(names, row, strict=True)) for row in rows.fetchall()]
    queued = []
    for event in events:
        for rule in config.rules:
            if (event["run_id"] == run_id or rule.min_runs > 1) and rule.matches(event):
                queued += [(event["event_id"], channel, rule.name) for channel in rule.channels]
    if not queued:
        return 0
    with transaction(con):
        before = con.execute("SELECT count(*) FROM alert_deliveries").fetchall()[0][0]
        con.executemany(
            "INSERT INTO alert_deliveries (event_id, channel, rule, status, created_at, next_attempt_at) "
            "VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING",
            [(*row, now, now) for row in queued],
        )
        after = con.execute("SELECT count(*) FROM alert_deliveries").fetchall()[0][0]
    return int(after - before)


def deliver(
    con: duckdb.DuckDBPyConnection, settings: Settings, config: AlertConfig, now: datetime, *, force: bool = False
) -> list[Delivery]:
    """Send every queued delivery that is due (all of them with force), channel by channel; a failure waits for its
    retry with backoff and is never dropped. A row is marked 'sending' before it goes out: a run killed while
    sending resends it next time (with the same message id, for receivers that deduplicate), never loses it."""
    due = con.execute(
        f"SELECT d.channel, {', '.join('e.' + c.strip() for c in EVENT_COLUMNS.split(','))}, d.attempts "
        "FROM alert_deliveries d JOIN price_events e USING (event_id) "
        "WHERE d.status <> 'sent' AND (d.next_attempt_at <= ? OR ?) "
        "ORDER BY d.channel, e.provider, e.model_key, e.metric, e.event_id",
        [now, force],
    )
    names = [d[0] for d in due.description]
    by_channel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in due.fetchall():
        record = dict(zip(names, row, strict=True))
        by_channel[record["channel"]].append(record)
    results = []
    for channel_name, events in by_channel.items():
        channel = config.channels.get(channel_name)
        if channel_name != CONSOLE and channel is None:
            results.append(Delivery(channel_name, len(events), False, "no such channel in llmflation.toml"))
            continue
        digest = channel is None or channel.digest
        batches = [events] if digest else [[event] for event in events]
        for batch in batches:
            results.append(_send_batch(con, settings, config, channel_name, channel, batch, now))
    return results


def _send_batch(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    config: AlertConfig,
    channel_name: str,
    channel: Channel | None,
    batch: list[dict[str, Any]],
    now: datetime,
) -> Delivery:
    ids = [event["event_id"] for event in batch]
    message_id = (
        con.execute(
            "SELECT any_value(message_id) FROM alert_deliveries WHERE channel = ? AND event_id IN "
            f"({', '.join('?' * len(ids))}) AND status = 'sending'",
            [channel_name, *ids],
        ).fetchall()[0][0]
        or uuid.uuid4().hex[:16]
    )
    with transaction(con):
        con.execute(
            f"UPDATE alert_deliveries SET status = 'sending', message_id = ? WHERE channel = ? AND event_id IN "
            f"({', '.join('?' * len(ids))})",
            [message_id, channel_name, *ids],
        )
    title, body, lines = format_message(batch, message_id)
    error = None
    if channel is None:
        for line in lines:
            log.info("alert: %s", line)
    else:
        error = send(settings, channel, title, body)
    with transaction(con):
        placeholders = ", ".join("?" * len(ids))
        if error is None:
            con.execute(
                f"UPDATE alert_deliveries SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL"
                f" WHERE channel = ? AND event_id IN ({placeholders})",
                [now, channel_name, *ids],
            )
        else:
            attempts = max(event["attempts"] for event in batch) + 1
            wait = min(timedelta(minutes=config.backoff_minutes) * 2 ** (attempts - 1), MAX_BACKOFF)
            con.execute(
                "UPDATE alert_deliveries SET status = 'pending', attempts = attempts + 1, next_attempt_at = ?,"
                f" last_error = ? WHERE channel = ? AND event_id IN ({placeholders})",
                [now + wait, error, channel_name, *ids],
            )
    return Delivery(channel_name, len(ids), error is None, error, lines)


def send(settings: Settings, channel: Channel, title: str, body: str) -> str | None:
    """Send one message through Apprise; None when it went out, else the reason with every secret removed."""
    import apprise

    try:
        url = resolve_url(channel)
    except MissingSecret as exc:
        return f"{channel.ref}: {exc}"
    if url is None:
        return f"{channel.ref}: no URL"
    secrets = secret_parts(url) + ([settings.hf_token] if settings.hf_token else [])
    guard = _Redactor(secrets)
    apprise_log = logging.getLogger("apprise")
    apprise_log.addFilter(guard)
    try:
        notifier = apprise.Apprise()
        if not notifier.add(url):
            return f"{channel.ref}: not a URL Apprise can send to"
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            sent = notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
        if sent:
            return None
        detail = " ".join(captured.getvalue().split()) or "Apprise reported a failure"
        return redact(detail, secrets)[:300]
    except Exception as exc:  # a plugin's own error: kept as text, redacted, and retried later
        return redact(f"{type(exc).__name__}: {exc}", secrets)[:300]
    finally:
        apprise_log.removeFilter(guard)


def resolve_url(channel: Channel) -> str | None:
    """The channel's URL: resolved from the environment already, or read now from a Prefect Secret block."""
    if channel.url is not None:
        return channel.url.get_secret_value()
    if channel.ref.startswith("prefect-secret:"):
        from prefect.blocks.system import Secret
        from prefect.exceptions import ObjectNotFound

        name = channel.ref.split(":", 1)[1]
        try:
            return str(Secret.load(name).get())
        except ValueError as exc:
            if isinstance(exc.__cause__, ObjectNotFound):  # Prefect's way of saying there is no such block
                raise MissingSecret(f"no Prefect Secret block named {name!r}") from None
            raise
    return None


class MissingSecret(LookupError):
    """A channel names a Prefect Secret block that does not exist."""


def secret_parts(url: str) -> list[str]:
    """The pieces of a channel URL that may be secret: the whole URL, user and password, path segments and query
    values (tokens and webhook ids live there); host, port and scheme are not."""
    parts = urlsplit(url)
    pieces = [url, parts.username or "", parts.password or ""]
    pieces += [unquote(segment) for segment in parts.path.split("/")]
    pieces += [value for _, value in parse_qsl(parts.query)]
    return sorted({p for p in pieces if len(p) >= 4}, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class _Redactor(logging.Filter):
    """Removes secrets from every record Apprise logs while a message is being sent."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage(), self.secrets), None
        return True


def format_message(events: list[dict[str, Any]], message_id: str) -> tuple[str, str, list[str]]:
    """Title, body and one line per event; several events are grouped by provider (a digest)."""
    lines = [describe(event) for event in events]
    if len(events) == 1:
        title = f"llmflation: {lines[0].split(' [event ')[0]}"
        return title, f"{lines[0]}\n\nmessage {message_id}", lines
    counts: dict[str, int] = defaultdict(int)
    for event in events:
        counts[event["event_type"]] += 1
    title = "llmflation: " + ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(counts.items()))
    groups: dict[str, list[str]] = defaultdict(list)
    for event, line in zip(events, lines, strict=True):
        groups[event["provider"] or event["source"]].append(line)
    body = "\n\n".join(f"{name}\n" + "\n".join(f"- {line}" for line in group) for name, group in groups.items())
    return title, f"{body}\n\nmessage {message_id}", lines


def describe(event: dict[str, Any]) -> str:
    """One line a person can read: what changed, from what to what, where it was seen, and the event id."""
    kind = event["event_type"].replace("_", " ")
    tail = f"[{event['source']}] [event {event['event_id']}]"
    if event["event_type"] == "source_broken":
        import json

        evidence = json.loads(event["evidence"]) if isinstance(event["evidence"], str) else event["evidence"]
        return f"source {event['source']} broken: {evidence.get('status')}, {evidence.get('error')} {tail}"
    offer = f"{event['provider']} {event['provider_model_id'] or event['model_key']} {event['metric']}"
    if event.get("tier") and event["tier"] != "standard":
        offer += f" ({event['tier']})"
    old, new, pct = event["old_usd_per_mtok"], event["new_usd_per_mtok"], event["pct_change"]
    prices = " -> ".join(_usd(v) for v in (old, new) if v is not None)
    change = f" ({pct:+.1f}%)" if pct is not None else ""
    return f"{kind}: {offer} {prices} per 1M tokens{change} {tail}".replace("  ", " ")


def _usd(value: Any) -> str:
    """$2.50, $0.075, $0.000125: at least cents, every significant digit up to 1e-9."""
    whole, _, fraction = f"{float(value):.9f}".partition(".")
    fraction = fraction.rstrip("0").ljust(2, "0")
    return f"${whole}.{fraction}"
