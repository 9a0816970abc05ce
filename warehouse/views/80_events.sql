-- What source runs alone show: a source broken after a healthy run (one event per outage). Internal.
CREATE OR REPLACE VIEW source_run_events AS
WITH broken AS (  -- live runs only: an import says nothing of the source's health now
    SELECT
        r.*,
        lag(r.status) OVER (PARTITION BY r.source ORDER BY r.observed_at, r.started_at) AS prev_status
    FROM source_runs r
    WHERE r.status IN ('ok', 'failed', 'suspect')
      AND r.run_id NOT IN (SELECT run_id FROM runs WHERE flow = 'import')
)
SELECT
    md5(concat_ws('|', 'source_broken', source, run_id)) AS event_id,
    'source_broken' AS event_type, observed_at AS effective_at, NULL::VARCHAR AS provider,
    NULL::VARCHAR AS model_key, NULL::VARCHAR AS provider_model_id, NULL::VARCHAR AS metric, NULL::VARCHAR AS tier,
    NULL::VARCHAR AS region, NULL::DECIMAL(38, 18) AS old_usd_per_mtok, NULL::DECIMAL(38, 18) AS new_usd_per_mtok,
    NULL::DOUBLE AS pct_change, source,
    json_object('run_id', run_id, 'status', status, 'error', error, 'raw_sha256', raw_sha256)::JSON AS evidence,
    prev_status IS NOT NULL AS news,  -- broken after a healthy run is news; a first run that fails is a baseline
    NULL::INTEGER AS changes_30d, NULL::BOOLEAN AS plausible
FROM broken
WHERE status <> 'ok' AND coalesce(prev_status, 'ok') = 'ok';

-- Every event the history and the source runs show, recomputed from them (deterministic: the same history, the same
-- candidates and ids). After each source run, candidates not in `events` yet are inserted there with the run's time.
-- event_candidates_in(true) computes them only for the models listed in event_scope (those a run's fold touched):
-- every segment of every offer that has a segment of such a model takes part, so each offer's series is whole;
-- lows and disagreements are emitted only for the listed models, whose segments are all there.
-- Internal; the public contract is price_events below.
CREATE OR REPLACE MACRO event_candidates_in(scoped) AS TABLE
WITH listed AS (
    SELECT DISTINCT source, provider, provider_model_id FROM price_segments
    WHERE NOT scoped OR model_key IN (SELECT model_key FROM event_scope)
),
seg AS (
    SELECT
        s.*,
        usd_amount(s.currency, s.amount, s.valid_from, fx.date, fx.usd_per_base, fx.units_per_base) AS usd
    FROM (SELECT * FROM price_segments SEMI JOIN listed USING (source, provider, provider_model_id)) s
    ASOF LEFT JOIN fx_conversion fx ON fx.currency = s.currency AND utc_day(s.valid_from) >= fx.date
    WHERE s.unit = 'mtok'
),
baseline AS (  -- a source's first applied run: what it lists then is its starting point, not news
    SELECT source, min(observed_at) AS first_run FROM source_runs WHERE applied GROUP BY source
),
ranked AS (
    SELECT
        seg.*,
        seg.first_seen_at > b.first_run AS news,
        lag(amount) OVER offer AS prev_amount,
        lag(usd) OVER offer AS prev_usd,
        lag(end_reason) OVER offer AS prev_end,
        lag(last_raw_sha256) OVER offer AS prev_sha,
        lag(valid_to) OVER offer AS prev_valid_to,
        lead(amount) OVER offer AS next_amount,
        row_number() OVER offer AS nth,
        min(first_seen_at) OVER (PARTITION BY source, provider, provider_model_id, metric) AS model_first_seen,
        min(first_seen_at) OVER (PARTITION BY source, provider, provider_model_id, region, tier, metric)
            AS offer_first_seen
    FROM seg JOIN baseline b USING (source)
    WINDOW offer AS (PARTITION BY source, provider, provider_model_id, region, tier, metric ORDER BY valid_from)
),
ordered AS (  -- how many times the offer changed in the 30 days before each segment: flapping, for rules and users
    SELECT *,
        coalesce(sum(CASE WHEN nth > 1 THEN 1 ELSE 0 END) OVER (
            PARTITION BY source, provider, provider_model_id, region, tier, metric ORDER BY valid_from
            RANGE BETWEEN INTERVAL 30 DAY PRECEDING AND CURRENT ROW EXCLUDE GROUP), 0)::INTEGER AS changes_30d
    FROM ranked
),
changes AS (
    SELECT
        CASE
            WHEN prev_amount > 0 AND amount > 0 AND (amount / prev_amount >= 100 OR prev_amount / amount >= 100)
                THEN 'suspected_unit_error'
            WHEN amount < prev_amount THEN 'price_cut'
            ELSE 'price_increase'
        END AS event_type,
        o.*
    FROM ordered o
    WHERE nth > 1 AND prev_end IN ('changed', 'stated') AND prev_valid_to = valid_from AND amount <> prev_amount
),
lows AS (
    -- the cheapest paid standard price of a model and metric, across the offers (warehouse/views/15_offers.sql): a
    -- segment is a low when it is cheaper than every earlier one (an equal price is not a new low) and than none of
    -- those starting with it; a claim stated after the seller's own word priced the model is no offer
    SELECT
        o.*,
        min(usd) OVER earlier AS prev_low,
        arg_min(last_raw_sha256, usd) OVER earlier AS prev_low_sha,
        min(usd) OVER (PARTITION BY model_key, metric, valid_from) AS peer_low
    FROM ordered o
    LEFT JOIN source_kinds k USING (source)
    LEFT JOIN offer_cover_in(scoped) c USING (provider, model_key)
    WHERE tier = 'standard' AND usd > 0 AND NOT is_free(amount, provider_model_id) AND plausible
      AND coalesce(k.kind, 'feed') IN ('official', 'reseller', 'feed')
      AND o.valid_from < coalesce(offer_until(coalesce(k.kind, 'feed'), NULL, c.own_since, NULL),
                                  TIMESTAMPTZ 'infinity')
      AND (NOT scoped OR model_key IN (SELECT model_key FROM event_scope))
      -- a value on either side of a jump of 100x or more is suspect: never a low, nor the low others must beat
      AND NOT coalesce(prev_amount > 0 AND amount > 0 AND greatest(prev_amount / amount, amount / prev_amount) >= 100,
                       false)
      AND NOT coalesce(next_amount > 0 AND amount > 0 AND greatest(next_amount / amount, amount / next_amount) >= 100,
                       false)
    WINDOW earlier AS (PARTITION BY model_key, metric ORDER BY valid_from
                       RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP)
)
SELECT
    md5(concat_ws('|', event_type, source, provider, provider_model_id, region, tier, metric, valid_from,
                  prev_amount, amount)) AS event_id,
    event_type, valid_from AS effective_at, provider, model_key, provider_model_id, metric, tier, region,
    prev_usd AS old_usd_per_mtok, usd AS new_usd_per_mtok,
    round((amount - prev_amount) / prev_amount * 100, 4)::DOUBLE AS pct_change, source,
    json_object('old_sha256', prev_sha, 'new_sha256', first_raw_sha256, 'currency', currency,
                'old_amount', prev_amount::VARCHAR, 'new_amount', amount::VARCHAR)::JSON AS evidence,
    news, changes_30d, plausible
FROM changes
UNION ALL
SELECT
    md5(concat_ws('|', 'new', o.source, provider, provider_model_id, region, tier, metric)),
    CASE WHEN model_first_seen < offer_first_seen THEN 'new_tier' ELSE 'new_offer' END,
    valid_from, provider, model_key, provider_model_id, metric, tier, region, NULL, usd, NULL, o.source,
    json_object('new_sha256', first_raw_sha256, 'currency', currency, 'new_amount', amount::VARCHAR)::JSON,
    true, NULL, plausible
FROM ordered o
WHERE nth = 1 AND news
UNION ALL
SELECT
    md5(concat_ws('|', 'offer_removed', source, provider, provider_model_id, region, tier, metric, valid_from)),
    'offer_removed', valid_to, provider, model_key, provider_model_id, metric, tier, region, usd, NULL, NULL, source,
    json_object('last_sha256', last_raw_sha256, 'currency', currency, 'old_amount', amount::VARCHAR,
                'missing_runs', missing_runs)::JSON,
    true, NULL, plausible
FROM seg
WHERE end_reason = 'removed'
UNION ALL
SELECT
    md5(concat_ws('|', 'all_time_low', source, provider, provider_model_id, region, metric, valid_from, amount)),
    'all_time_low', valid_from, provider, model_key, provider_model_id, metric, tier, region, prev_low, usd,
    round((usd - prev_low) / prev_low * 100, 4)::DOUBLE, source,
    json_object('old_sha256', prev_low_sha, 'new_sha256', first_raw_sha256)::JSON,
    news, changes_30d, true
FROM lows
WHERE usd < prev_low AND usd = peer_low
UNION ALL
SELECT  -- a price far from every other offer of its model (not already a jump from its own previous value)
    md5(concat_ws('|', 'implausible', source, provider, provider_model_id, region, tier, metric, valid_from, amount)),
    'suspected_unit_error', valid_from, provider, model_key, provider_model_id, metric, tier, region,
    NULL, usd, NULL, source,
    json_object('new_sha256', first_raw_sha256, 'currency', currency, 'new_amount', amount::VARCHAR,
                'judged_against', judged_against,
                'other_median', judged_median::VARCHAR, 'other_sources', judged_sources)::JSON,
    news, changes_30d, false
FROM ordered o
WHERE NOT plausible AND (NOT scoped OR model_key IN (SELECT model_key FROM event_scope))
  AND NOT coalesce(prev_amount > 0 AND amount > 0 AND greatest(prev_amount / amount, amount / prev_amount) >= 100,
                   false)
UNION ALL
SELECT * FROM source_run_events
UNION ALL
SELECT
    md5(concat_ws('|', 'source_disagreement', official_source, other_source, provider, model_key, metric, tier,
                  region, official_price, other_price)),
    'source_disagreement', overlap_from, provider, model_key, other_model_id, metric, tier, region,
    official_price, other_price, round((other_price - official_price) / official_price * 100, 4)::DOUBLE,
    other_source,
    json_object('official_source', official_source, 'official_sha256', official_sha, 'other_sha256', other_sha,
                'currency', currency)::JSON,
    true, NULL, NULL
FROM (
    SELECT
        d.*,
        CASE WHEN kind_a = 'official' THEN source_a ELSE source_b END AS official_source,
        CASE WHEN kind_a = 'official' THEN source_b ELSE source_a END AS other_source,
        CASE WHEN kind_a = 'official' THEN provider_model_id_b ELSE provider_model_id_a END AS other_model_id,
        CASE WHEN kind_a = 'official' THEN price_a ELSE price_b END AS official_price,
        CASE WHEN kind_a = 'official' THEN price_b ELSE price_a END AS other_price,
        CASE WHEN kind_a = 'official' THEN raw_sha256_a ELSE raw_sha256_b END AS official_sha,
        CASE WHEN kind_a = 'official' THEN raw_sha256_b ELSE raw_sha256_a END AS other_sha
    FROM price_disagreements_in(scoped) d
    WHERE (kind_a = 'official') <> (kind_b = 'official')
)
WHERE official_price > 0;

CREATE OR REPLACE VIEW event_candidates AS
SELECT * FROM event_candidates_in(false);

-- Typed price events, one row per event, in the order runs found them. Public contract.
CREATE OR REPLACE VIEW price_events AS
SELECT
    e.event_id, e.event_type, e.detected_at, e.provider, e.model_key, e.metric, e.tier,
    e.old_usd_per_mtok, e.new_usd_per_mtok, e.pct_change, e.source, e.evidence,
    e.effective_at, e.provider_model_id, e.region, e.run_id, e.news, e.changes_30d, e.plausible,
    m.family, m.open_weights
FROM events e
LEFT JOIN models m USING (model_key)
WHERE e.withdrawn_at IS NULL;
