-- How often each non-official source agrees with the official pages, per provider. Public contract.
-- official_prices_compared: official token prices of that provider that the source also prices (same comparable
-- offer at an overlapping time); matching: those where every such price of the source is equal;
-- share_matching = matching / compared.
-- Each compared price that does not match counts in exactly one of these, by the error the source made:
--   rounded:  its price is the official one rounded to 1, 2 or 3 decimals (0.075 stated as 0.08; a whole number
--             near a small price is a guess, not a rounding);
--   regional: its price is the provider's official price for another tier or region, in force at the same time
--             (models.dev gives Bedrock's regional endpoints the global price);
--   stale:    its price is an earlier official price of the very same offer, one that ended before this one began;
--   other:    none of these.
-- Where several of the source's prices miss the same official price, one unexplained makes it `other`; otherwise
-- stale wins over regional, and regional over rounded. Prices compare exactly, in their own currency, as in
-- price_disagreements.
CREATE OR REPLACE VIEW source_agreement AS
WITH official AS (
    SELECT *, price_per_mtok AS price
    FROM priced_offers
    WHERE source_kind = 'official' AND plausible
),
pairs AS (  -- each official price with each overlapping price of another source for the same offer
    SELECT o.comparable_provider AS provider, s.source, o.source AS official_source,
           o.model_key, o.metric, o.tier, o.region, o.valid_from,
           o.price AS official_price,
           s.price_per_mtok AS price,
           greatest(o.valid_from, s.valid_from) AS overlap_from,
           least(coalesce(o.valid_to, TIMESTAMPTZ 'infinity'), coalesce(s.valid_to, TIMESTAMPTZ 'infinity'))
               AS overlap_to
    FROM official o
    JOIN priced_offers s
      ON s.comparable_provider = o.comparable_provider
     AND s.model_key = o.model_key AND s.metric = o.metric AND s.tier = o.tier
     AND (s.region = o.region OR s.region = 'default' OR o.region = 'default')
     AND s.valid_from < coalesce(o.valid_to, TIMESTAMPTZ 'infinity')
     AND o.valid_from < coalesce(s.valid_to, TIMESTAMPTZ 'infinity')
     AND s.currency = o.currency
    WHERE s.source_kind <> 'official' AND s.plausible
),
judged AS (  -- each of those prices: equal, or the errors that would explain the difference
    SELECT p.*,
           p.price = p.official_price AS equal,
           p.price <> p.official_price AND EXISTS (
               SELECT 1 FROM official e
               WHERE e.source = p.official_source AND e.comparable_provider = p.provider
                 AND e.model_key = p.model_key AND e.metric = p.metric AND e.tier = p.tier AND e.region = p.region
                 AND e.valid_to <= p.valid_from AND e.price = p.price
           ) AS stale,
           p.price <> p.official_price AND EXISTS (
               SELECT 1 FROM official r
               WHERE r.comparable_provider = p.provider AND r.model_key = p.model_key AND r.metric = p.metric
                 AND (r.tier <> p.tier OR r.region <> p.region)
                 AND r.valid_from < p.overlap_to AND p.overlap_from < coalesce(r.valid_to, TIMESTAMPTZ 'infinity')
                 AND r.price = p.price
           ) AS regional,
           p.price <> p.official_price
               AND p.price IN (round(p.official_price, 1), round(p.official_price, 2), round(p.official_price, 3))
               AS rounded
    FROM pairs p
),
compared AS (  -- one row per compared official price: matching, or the one class of its miss
    SELECT provider, source, official_source, model_key, metric, tier, region, valid_from,
           CASE WHEN bool_and(equal) THEN 'matching'
                WHEN bool_or(NOT (equal OR stale OR regional OR rounded)) THEN 'other'
                WHEN bool_or(stale) THEN 'stale'
                WHEN bool_or(regional) THEN 'regional'
                ELSE 'rounded' END AS class
    FROM judged
    GROUP BY provider, source, official_source, model_key, metric, tier, region, valid_from
)
SELECT source, provider,
       count(*) AS official_prices_compared,
       count(*) FILTER (WHERE class = 'matching') AS matching,
       round(count(*) FILTER (WHERE class = 'matching') / count(*), 4) AS share_matching,
       count(*) FILTER (WHERE class = 'rounded') AS rounded,
       count(*) FILTER (WHERE class = 'regional') AS regional,
       count(*) FILTER (WHERE class = 'stale') AS stale,
       count(*) FILTER (WHERE class = 'other') AS other
FROM compared
GROUP BY ALL
ORDER BY source, provider;
