-- The cost of one month of a workload at every offer in force at `as_of` (default: now), with the offer's own cache,
-- batch and long-context prices where it has them, and a list of what was assumed where it has not.
--   SELECT * FROM workload_prices(50, 10, cached_mtok := 30) ORDER BY monthly_usd. Public contract.
-- Amounts are millions of tokens a month. input_mtok counts every prompt token, cache reads (cached_mtok) and cache
-- writes (cache_write_mtok) included, as providers' usage reports count them; the rest of the input is fresh.
-- batch_share and long_context_share are the shares of the workload sent through the batch API and in requests long
-- enough for the offer's lowest long-context tier (`>200k`, ...); the rest is standard. Offers count as in `offers`
-- (warehouse/views/15_offers.sql); an offer needs standard input and output prices. usd_per_mtok is the cost per
-- million tokens of the whole workload (input and output): for a 3:1 workload with nothing else it is the 3:1 blend
-- of open_vs_closed and cheapest_at_capability.
CREATE OR REPLACE MACRO workload_prices(input_mtok, output_mtok, cached_mtok := 0, cache_write_mtok := 0,
                                        batch_share := 0, long_context_share := 0, as_of := NULL) AS TABLE
WITH asked AS (
    SELECT CAST(input_mtok - cached_mtok - cache_write_mtok AS DECIMAL(18, 6)) AS fresh,
           CAST(cached_mtok AS DECIMAL(18, 6)) AS cached,
           CAST(cache_write_mtok AS DECIMAL(18, 6)) AS writes,
           CAST(output_mtok AS DECIMAL(18, 6)) AS output_tokens,
           CAST(batch_share AS DECIMAL(18, 6)) AS b,
           CAST(long_context_share AS DECIMAL(18, 6)) AS l,
           CAST(1 - batch_share - long_context_share AS DECIMAL(18, 6)) AS s,
           coalesce(CAST(as_of AS TIMESTAMPTZ), current_timestamp) AS t
    WHERE CASE
               WHEN least(input_mtok, output_mtok, cached_mtok, cache_write_mtok) < 0
                   THEN error('workload_prices: token amounts cannot be negative')
               WHEN cached_mtok + cache_write_mtok > input_mtok
                   THEN error('workload_prices: cached_mtok and cache_write_mtok are part of input_mtok, which is smaller')
               WHEN least(batch_share, long_context_share) < 0 OR batch_share + long_context_share > 1
                   THEN error('workload_prices: batch_share and long_context_share are shares: each 0 to 1, together at most 1')
               ELSE true
           END
),
in_force AS (
    SELECT o.* FROM offers o, asked a WHERE o.valid_from <= a.t AND (o.valid_to IS NULL OR o.valid_to > a.t)
),
long_tiers AS (  -- each offer's lowest long-context tier
    SELECT source, provider, provider_model_id, region, model_key,
           arg_min(tier, CAST(regexp_extract(tier, '^>([0-9]+)k$', 1) AS INTEGER)) AS long_tier
    FROM in_force
    WHERE regexp_matches(tier, '^>[0-9]+k$')
    GROUP BY ALL
),
priced AS (
    SELECT o.source, o.price_from, o.provider, o.provider_model_id, o.region, o.model_key, l.long_tier,
           max(o.usd_per_mtok) FILTER (WHERE o.metric = 'input' AND o.tier = 'standard') AS input,
           max(o.usd_per_mtok) FILTER (WHERE o.metric = 'output' AND o.tier = 'standard') AS output,
           max(o.usd_per_mtok) FILTER (WHERE o.metric = 'cached_input' AND o.tier = 'standard') AS cache_read,
           max(o.usd_per_mtok) FILTER (WHERE o.metric = 'cache_write' AND o.tier = 'standard') AS cache_write,
           max(o.usd_per_mtok) FILTER (WHERE o.metric = 'batch_input' AND o.tier = 'standard') AS batch_input,
           max(o.usd_per_mtok) FILTER (WHERE o.metric = 'batch_output' AND o.tier = 'standard') AS batch_output,
           max(o.usd_per_mtok) FILTER (WHERE o.metric = 'cached_input' AND o.tier = 'batch') AS batch_cache_read,
           max(o.usd_per_mtok) FILTER (WHERE o.metric = 'input' AND o.tier = l.long_tier) AS long_input,
           max(o.usd_per_mtok) FILTER (WHERE o.metric = 'output' AND o.tier = l.long_tier) AS long_output,
           max(o.usd_per_mtok) FILTER (WHERE o.metric = 'cached_input' AND o.tier = l.long_tier) AS long_cache_read,
           max(o.evidence) AS evidence
    FROM in_force o
    LEFT JOIN long_tiers l USING (source, provider, provider_model_id, region, model_key)
    GROUP BY ALL
    HAVING input IS NOT NULL AND output IS NOT NULL
),
costed AS (
    SELECT p.*, a.*,
           a.fresh * (a.s * p.input + a.b * coalesce(p.batch_input, p.input)
                      + a.l * coalesce(p.long_input, p.input)) AS input_usd,
           a.cached * (a.s * coalesce(p.cache_read, p.input)
                       + a.b * coalesce(p.batch_cache_read, p.cache_read, p.input)
                       + a.l * coalesce(p.long_cache_read, p.cache_read, p.input)) AS cache_read_usd,
           a.writes * coalesce(p.cache_write, p.input) AS cache_write_usd,
           a.output_tokens * (a.s * p.output + a.b * coalesce(p.batch_output, p.output)
                              + a.l * coalesce(p.long_output, p.output)) AS output_usd,
           list_filter([
               CASE WHEN a.cached > 0 AND p.cache_read IS NULL THEN 'cache reads at the input price' END,
               CASE WHEN a.writes > 0 AND p.cache_write IS NULL THEN 'cache writes at the input price' END,
               CASE WHEN a.b > 0 AND p.batch_input IS NULL AND a.fresh > 0 THEN 'batch input at the standard price' END,
               CASE WHEN a.b > 0 AND p.batch_output IS NULL AND a.output_tokens > 0
                   THEN 'batch output at the standard price' END,
               CASE WHEN a.b > 0 AND a.cached > 0 AND p.batch_cache_read IS NULL
                   THEN 'batch cache reads at the standard cache price' END,
               CASE WHEN a.l > 0 AND p.long_tier IS NULL THEN 'no long-context tier: long requests at the standard prices' END,
               CASE WHEN a.l > 0 AND p.long_tier IS NOT NULL AND p.long_output IS NULL
                   THEN 'long-context output at the standard price' END,
               CASE WHEN a.l > 0 AND p.long_tier IS NOT NULL AND a.cached > 0 AND p.long_cache_read IS NULL
                   THEN 'long-context cache reads at the standard cache price' END
           ], lambda x: x IS NOT NULL) AS assumed
    FROM priced p, asked a
)
SELECT c.model_key, m.family, m.class, m.open_weights, c.provider, c.provider_model_id, c.region,
       c.source AS offered_by, c.price_from,
       round(c.input_usd + c.cache_read_usd + c.cache_write_usd + c.output_usd, 6) AS monthly_usd,
       round((c.input_usd + c.cache_read_usd + c.cache_write_usd + c.output_usd)
             / nullif(c.fresh + c.cached + c.writes + c.output_tokens, 0), 6) AS usd_per_mtok,
       round(c.input_usd, 6) AS input_usd, round(c.cache_read_usd, 6) AS cache_read_usd,
       round(c.cache_write_usd, 6) AS cache_write_usd, round(c.output_usd, 6) AS output_usd,
       c.long_tier, c.assumed,
       c.input, c.output, c.cache_read, c.cache_write, c.batch_input, c.batch_output,
       c.evidence
FROM costed c
LEFT JOIN models m USING (model_key);
