-- Offers, not claims: what a buyer can buy, and on whose word. The comparisons (open_vs_closed, monthly_prices and
-- so cheapest_at_capability and price_decline, and the all-time lows) read prices through these rules alone.
--   official  the seller's own pricing page or API;
--   reseller  a reseller's own API, priced as it charges (OpenRouter; the Hugging Face router, per inference
--             provider: its price through Hugging Face);
--   feed      a third party's table of sellers' prices (LiteLLM, genai-prices, llm-prices, models.dev): a claim;
--   landmark  a curated, dated price from before the nightly runs (warehouse/data/landmark_prices.csv).
-- A claim counts until the seller's own word first prices the same provider and model; a landmark until any source
-- first prices anything of its provider. A free offer (a zero price, or a `:free` variant: rate-limited, not the product sold) and a held price
-- (plausible = false) never count.

-- The kind of each source, as its latest run states it (a source with no recorded run counts as a feed).
CREATE OR REPLACE VIEW source_kinds AS
SELECT source, arg_max(kind, started_at) AS kind FROM source_runs WHERE kind IS NOT NULL GROUP BY source;

CREATE OR REPLACE MACRO is_free(amount, provider_model_id) AS amount = 0 OR provider_model_id LIKE '%:free';

-- offer_cover_in(scoped): per provider and model_key, when the seller's own word (an official or reseller source)
-- first prices it. scoped: only the models listed in event_scope (event detection after a run).
CREATE OR REPLACE MACRO offer_cover_in(scoped) AS TABLE
SELECT s.provider, s.model_key, min(s.valid_from) AS own_since
FROM price_segments s
JOIN source_kinds k USING (source)
WHERE k.kind IN ('official', 'reseller') AND s.unit = 'mtok' AND s.plausible
  AND NOT is_free(s.amount, s.provider_model_id)
  AND (NOT scoped OR s.model_key IN (SELECT model_key FROM event_scope))
GROUP BY ALL;

-- When a price of this kind stops counting as an offer (NULL: it counts while it is in force): a claim when the
-- seller's own word prices the same model (own_since), a landmark when any source first prices anything of its
-- provider (nightly_since): from then on the nightly record says what that seller sells, and at what price.
CREATE OR REPLACE MACRO offer_until(price_from, valid_to, own_since, nightly_since) AS
CASE price_from
    WHEN 'feed' THEN least(valid_to, own_since)
    WHEN 'landmark' THEN least(valid_to, nightly_since)
    ELSE valid_to
END;

-- Every USD token price that counts as an offer, with the time it counts: price_from is the kind of word it rests
-- on, evidence the raw document (or the landmark's public source). Public contract.
CREATE OR REPLACE VIEW offers AS
WITH stated AS (
    SELECT h.source, coalesce(k.kind, 'feed') AS price_from, h.provider, h.provider_model_id, h.region, h.model_key,
           h.metric, h.tier, h.usd_per_mtok, h.valid_from, h.valid_to, 'raw sha256 ' || h.last_raw_sha256 AS evidence
    FROM price_history h
    LEFT JOIN source_kinds k USING (source)
    WHERE price_from IN ('official', 'reseller', 'feed') AND h.plausible AND h.usd_per_mtok IS NOT NULL
      AND NOT is_free(h.price_per_mtok, h.provider_model_id)
),
nightly AS (SELECT provider, min(valid_from) AS nightly_since FROM stated GROUP BY provider),
landmarks AS (
    SELECT 'landmark' AS source, 'landmark' AS price_from, provider, model AS provider_model_id,
           'default' AS region, model_key, metric, 'standard' AS tier, usd_per_mtok, valid_from, valid_to,
           'landmark: ' || source_url AS evidence
    FROM (
        SELECT *, 'input' AS metric, input_usd_per_mtok AS usd_per_mtok FROM landmark_offers
        UNION ALL
        SELECT *, 'output', output_usd_per_mtok FROM landmark_offers
    )
    WHERE usd_per_mtok > 0
),
counted AS (
    SELECT s.* REPLACE (offer_until(s.price_from, s.valid_to, c.own_since, n.nightly_since) AS valid_to)
    FROM (SELECT * FROM stated UNION ALL SELECT * FROM landmarks) s
    LEFT JOIN offer_cover_in(false) c USING (provider, model_key)
    LEFT JOIN nightly n USING (provider)
)
SELECT * FROM counted WHERE valid_to IS NULL OR valid_from < valid_to;
