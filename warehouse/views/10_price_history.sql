-- Every token price a source has stated, one row per value and validity interval. Public contract.
CREATE OR REPLACE VIEW price_history AS
SELECT
    provider,
    model_key,
    provider_model_id,
    metric,
    tier,
    region,
    CASE WHEN currency = 'USD' THEN amount END AS usd_per_mtok,
    currency,
    amount AS price_per_mtok,
    source,
    valid_from,
    valid_to,
    last_seen_at,
    end_reason,
    missing_runs,
    first_raw_sha256,
    last_raw_sha256
FROM price_segments
WHERE unit = 'mtok';
