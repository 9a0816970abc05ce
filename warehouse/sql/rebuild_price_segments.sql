-- Rebuild the price history of one source from its applied observations: a gaps-and-islands fold.
--
-- A series is (provider, provider_model_id, region, tier, metric, unit). Each applied source run is a "tick".
-- Undated observations (the source states no period): a new segment starts when the amount or currency changes,
-- or when the series comes back after being absent from at least $removal_runs consecutive ticks (it was
-- removed in between, and the old segment ends at the first tick without it). valid_from is the first
-- observation of the value.
-- Dated observations (the source states effective_from): one segment per stated start, valid from that date;
-- if the source later restates a different amount for the same start, the latest statement wins (earlier ones
-- stay in observations). A stated effective_to ends a segment; otherwise it ends where the next stated start
-- of the same series begins.
-- Parameters: $source, $removal_runs.
INSERT INTO price_segments BY NAME
WITH ticks AS (
    SELECT observed_at, row_number() OVER (ORDER BY observed_at) AS tick
    FROM (SELECT DISTINCT observed_at FROM source_runs WHERE source = $source AND applied)
),
max_tick AS (
    SELECT coalesce(max(tick), 0) AS tick FROM ticks
),
obs AS (
    -- one observation per series, stated start and tick; of two runs at the same as-of time, the later wins
    SELECT o.provider, o.provider_model_id, o.region, o.tier, o.metric, o.unit, o.currency, o.amount,
           o.model_key, o.raw_sha256, o.effective_from, o.effective_to, o.observed_at, t.tick
    FROM observations o
    JOIN source_runs r ON r.run_id = o.run_id AND r.source = o.source AND r.applied
    JOIN ticks t ON t.observed_at = r.observed_at
    WHERE o.source = $source
    QUALIFY row_number() OVER (
        PARTITION BY o.provider, o.provider_model_id, o.region, o.tier, o.metric, o.unit, o.effective_from, t.tick
        ORDER BY r.started_at DESC, r.run_id DESC) = 1
),
flagged AS (
    SELECT *,
        CASE WHEN lag(tick) OVER w IS NULL
               OR amount <> lag(amount) OVER w
               OR currency <> lag(currency) OVER w
               OR (effective_from IS NULL AND tick - lag(tick) OVER w > $removal_runs)
             THEN 1 ELSE 0 END AS starts
    FROM obs
    WINDOW w AS (PARTITION BY provider, provider_model_id, region, tier, metric, unit, effective_from ORDER BY tick)
),
numbered AS (
    SELECT *, sum(starts) OVER (
        PARTITION BY provider, provider_model_id, region, tier, metric, unit, effective_from ORDER BY tick
        ROWS UNBOUNDED PRECEDING) AS segment
    FROM flagged
),
islands AS (
    SELECT provider, provider_model_id, region, tier, metric, unit, effective_from, segment,
           any_value(currency) AS currency,
           any_value(amount) AS amount,
           arg_max(model_key, tick) AS model_key,
           arg_max(effective_to, tick) AS stated_to,
           min(observed_at) AS first_seen_at,
           max(observed_at) AS last_seen_at,
           min(tick) AS first_tick,
           max(tick) AS last_tick,
           arg_min(raw_sha256, tick) AS first_raw_sha256,
           arg_max(raw_sha256, tick) AS last_raw_sha256
    FROM numbered
    GROUP BY ALL
),
kept AS (
    -- undated: every island; dated: only the latest statement for each stated start
    SELECT *, coalesce(effective_from, first_seen_at) AS valid_from
    FROM islands
    QUALIFY effective_from IS NULL
         OR segment = max(segment) OVER (PARTITION BY provider, provider_model_id, region, tier, metric, unit,
                                                      effective_from)
),
linked AS (
    SELECT k.*,
        lead(k.first_tick) OVER undated AS next_first_tick,
        lead(k.valid_from) OVER undated AS next_valid_from,
        (SELECT min(d.effective_from) FROM kept d
         WHERE d.provider = k.provider AND d.provider_model_id = k.provider_model_id AND d.region = k.region
           AND d.tier = k.tier AND d.metric = k.metric AND d.unit = k.unit
           AND d.effective_from IS NOT NULL AND d.effective_from > k.valid_from) AS next_stated_from
    FROM kept k
    WINDOW undated AS (PARTITION BY provider, provider_model_id, region, tier, metric, unit, effective_from
                       ORDER BY segment)
),
ended AS (
    SELECT l.*,
        l.effective_from IS NULL AND coalesce(l.next_first_tick, m.tick + 1) - l.last_tick > $removal_runs
            AS removed,
        CASE WHEN l.next_first_tick IS NULL THEN m.tick - l.last_tick ELSE 0 END AS missing_runs,
        l.next_first_tick IS NULL AS latest,
        gone.observed_at AS gone_at
    FROM linked l
    CROSS JOIN max_tick m
    LEFT JOIN ticks gone ON gone.tick = l.last_tick + 1
)
SELECT
    $source AS source, provider, provider_model_id, model_key, region, tier, metric, unit, currency, amount,
    valid_from,
    least(series_to, stated_to, next_stated_from) AS valid_to,
    first_seen_at, last_seen_at, missing_runs,
    coalesce(series_end, CASE WHEN stated_to IS NOT NULL OR next_stated_from IS NOT NULL THEN 'stated' END)
        AS end_reason,
    first_raw_sha256, last_raw_sha256,
    effective_from AS stated_from, stated_to, series_to, series_end, latest
FROM (
    SELECT *,
        CASE WHEN removed THEN gone_at WHEN effective_from IS NULL THEN next_valid_from END AS series_to,
        CASE WHEN removed THEN 'removed' WHEN next_first_tick IS NOT NULL AND effective_from IS NULL THEN 'changed'
        END AS series_end
    FROM ended
)
