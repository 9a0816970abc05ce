-- Per day and model class (catalogue), the cheapest open-weights offer and the cheapest closed one, by a 3:1
-- input:output blend of standard-tier USD prices counting as offers at the end of that day (warehouse/views/
-- 15_offers.sql: sellers' own prices, claims only until the seller's own word prices the model, landmarks only
-- before nightly data of their provider; no free offer), with the ratio closed / open and where each price came from.
-- Public contract.
CREATE OR REPLACE VIEW open_vs_closed AS
WITH priced AS (
    SELECT o.*, m.class, m.open_weights
    FROM offers o
    JOIN models m USING (model_key)
    WHERE o.tier = 'standard' AND o.metric IN ('input', 'output') AND m.class IS NOT NULL
      AND m.open_weights IS NOT NULL
),
days AS (
    SELECT CAST(unnest(generate_series(CAST(min(valid_from) AS DATE), current_date, INTERVAL 1 DAY)) AS DATE) AS day
    FROM priced
),
blended AS (
    SELECT d.day, o.class, o.open_weights, o.source, o.price_from, o.provider, o.provider_model_id, o.region,
           o.model_key,
           max(o.usd_per_mtok) FILTER (WHERE o.metric = 'input') AS input,
           max(o.usd_per_mtok) FILTER (WHERE o.metric = 'output') AS output,
           max(o.evidence) AS evidence
    FROM days d
    JOIN priced o
      ON o.valid_from < d.day + INTERVAL 1 DAY
     AND (o.valid_to IS NULL OR o.valid_to >= d.day + INTERVAL 1 DAY)
    GROUP BY d.day, o.class, o.open_weights, o.source, o.price_from, o.provider, o.provider_model_id, o.region,
             o.model_key
    HAVING input IS NOT NULL AND output IS NOT NULL
),
cheapest AS (  -- one offer's row; of equal prices, the first by model, provider and source
    SELECT day, class, open_weights, pick.*
    FROM (
        SELECT day, class, open_weights,
               arg_min({'model_key': model_key, 'offered_by': provider || ' via ' || source,
                        'price_from': price_from, 'evidence': evidence, 'blended': (3 * input + output) / 4},
                       ((3 * input + output) / 4, model_key, provider, source)) AS pick
        FROM blended
        GROUP BY ALL
    )
)
SELECT o.day, o.class,
       o.model_key AS open_model, o.offered_by AS open_offered_by, round(o.blended, 6) AS open_blended,
       c.model_key AS closed_model, c.offered_by AS closed_offered_by, round(c.blended, 6) AS closed_blended,
       round(c.blended / o.blended, 2) AS closed_to_open_ratio,
       o.price_from AS open_price_from, o.evidence AS open_evidence,
       c.price_from AS closed_price_from, c.evidence AS closed_evidence
FROM cheapest o
JOIN cheapest c ON c.day = o.day AND c.class = o.class AND NOT c.open_weights
WHERE o.open_weights
ORDER BY o.day, o.class;
