-- Per day and model class (catalogue), the cheapest open-weights offer and the cheapest closed one, by a 3:1
-- input:output blend of standard-tier USD prices in force at the end of that day (free offers excluded), with
-- the ratio closed / open; from the nightly history and the dated landmark prices. Public contract.
CREATE OR REPLACE VIEW open_vs_closed AS
WITH placed_landmarks AS (  -- curated history before the nightly runs, where a source dates it
    SELECT 'landmark' AS source, provider, model AS provider_model_id, 'default' AS region, model_key,
           input_usd_per_mtok, output_usd_per_mtok, valid_from, valid_to
    FROM landmark_offers
),
prices AS (
    SELECT source, provider, provider_model_id, region, model_key, metric, usd_per_mtok, valid_from, valid_to
    FROM price_history WHERE tier = 'standard' AND metric IN ('input', 'output') AND plausible
    UNION ALL
    SELECT source, provider, provider_model_id, region, model_key, 'input', input_usd_per_mtok, valid_from, valid_to
    FROM placed_landmarks
    UNION ALL
    SELECT source, provider, provider_model_id, region, model_key, 'output', output_usd_per_mtok, valid_from, valid_to
    FROM placed_landmarks
),
offers AS (
    SELECT h.source, h.provider, h.provider_model_id, h.region, h.model_key, h.metric, h.usd_per_mtok,
           h.valid_from, h.valid_to, m.class, m.open_weights
    FROM prices h
    JOIN models m USING (model_key)
    WHERE h.usd_per_mtok > 0 AND m.class IS NOT NULL AND m.open_weights IS NOT NULL
),
days AS (
    SELECT CAST(unnest(generate_series(CAST(min(valid_from) AS DATE), current_date, INTERVAL 1 DAY)) AS DATE) AS day
    FROM offers
),
blended AS (
    SELECT d.day, o.class, o.open_weights, o.source, o.provider, o.provider_model_id, o.region, o.model_key,
           max(o.usd_per_mtok) FILTER (WHERE o.metric = 'input') AS input,
           max(o.usd_per_mtok) FILTER (WHERE o.metric = 'output') AS output
    FROM days d
    JOIN offers o
      ON o.valid_from < d.day + INTERVAL 1 DAY
     AND (o.valid_to IS NULL OR o.valid_to >= d.day + INTERVAL 1 DAY)
    GROUP BY ALL
    HAVING input IS NOT NULL AND output IS NOT NULL
),
cheapest AS (  -- one offer's row; of equal prices, the first by model, provider and source
    SELECT day, class, open_weights, pick.model_key, pick.offered_by, pick.blended AS blended_usd_per_mtok
    FROM (
        SELECT day, class, open_weights,
               arg_min({'model_key': model_key, 'offered_by': provider || ' via ' || source,
                        'blended': (3 * input + output) / 4},
                       ((3 * input + output) / 4, model_key, provider, source)) AS pick
        FROM blended
        GROUP BY ALL
    )
)
SELECT o.day, o.class,
       o.model_key AS open_model, o.offered_by AS open_offered_by, round(o.blended_usd_per_mtok, 6) AS open_blended,
       c.model_key AS closed_model, c.offered_by AS closed_offered_by,
       round(c.blended_usd_per_mtok, 6) AS closed_blended,
       round(c.blended_usd_per_mtok / o.blended_usd_per_mtok, 2) AS closed_to_open_ratio
FROM cheapest o
JOIN cheapest c ON c.day = o.day AND c.class = o.class AND NOT c.open_weights
WHERE o.open_weights
ORDER BY o.day, o.class;
