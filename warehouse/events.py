"""Events: after each source run, the candidates its history now shows that no earlier run had found."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import duckdb
import pyarrow as pa

COLUMNS = (
    "event_id, event_type, detected_at, run_id, effective_at, provider, model_key, provider_model_id, metric, tier, "
    "region, old_usd_per_mtok, new_usd_per_mtok, pct_change, source, evidence, news, changes_30d, plausible"
)


def detect(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    detected_at: datetime,
    models: Iterable[str] | None = None,
    *,
    quiet_prices: bool = False,
) -> int:
    """Record the events this run brought to light; returns how many (caller holds a transaction).

    models: the model keys whose price history the run changed (an incremental fold); their events are recomputed
    and the rest is not looked at, except source runs, which always are. None recomputes every event (after a full
    fold), and withdraws those the history no longer shows. A rerun finds the same candidates, all known already,
    so it records nothing. What an import or a rebuild finds is never news; quiet_prices: no price event found is
    news (a load of exchange rates changes what prices are worth in dollars, not the prices), while a source broken
    is. On a warehouse that had history before events existed, the first detection records that history's events
    as a baseline (no run, never alerted)."""
    pending = con.execute("SELECT baseline_pending FROM event_detection").fetchall()
    baseline = bool(pending and pending[0][0])
    scoped = models is not None and not baseline
    if scoped:
        con.execute("DELETE FROM event_scope")
        models = sorted(set(models or ()))
        keys = pa.table({"model_key": pa.array(models, pa.string())})
        con.register("incoming_scope", keys)
        try:
            con.execute("INSERT INTO event_scope SELECT model_key FROM incoming_scope")
        finally:
            con.unregister("incoming_scope")
    imported = con.execute(
        "SELECT count(*) FROM runs WHERE run_id = ? AND flow IN ('import', 'rebuild')", [run_id]
    ).fetchall()
    quiet = baseline or imported[0][0] > 0
    con.execute("DROP TABLE IF EXISTS found_events")
    # with no model to look at, only what source runs show (the rest of the candidates costs a plan for nothing)
    candidates = "source_run_events" if scoped and not models else f"event_candidates_in({str(scoped).lower()})"
    con.execute(
        f"CREATE TEMP TABLE found_events AS SELECT * FROM {candidates} "
        "QUALIFY row_number() OVER (PARTITION BY event_id) = 1"
    )
    con.execute(
        f"INSERT INTO events ({COLUMNS}) "
        "SELECT c.event_id, c.event_type, ?, ?, c.effective_at, c.provider, c.model_key, c.provider_model_id,"
        " c.metric, c.tier, c.region, c.old_usd_per_mtok, c.new_usd_per_mtok, c.pct_change, c.source,"
        " c.evidence, c.news AND NOT ? AND NOT (? AND c.event_type <> 'source_broken'), c.changes_30d, c.plausible "
        "FROM found_events c ANTI JOIN events e USING (event_id)",
        [detected_at, None if baseline else run_id, quiet, quiet_prices],
    )
    # an event found again takes what the history now says of it (a replay filled in an earlier first price of a
    # new offer; another source confirmed a price judged implausible)
    con.execute(
        "UPDATE events e SET effective_at = c.effective_at, model_key = c.model_key, "
        "old_usd_per_mtok = c.old_usd_per_mtok, new_usd_per_mtok = c.new_usd_per_mtok, "
        "pct_change = c.pct_change, evidence = c.evidence, changes_30d = c.changes_30d, plausible = c.plausible "
        "FROM found_events c WHERE e.event_id = c.event_id AND ("
        "e.effective_at IS DISTINCT FROM c.effective_at OR e.model_key IS DISTINCT FROM c.model_key OR "
        "e.old_usd_per_mtok IS DISTINCT FROM c.old_usd_per_mtok OR "
        "e.new_usd_per_mtok IS DISTINCT FROM c.new_usd_per_mtok OR "
        "e.changes_30d IS DISTINCT FROM c.changes_30d OR e.plausible IS DISTINCT FROM c.plausible OR "
        "e.evidence::VARCHAR IS DISTINCT FROM c.evidence::VARCHAR)"
    )
    con.execute(  # a withdrawn event the history shows again comes back
        "UPDATE events SET withdrawn_at = NULL WHERE withdrawn_at IS NOT NULL "
        "AND event_id IN (SELECT event_id FROM found_events)"
    )
    # events the history no longer shows are withdrawn: any, after a full recompute; of the scoped models only,
    # whose events were all recomputed, otherwise
    con.execute(
        "UPDATE events SET withdrawn_at = ? WHERE withdrawn_at IS NULL "
        "AND event_id NOT IN (SELECT event_id FROM found_events) "
        "AND (NOT ? OR (event_type <> 'source_broken' AND model_key IN (SELECT model_key FROM event_scope)))",
        [detected_at, scoped],
    )
    con.execute("DROP TABLE found_events")
    if scoped:
        con.execute("DELETE FROM event_scope")
    # the first run that brings a source in compares it with the others for the first time: what it disagrees
    # on then is its baseline too, not news (or every existing difference would alert at once)
    con.execute(
        "UPDATE events SET news = false WHERE run_id = ? AND event_type = 'source_disagreement' AND news AND "
        "EXISTS (SELECT 1 FROM source_runs r WHERE r.run_id = events.run_id AND r.applied "
        "AND r.source IN (events.source, json_extract_string(events.evidence, '$.official_source')) "
        "AND NOT EXISTS (SELECT 1 FROM source_runs p WHERE p.source = r.source AND p.applied "
        "AND p.observed_at < r.observed_at))",
        [run_id],
    )
    found = con.execute("SELECT count(*) FROM events WHERE run_id = ?", [run_id]).fetchall()[0][0]
    if baseline:
        con.execute("UPDATE event_detection SET baseline_pending = false")
    return int(found)
