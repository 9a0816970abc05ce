-- Every token price a source has stated, one row per value and validity interval. Public contract.
CREATE OR REPLACE VIEW price_history AS
SELECT
    s.provider,
    s.model_key,
    s.provider_model_id,
    s.metric,
    s.tier,
    s.region,
    usd_amount(s.currency, s.amount, s.valid_from, fx.date, fx.usd_per_base, fx.units_per_base) AS usd_per_mtok,
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
ASOF LEFT JOIN fx_conversion fx ON fx.currency = s.currency AND utc_day(s.valid_from) >= fx.date
WHERE s.unit = 'mtok';
