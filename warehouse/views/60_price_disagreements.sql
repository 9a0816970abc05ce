-- Two sources pricing the same offer differently at overlapping times (price_disagreements, at the end).
-- "The same offer": same comparable provider, model_key, metric and tier, and the same region (or one side not
-- region-specific). A reseller that passes a model maker's price through (OpenRouter) is compared with the maker
-- (openrouter's anthropic/claude-opus-4.1 with anthropic's). Prices compare exactly, in their own currency: a
-- price list in another currency is another offer (DeepSeek's CNY list beside its USD one), and a converted price
-- never equals a stated one.
CREATE OR REPLACE VIEW priced_offers AS
SELECT h.*,
       coalesce(k.kind, 'feed') AS source_kind,
       CASE WHEN h.provider = 'openrouter' THEN split_part(h.model_key, '/', 1) ELSE h.provider END
           AS comparable_provider
FROM price_history h
LEFT JOIN source_kinds k USING (source);

-- Like with like: a free offer (a zero price, or a `:free` variant) is compared only with free ones.
-- price_disagreements_in(true): only for the models listed in event_scope (event detection after a run).
CREATE OR REPLACE MACRO price_disagreements_in(scoped) AS TABLE
WITH po AS (
    SELECT *, is_free(price_per_mtok, provider_model_id) AS free
    FROM priced_offers
    WHERE NOT scoped OR model_key IN (SELECT model_key FROM event_scope)
)
SELECT
    a.comparable_provider AS provider,
    a.model_key,
    a.metric,
    a.tier,
    CASE WHEN a.region = 'default' THEN b.region ELSE a.region END AS region,
    a.source AS source_a,
    a.source_kind AS kind_a,
    a.provider_model_id AS provider_model_id_a,
    a.price_per_mtok AS price_a,
    b.source AS source_b,
    b.source_kind AS kind_b,
    b.provider_model_id AS provider_model_id_b,
    b.price_per_mtok AS price_b,
    a.currency,
    round(b.price_per_mtok / nullif(a.price_per_mtok, 0), 4) AS ratio_b_to_a,
    greatest(a.valid_from, b.valid_from) AS overlap_from,
    CASE WHEN a.valid_to IS NULL THEN b.valid_to WHEN b.valid_to IS NULL THEN a.valid_to
         ELSE least(a.valid_to, b.valid_to) END AS overlap_to,
    a.last_raw_sha256 AS raw_sha256_a,
    b.last_raw_sha256 AS raw_sha256_b
FROM po a
JOIN po b
  ON a.comparable_provider = b.comparable_provider
 AND a.model_key = b.model_key
 AND a.metric = b.metric
 AND a.tier = b.tier
 AND (a.region = b.region OR a.region = 'default' OR b.region = 'default')
 AND a.source < b.source
 AND a.valid_from < coalesce(b.valid_to, TIMESTAMPTZ 'infinity')
 AND b.valid_from < coalesce(a.valid_to, TIMESTAMPTZ 'infinity')
 AND a.currency = b.currency
 AND a.free = b.free
WHERE a.price_per_mtok <> b.price_per_mtok;

-- Two sources pricing the same offer differently at overlapping times. Public contract.
CREATE OR REPLACE VIEW price_disagreements AS
SELECT * FROM price_disagreements_in(false);
