-- Token prices in force at any moment, past or future (stated future prices are known before they apply):
--   SELECT * FROM prices_as_of(TIMESTAMPTZ '2027-01-02 00:00:00+00')
-- Same columns as current_prices. Public contract.
CREATE OR REPLACE MACRO prices_as_of(at_time) AS TABLE
SELECT
    provider, model_key, provider_model_id, metric, tier, region, usd_per_mtok, currency, price_per_mtok,
    source, valid_from, last_seen_at, missing_runs, last_raw_sha256
FROM price_history
WHERE valid_from <= at_time AND (valid_to IS NULL OR valid_to > at_time);
