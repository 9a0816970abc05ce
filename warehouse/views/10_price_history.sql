-- Every token price a source has stated, one row per value and validity interval. Public contract.
CREATE OR REPLACE VIEW price_history AS
SELECT
    s.provider,
    s.model_key,
    s.provider_model_id,
    s.metric,
    s.tier,
    s.region,
    CASE
        WHEN s.currency = 'USD' THEN s.amount
        WHEN fx.date >= CAST(s.valid_from AS DATE) - INTERVAL 31 DAY
            THEN CAST(s.amount / fx.units_per_usd AS DECIMAL(38, 18))
    END AS usd_per_mtok,
    s.currency,
    s.amount AS price_per_mtok,
    s.source,
    s.valid_from,
    s.valid_to,
    s.last_seen_at,
    s.end_reason,
    s.missing_runs,
    s.first_raw_sha256,
    s.last_raw_sha256,
    s.plausible
FROM price_segments s
ASOF LEFT JOIN fx_rates fx ON fx.currency = s.currency AND CAST(s.valid_from AS DATE) >= fx.date
WHERE s.unit = 'mtok';
