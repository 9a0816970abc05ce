-- Rebuild the price history of one source from its applied observations: a gaps-and-islands fold.
-- A series is (provider, provider_model_id, region, tier, metric, unit). Each applied source run is a "tick".
-- A new segment starts when the amount or currency changes, or when the series comes back after having been
-- absent from at least $removal_runs consecutive ticks (it was removed in between).
-- Parameters: $source, $removal_runs.
INSERT INTO price_segments
WITH ticks AS (
    SELECT observed_at, row_number() OVER (ORDER BY observed_at) AS tick
    FROM (SELECT DISTINCT observed_at FROM source_runs WHERE source = $source AND applied)
),
max_tick AS (
    SELECT coalesce(max(tick), 0) AS tick FROM ticks
),
obs AS (
    -- one observation per series and tick; of two runs at the same as-of time, the later run wins
    SELECT o.provider, o.provider_model_id, o.region, o.tier, o.metric, o.unit, o.currency, o.amount,
           o.model_key, o.raw_sha256, o.effective_from, o.observed_at, t.tick
    FROM observations o
    JOIN source_runs r ON r.run_id = o.run_id AND r.source = o.source AND r.applied
    JOIN ticks t ON t.observed_at = r.observed_at
    WHERE o.source = $source
    QUALIFY row_number() OVER (
        PARTITION BY o.provider, o.provider_model_id, o.region, o.tier, o.metric, o.unit, t.tick
        ORDER BY r.started_at DESC, r.run_id DESC) = 1
),
flagged AS (
    SELECT *,
        CASE WHEN lag(tick) OVER w IS NULL
               OR amount <> lag(amount) OVER w
               OR currency <> lag(currency) OVER w
               OR tick - lag(tick) OVER w > $removal_runs
             THEN 1 ELSE 0 END AS starts
    FROM obs
    WINDOW w AS (PARTITION BY provider, provider_model_id, region, tier, metric, unit ORDER BY tick)
),
numbered AS (
    SELECT *, sum(starts) OVER (
        PARTITION BY provider, provider_model_id, region, tier, metric, unit ORDER BY tick
        ROWS UNBOUNDED PRECEDING) AS segment
    FROM flagged
),
segments AS (
    SELECT provider, provider_model_id, region, tier, metric, unit, segment,
           any_value(currency) AS currency,
           any_value(amount) AS amount,
           arg_max(model_key, tick) AS model_key,
           min(effective_from) AS stated_from,
           min(observed_at) AS first_seen_at,
           max(observed_at) AS last_seen_at,
           min(tick) AS first_tick,
           max(tick) AS last_tick,
           arg_min(raw_sha256, tick) AS first_raw_sha256,
           arg_max(raw_sha256, tick) AS last_raw_sha256
    FROM numbered
    GROUP BY ALL
),
linked AS (
    SELECT s.*,
           coalesce(s.stated_from, s.first_seen_at) AS valid_from,
           lead(coalesce(s.stated_from, s.first_seen_at)) OVER w AS next_valid_from,
           lead(s.first_tick) OVER w AS next_first_tick
    FROM segments s
    WINDOW w AS (PARTITION BY provider, provider_model_id, region, tier, metric, unit ORDER BY segment)
)
SELECT
    $source AS source, l.provider, l.provider_model_id, l.model_key, l.region, l.tier, l.metric, l.unit,
    l.currency, l.amount, l.valid_from,
    CASE
        WHEN coalesce(l.next_first_tick, m.tick + 1) - l.last_tick > $removal_runs THEN gone.observed_at
        WHEN l.next_first_tick IS NOT NULL THEN l.next_valid_from
    END AS valid_to,
    l.first_seen_at, l.last_seen_at,
    CASE WHEN l.next_first_tick IS NULL THEN m.tick - l.last_tick ELSE 0 END AS missing_runs,
    CASE
        WHEN coalesce(l.next_first_tick, m.tick + 1) - l.last_tick > $removal_runs THEN 'removed'
        WHEN l.next_first_tick IS NOT NULL THEN 'changed'
    END AS end_reason,
    l.first_raw_sha256, l.last_raw_sha256
FROM linked l
CROSS JOIN max_tick m
LEFT JOIN ticks gone ON gone.tick = l.last_tick + 1
