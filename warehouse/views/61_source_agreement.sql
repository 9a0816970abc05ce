-- How often each non-official source agrees with the official pages, per provider. Public contract.
-- official_prices: official token prices of that provider that the source also prices (same comparable offer at
-- an overlapping time); matching: those where every such price of the source is equal; share = matching / compared.
CREATE OR REPLACE VIEW source_agreement AS
WITH pairs AS (
    SELECT o.comparable_provider AS provider, s.source, o.source AS official_source,
           o.model_key, o.metric, o.tier, o.region, o.valid_from,
           bool_and(coalesce(s.usd_per_mtok, s.price_per_mtok) = coalesce(o.usd_per_mtok, o.price_per_mtok))
               AS agrees
    FROM priced_offers o
    JOIN priced_offers s
      ON s.comparable_provider = o.comparable_provider
     AND s.model_key = o.model_key AND s.metric = o.metric AND s.tier = o.tier
     AND (s.region = o.region OR s.region = 'default' OR o.region = 'default')
     AND s.valid_from < coalesce(o.valid_to, TIMESTAMPTZ 'infinity')
     AND o.valid_from < coalesce(s.valid_to, TIMESTAMPTZ 'infinity')
     AND (s.usd_per_mtok IS NOT NULL AND o.usd_per_mtok IS NOT NULL OR s.currency = o.currency)
    WHERE o.source_kind = 'official' AND s.source_kind <> 'official' AND o.plausible AND s.plausible
    GROUP BY ALL
)
SELECT source, provider,
       count(*) AS official_prices_compared,
       count(*) FILTER (WHERE agrees) AS matching,
       round(count(*) FILTER (WHERE agrees) / count(*), 4) AS share_matching
FROM pairs
GROUP BY ALL
ORDER BY source, provider;
