"""The price history fold: a source run's observations folded into the open segments of its source.

A run newer than every applied run of its source is folded incrementally: its observations extend, change or open
the latest segment of each series, and the series it does not list count one more missing run. The work is
proportional to the rows the run brings and the segments it touches, not to the history behind it.

Anything else (a run at or before the source's latest applied run, a migration, `llmflation rebuild`) goes through
the full fold, warehouse/sql/rebuild_price_segments.sql, which recomputes a source's segments from all its applied
observations. Both produce the same rows; tests/test_history.py checks it on real histories.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa

from llmflation.warehouse.db import sql_file

DEFAULT_REMOVAL_RUNS = 3  # a migration's rebuild uses it; `llmflation rebuild` uses the configured value
SERIES = ("provider", "provider_model_id", "region", "tier", "metric", "unit")


def join_on(left: str, right: str, *, stated: bool = True) -> str:
    """Join condition on the series (and the stated start, NULL-safe) between two aliases."""
    parts = [f"{left}.{c} = {right}.{c}" for c in SERIES]
    if stated:
        parts.append(f"{left}.stated_from IS NOT DISTINCT FROM {right}.effective_from")
    return " AND ".join(parts)


def fold_run(
    con: duckdb.DuckDBPyConnection,
    source: str,
    run_id: str,
    observed_at: datetime,
    removal_runs: int,
    incoming: str = "incoming_observations",
) -> list[str] | None:
    """Fold one applied run into its source's history (caller holds a transaction and has marked the run applied).

    `incoming` names a relation holding the run's observations. Returns the model keys whose segments the run
    added, ended or restated (their events need a look), or None after a full fold (every model's do)."""
    later = con.execute(
        "SELECT count(*) FROM source_runs WHERE source = ? AND applied AND run_id <> ? AND observed_at >= ?",
        [source, run_id, observed_at],
    ).fetchall()[0][0]
    if later:
        rebuild(con, source, removal_runs)
        return None
    con.execute("DROP TABLE IF EXISTS fold")
    con.execute(
        f"""
        CREATE TEMP TABLE fold AS
        SELECT o.provider, o.provider_model_id, o.region, o.tier, o.metric, o.unit, o.currency, o.amount,
               o.model_key, o.raw_sha256, o.effective_from, o.effective_to,
               s.model_key AS old_model_key, s.source IS NOT NULL AS has_latest,
               s.source IS NOT NULL AND s.amount = o.amount AND s.currency = o.currency
                   AND (o.effective_from IS NOT NULL OR s.series_end IS NULL) AS continues,
               s.source IS NOT NULL AND s.stated_to IS DISTINCT FROM o.effective_to AS restated
        FROM {incoming} o
        LEFT JOIN (SELECT * FROM price_segments WHERE source = $source AND latest) s ON {join_on("s", "o")}
        """,
        {"source": source},
    )
    # the same value again: the segment lasts longer
    con.execute(
        f"""
        UPDATE price_segments s SET last_seen_at = $t, missing_runs = 0, last_raw_sha256 = f.raw_sha256,
               model_key = f.model_key, stated_to = f.effective_to
        FROM fold f
        WHERE s.source = $source AND s.latest AND f.continues AND {join_on("s", "f")}
        """,
        {"source": source, "t": observed_at},
    )
    # a new value: an undated segment ends here (unless it was already removed); a restated start replaces its value
    con.execute(
        f"""
        UPDATE price_segments s SET latest = false, missing_runs = 0,
               series_to = CASE WHEN s.series_end IS NULL THEN $t ELSE s.series_to END,
               series_end = coalesce(s.series_end, 'changed')
        FROM fold f
        WHERE s.source = $source AND s.latest AND f.has_latest AND NOT f.continues AND f.effective_from IS NULL
          AND {join_on("s", "f")}
        """,
        {"source": source, "t": observed_at},
    )
    con.execute(
        f"""
        DELETE FROM price_segments s USING fold f
        WHERE s.source = $source AND s.latest AND f.has_latest AND NOT f.continues AND f.effective_from IS NOT NULL
          AND {join_on("s", "f")}
        """,
        {"source": source},
    )
    # series this run does not list: one more missing run; undated ones are removed after removal_runs of them,
    # valid until the first run that no longer saw them
    con.execute("DROP TABLE IF EXISTS fold_missing")
    con.execute(
        f"""
        CREATE TEMP TABLE fold_missing AS
        SELECT s.provider, s.provider_model_id, s.region, s.tier, s.metric, s.unit, s.stated_from AS effective_from,
               s.model_key,
               s.stated_from IS NULL AND s.series_end IS NULL AND s.missing_runs + 1 >= $removal AS removed,
               (SELECT min(r.observed_at) FROM source_runs r
                WHERE r.source = $source AND r.applied AND r.observed_at > s.last_seen_at) AS gone_at
        FROM price_segments s
        WHERE s.source = $source AND s.latest
          AND NOT EXISTS (SELECT 1 FROM fold f WHERE {join_on("s", "f")})
        """,
        {"source": source, "removal": removal_runs},
    )
    con.execute(
        f"""
        UPDATE price_segments s SET missing_runs = s.missing_runs + 1,
               series_end = CASE WHEN m.removed THEN 'removed' ELSE s.series_end END,
               series_to = CASE WHEN m.removed THEN m.gone_at ELSE s.series_to END
        FROM fold_missing m
        WHERE s.source = $source AND s.latest AND {join_on("s", "m")}
        """,
        {"source": source},
    )
    con.execute(
        """
        INSERT INTO price_segments BY NAME
        SELECT $source AS source, provider, provider_model_id, model_key, region, tier, metric, unit, currency,
               amount, coalesce(effective_from, $t) AS valid_from, $t AS first_seen_at, $t AS last_seen_at,
               0 AS missing_runs, raw_sha256 AS first_raw_sha256, raw_sha256 AS last_raw_sha256,
               effective_from AS stated_from, effective_to AS stated_to, true AS latest
        FROM fold WHERE NOT continues
        """,
        {"source": source, "t": observed_at},
    )
    # where a segment ends: its own series' end, a date the source states, or the next stated start of the series;
    # recomputed for the series whose segments this run added, replaced, restated or removed
    con.execute(
        f"""
        UPDATE price_segments s SET valid_to = n.valid_to, end_reason = n.end_reason
        FROM (
            SELECT k.provider, k.provider_model_id, k.region, k.tier, k.metric, k.unit, k.valid_from, k.stated_from,
                   least(k.series_to, k.stated_to, x.next_stated_from) AS valid_to,
                   coalesce(k.series_end, CASE WHEN k.stated_to IS NOT NULL OR x.next_stated_from IS NOT NULL
                                               THEN 'stated' END) AS end_reason
            FROM price_segments k
            SEMI JOIN (SELECT DISTINCT {", ".join(SERIES)} FROM (
                           SELECT {", ".join(SERIES)} FROM fold WHERE NOT continues OR restated
                           UNION ALL SELECT {", ".join(SERIES)} FROM fold_missing WHERE removed)) t
                ON {join_on("k", "t", stated=False)}
            LEFT JOIN LATERAL (
                SELECT min(d.stated_from) AS next_stated_from FROM price_segments d
                WHERE d.source = k.source AND {join_on("d", "k", stated=False)}
                  AND d.stated_from IS NOT NULL AND d.stated_from > k.valid_from
            ) x ON true
            WHERE k.source = $source
        ) n
        WHERE s.source = $source AND {join_on("s", "n", stated=False)} AND s.valid_from = n.valid_from
          AND s.stated_from IS NOT DISTINCT FROM n.stated_from
          AND (s.valid_to IS DISTINCT FROM n.valid_to OR s.end_reason IS DISTINCT FROM n.end_reason)
        """,
        {"source": source},
    )
    touched = con.execute(
        "SELECT model_key FROM fold WHERE NOT continues OR restated "
        "UNION SELECT old_model_key FROM fold WHERE has_latest AND (NOT continues OR restated) "
        "UNION SELECT model_key FROM fold_missing WHERE removed"
    ).fetchall()
    con.execute("DROP TABLE fold")
    con.execute("DROP TABLE fold_missing")
    models = [key for (key,) in touched]
    judge(con, models)
    return models


def rebuild(con: duckdb.DuckDBPyConnection, source: str, removal_runs: int) -> None:
    """Recompute a source's segments from all its applied observations (caller holds a transaction)."""
    con.execute("DELETE FROM price_segments WHERE source = ?", [source])
    con.execute(sql_file("rebuild_price_segments"), {"source": source, "removal_runs": removal_runs})
    judge(con, None)


def judge(con: duckdb.DuckDBPyConnection, models: list[str] | None) -> None:
    """Mark each token price of these models (None: of every model) plausible or not (caller holds a transaction).

    A non-zero price is implausible when it is 100x or more away from the median of the other non-zero offers of
    its model and metric in force when it starts (any source, provider, region or tier, in the same currency; of
    an even count, the lower middle one: unit errors in price maps are nearly always too high). A model with no
    such offer is judged with its provider's prices of the same kind (a first price, or a jump of 100x or more from
    the previous one) in the same run of its source: when at least 3 of those were judged against other offers, it
    follows most of them (a provider's block added in the wrong unit is held, the run that corrects it believed).
    Otherwise a first price is believed, and a jump from its own previous value is held unless it undoes a held
    value (a correction).
    An implausible price is confirmed, and plausible, once an offer starting later agrees with it within 100x
    (one that was itself plausible when it started: two wrong values never confirm each other).
    Every source's segments of a model are judged together, since any source can confirm another; a provider's
    run judged in an earlier run is read back from its stored judgement."""
    scope = pa.table({"model_key": pa.array(sorted(set(models or ())), pa.string())})
    series = ", ".join("k." + c for c in SERIES)
    offer = "PARTITION BY source, " + ", ".join(SERIES) + " ORDER BY valid_from"
    con.register("judged_models", scope)
    try:
        con.execute(
            f"""
            UPDATE price_segments s SET plausible = j.plausible, judged_median = j.other_median,
                   judged_sources = j.other_sources, judged_against = j.judged_against
            FROM (
                WITH k AS (
                    SELECT * EXCLUDE (plausible, judged_median, judged_sources, judged_against),
                           lag(amount) OVER offer AS prev1, lag(amount, 2) OVER offer AS prev2
                    FROM price_segments
                    WHERE unit = 'mtok' AND ($all OR model_key IN (SELECT model_key FROM judged_models))
                    WINDOW offer AS ({offer})
                ),
                pairs AS (
                    SELECT k.source, {series}, k.valid_from, k.stated_from, k.amount, o.amount AS other,
                           o.source AS other_source,
                           o.valid_from <= k.valid_from AS at_start
                    FROM k
                    JOIN price_segments o
                      ON o.model_key = k.model_key AND o.metric = k.metric AND o.unit = 'mtok'
                     AND o.currency = k.currency AND o.amount > 0
                     AND NOT (o.source = k.source AND o.provider = k.provider
                              AND o.provider_model_id = k.provider_model_id AND o.region = k.region
                              AND o.tier = k.tier)
                     AND o.valid_from < coalesce(k.valid_to, TIMESTAMPTZ 'infinity')
                     AND k.valid_from < coalesce(o.valid_to, TIMESTAMPTZ 'infinity')
                    WHERE k.amount > 0
                ),
                others AS (
                    SELECT source, {", ".join(SERIES)}, valid_from, stated_from,
                           quantile_disc(other, 0.5) FILTER (WHERE at_start) AS other_median,
                           list(DISTINCT other_source ORDER BY other_source) FILTER (WHERE at_start)
                               AS other_sources
                    FROM pairs
                    GROUP BY ALL
                ),
                base AS (  -- judged against what was in force when it started
                    SELECT k.*, x.other_median, x.other_sources,
                           CASE WHEN k.amount > 0 AND x.other_median IS NOT NULL
                                THEN greatest(k.amount / x.other_median, x.other_median / k.amount) < 100
                           END AS against_others,
                           CASE WHEN k.prev1 IS NULL THEN 'first'
                                WHEN k.prev1 > 0 AND k.amount > 0
                                     AND greatest(k.amount / k.prev1, k.prev1 / k.amount) >= 100 THEN 'jump'
                           END AS kind
                    FROM k
                    LEFT JOIN others x
                      ON x.source = k.source AND {join_on("x", "k", stated=False)} AND x.valid_from = k.valid_from
                     AND x.stated_from IS NOT DISTINCT FROM k.stated_from
                ),
                lone AS (  -- first prices and jumps with no other offer to be judged against
                    SELECT DISTINCT source, provider, first_seen_at, kind FROM base
                    WHERE amount > 0 AND against_others IS NULL AND kind IS NOT NULL
                ),
                stored AS (  -- the prices of the same runs outside this judgement, as last judged
                    SELECT source, provider, first_seen_at, amount, judged_median, model_key,
                           CASE WHEN lag(amount) OVER w IS NULL THEN 'first'
                                WHEN lag(amount) OVER w > 0 AND amount > 0
                                     AND greatest(amount / lag(amount) OVER w, lag(amount) OVER w / amount) >= 100
                                THEN 'jump'
                           END AS kind
                    FROM price_segments SEMI JOIN (SELECT DISTINCT source, provider FROM lone) USING (source, provider)
                    WHERE unit = 'mtok'
                    WINDOW w AS ({offer})
                ),
                batches AS (  -- how the same provider's prices of the same kind and run fared against other offers
                    SELECT source, provider, first_seen_at, kind, count(*) AS judged,
                           count(*) FILTER (WHERE NOT held_out) AS kept
                    FROM (
                        SELECT source, provider, first_seen_at, kind, NOT against_others AS held_out
                        FROM base SEMI JOIN lone USING (source, provider, first_seen_at, kind)
                        WHERE against_others IS NOT NULL
                        UNION ALL
                        SELECT source, provider, first_seen_at, kind,
                               greatest(amount / judged_median, judged_median / amount) >= 100
                        FROM stored SEMI JOIN lone USING (source, provider, first_seen_at, kind)
                        WHERE amount > 0 AND judged_median IS NOT NULL
                          AND NOT ($all OR model_key IN (SELECT model_key FROM judged_models))
                    )
                    GROUP BY ALL
                ),
                first_pass AS (
                    SELECT b.*,
                        CASE WHEN b.amount <= 0 THEN true
                             WHEN b.against_others IS NOT NULL THEN b.against_others
                             WHEN n.judged >= 3 THEN n.kept * 2 >= n.judged
                             WHEN b.prev1 IS NULL THEN true
                        END AS verdict,  -- NULL: judged against its own previous value
                        CASE WHEN b.amount <= 0 THEN NULL
                             WHEN b.against_others IS NOT NULL THEN 'other offers'
                             WHEN n.judged >= 3 THEN 'its provider''s prices in the same run'
                             WHEN b.prev1 IS NOT NULL THEN 'its previous value'
                        END AS judged_against
                    FROM base b LEFT JOIN batches n USING (source, provider, first_seen_at, kind)
                ),
                at_start AS (
                    SELECT f.*, coalesce(f.verdict,
                        f.prev1 <= 0 OR greatest(f.amount / f.prev1, f.prev1 / f.amount) < 100
                        OR (  -- a jump back from a held value is a correction
                            coalesce(NOT f.prev1_verdict, f.prev2 > 0
                                     AND greatest(f.prev1 / f.prev2, f.prev2 / f.prev1) >= 100, false)
                            AND coalesce(f.prev2 <= 0 OR greatest(f.amount / f.prev2, f.prev2 / f.amount) < 100, true)
                        )
                    ) AS plausible_at_start
                    FROM (SELECT *, lag(verdict) OVER ({offer}) AS prev1_verdict FROM first_pass) f
                )
                SELECT a.source, {", ".join("a." + c for c in SERIES)}, a.valid_from, a.stated_from,
                    a.other_median, a.other_sources, a.judged_against,
                    a.plausible_at_start OR EXISTS (  -- confirmed by a later offer that was plausible when it came
                        SELECT 1 FROM at_start o
                        WHERE o.model_key = a.model_key AND o.metric = a.metric AND o.currency = a.currency
                          AND o.plausible_at_start AND o.amount > 0 AND o.valid_from > a.valid_from
                          AND o.valid_from < coalesce(a.valid_to, TIMESTAMPTZ 'infinity')
                          AND NOT (o.source = a.source AND o.provider = a.provider
                                   AND o.provider_model_id = a.provider_model_id AND o.region = a.region
                                   AND o.tier = a.tier)
                          AND greatest(a.amount / o.amount, o.amount / a.amount) < 100
                    ) AS plausible
                FROM at_start a
            ) j
            WHERE s.source = j.source AND {join_on("s", "j", stated=False)} AND s.valid_from = j.valid_from
              AND s.stated_from IS NOT DISTINCT FROM j.stated_from
              AND (s.plausible IS DISTINCT FROM j.plausible OR s.judged_median IS DISTINCT FROM j.other_median
                   OR s.judged_sources IS DISTINCT FROM j.other_sources
                   OR s.judged_against IS DISTINCT FROM j.judged_against)
            """,
            {"all": models is None},
        )
    finally:
        con.unregister("judged_models")


def sources_with_history(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every source with at least one applied run, but sources of exchange rates (they have no price history)."""
    return [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT source FROM source_runs WHERE applied AND kind IS DISTINCT FROM 'reference' ORDER BY 1"
        ).fetchall()
    ]
