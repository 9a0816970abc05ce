-- The token prices in force now, per source: price_history rows whose validity contains the present moment.
-- Public contract.
CREATE OR REPLACE VIEW current_prices AS
SELECT
    provider, model_key, provider_model_id, metric, tier, region, usd_per_mtok, currency, price_per_mtok,
    source, valid_from, last_seen_at, missing_runs, last_raw_sha256, plausible
FROM price_history
WHERE valid_from <= current_timestamp AND (valid_to IS NULL OR valid_to > current_timestamp);
