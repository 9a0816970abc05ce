-- Prices that are not per token (per image, second, request, query ...), each in its own unit. Public contract.
CREATE OR REPLACE VIEW unit_price_history AS
SELECT
    provider, model_key, provider_model_id, metric, unit, tier, region, amount AS price, currency,
    source, valid_from, valid_to, last_seen_at, end_reason, missing_runs
FROM price_segments
WHERE unit <> 'mtok';
