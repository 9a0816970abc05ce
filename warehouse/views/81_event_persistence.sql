-- How long the new value of each price event has held, for alert rules with `min_runs` (flows/alerts.py):
-- held_runs counts the applied runs of its source that listed it (the run that found it included); for a change
-- that puts back the value from before the previous one, reverted_runs counts the runs the undone value held.
CREATE OR REPLACE VIEW event_persistence AS
WITH seg AS (
    SELECT source, provider, provider_model_id, region, tier, metric, valid_from, amount, first_seen_at,
           last_seen_at,
           lag(amount, 2) OVER offer AS amount_two_before,
           lag(first_seen_at) OVER offer AS previous_first_seen_at,
           lag(last_seen_at) OVER offer AS previous_last_seen_at
    FROM price_segments
    WHERE unit = 'mtok'
    WINDOW offer AS (PARTITION BY source, provider, provider_model_id, region, tier, metric ORDER BY valid_from)
),
held AS (
    SELECT e.event_id, e.event_type, s.*
    FROM events e
    JOIN seg s
      ON s.source = e.source AND s.provider = e.provider AND s.provider_model_id = e.provider_model_id
     AND s.region = e.region AND s.tier = e.tier AND s.metric = e.metric AND s.valid_from = e.effective_at
    WHERE e.event_type IN ('price_cut', 'price_increase', 'suspected_unit_error', 'new_offer', 'new_tier',
                           'all_time_low')
),
applied AS (
    SELECT source, observed_at FROM source_runs WHERE applied
)
SELECT
    h.event_id,
    (SELECT count(*) FROM applied r
     WHERE r.source = h.source AND r.observed_at BETWEEN h.first_seen_at AND h.last_seen_at) AS held_runs,
    CASE WHEN h.event_type IN ('price_cut', 'price_increase', 'suspected_unit_error') AND h.amount = h.amount_two_before
         THEN (SELECT count(*) FROM applied r
               WHERE r.source = h.source AND r.observed_at BETWEEN h.previous_first_seen_at AND h.previous_last_seen_at)
    END AS reverted_runs
FROM held h;
