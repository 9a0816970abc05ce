-- Standard-tier input and output prices counting as offers at the end of every month (warehouse/views/
-- 15_offers.sql: sellers' own prices, claims only until the seller's own word prices the model, landmarks only
-- before nightly data of their provider; no free offer). One row per month and offer: month, model_key, provider, model,
-- offered_by (the source, or 'landmark'), input, output (USD per 1M tokens), price_from (official, reseller, feed
-- or landmark), evidence (the raw document's sha256, or the landmark's public source).
CREATE OR REPLACE VIEW monthly_prices AS
WITH months AS (
    SELECT CAST(unnest(generate_series(DATE '2020-01-01', date_trunc('month', current_date), INTERVAL 1 MONTH))
                AS DATE) AS month
)
SELECT m.month, o.model_key, o.provider, o.provider_model_id AS model, o.source AS offered_by,
       max(o.usd_per_mtok) FILTER (WHERE o.metric = 'input') AS input,
       max(o.usd_per_mtok) FILTER (WHERE o.metric = 'output') AS output,
       o.price_from, max(o.evidence) AS evidence
FROM months m
JOIN offers o
  ON o.valid_from < m.month + INTERVAL 1 MONTH
 AND (o.valid_to IS NULL OR o.valid_to >= m.month + INTERVAL 1 MONTH)
WHERE o.tier = 'standard' AND o.metric IN ('input', 'output')
GROUP BY m.month, o.source, o.price_from, o.provider, o.provider_model_id, o.region, o.model_key
HAVING input IS NOT NULL AND output IS NOT NULL;

-- Per month, the cheapest offer of any model scoring at least `threshold` on `bench` (capabilities), by a blend of
-- w_in parts input to w_out parts output (a16z: 1:1; Epoch AI: 3:1; input only: 1:0).
--   SELECT * FROM cheapest_at_capability('mmlu', 42, 1, 1). Public contract.
CREATE OR REPLACE MACRO cheapest_at_capability(bench, threshold, w_in, w_out) AS TABLE
WITH able AS (
    SELECT * FROM (SELECT model_key, max(score) AS score FROM capabilities WHERE benchmark = bench GROUP BY model_key)
    WHERE score >= threshold
),
blended AS (
    SELECT p.*, a.score,
           CAST((w_in * p.input + w_out * p.output) / (w_in + w_out) AS DOUBLE) AS blended_usd_per_mtok
    FROM monthly_prices p JOIN able a USING (model_key)
    WHERE p.input > 0 AND p.output > 0
)
SELECT month, pick.model_key, pick.provider, pick.offered_by, pick.score, pick.input AS input_usd_per_mtok,
       pick.output AS output_usd_per_mtok, pick.blended_usd_per_mtok, pick.price_from, pick.evidence
FROM (  -- one offer's row; of equal prices, the first by model, provider and offer
    SELECT month,
           arg_min({'model_key': model_key, 'provider': provider, 'offered_by': offered_by, 'score': score,
                    'input': input, 'output': output, 'blended_usd_per_mtok': blended_usd_per_mtok,
                    'price_from': price_from, 'evidence': evidence},
                   (blended_usd_per_mtok, model_key, provider, offered_by)) AS pick
    FROM blended
    GROUP BY month
)
ORDER BY month;

-- How fast the price of a capability falls: a log-linear fit of the monthly cheapest blended price at or above the
-- threshold between two months (inclusive). decline_per_year = exp(-slope), so 10 means ten times cheaper a year;
-- total_factor is first / last price; points are months; spread is the standard deviation of the fit's residuals
-- in natural-log units, and r2 its coefficient of determination; fit_first_price and fit_last_price are the fitted
-- line's prices at the first and last month (a straight line between them on a log scale).
--   SELECT * FROM price_decline('mmlu', 42, 1, 1, DATE '2021-11-01', DATE '2024-11-01'). Public contract.
CREATE OR REPLACE MACRO price_decline(benchmark_name, min_score, input_parts, output_parts, from_month, to_month) AS TABLE
WITH points AS (
    SELECT month, blended_usd_per_mtok AS price, ln(blended_usd_per_mtok) AS y,
           (epoch(CAST(month AS TIMESTAMP)) - epoch(CAST(from_month AS TIMESTAMP))) / (365.25 * 86400) AS t
    FROM cheapest_at_capability(benchmark_name, min_score, input_parts, output_parts)
    WHERE month BETWEEN from_month AND to_month
),
fit AS (
    SELECT regr_slope(y, t) AS slope, regr_intercept(y, t) AS intercept, regr_r2(y, t) AS r2, count(*) AS points,
           min(month) AS first_month, max(month) AS last_month,
           arg_min(price, month) AS first_price, arg_max(price, month) AS last_price, min(t) AS first_t,
           max(t) AS last_t
    FROM points
)
SELECT benchmark_name AS benchmark, min_score AS threshold, input_parts || ':' || output_parts AS blend, f.points, f.first_month, f.last_month,
       f.first_price, f.last_price, f.first_price / f.last_price AS total_factor,
       exp(-f.slope) AS decline_per_year, f.r2,
       (SELECT stddev_samp(y - (f.intercept + f.slope * t)) FROM points) AS spread,
       exp(f.intercept + f.slope * f.first_t) AS fit_first_price, exp(f.intercept + f.slope * f.last_t) AS fit_last_price
FROM fit f;
