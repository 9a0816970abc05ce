-- Per open model (its Hugging Face repo): the providers offering it now, how many, the cheapest and the median of
-- their blended prices, and the repo's latest 30-day downloads. Public contract.
-- An offer is a repo's when a source states that repo for it (model_identities.hf_repo: the Hugging Face router,
-- OpenRouter's hugging_face_id) or when its model_key is the key of such an offer or of the catalogue's row for the
-- repo. Only current standard-tier offers (warehouse/views/15_offers.sql) with both input and output count;
-- blended = (3 x input + output) / 4 USD per 1M tokens (Epoch AI's 3:1, as in open_vs_closed). A host's price is its
-- cheapest such offer (any source, region or id), so each host counts once in the median.
CREATE OR REPLACE VIEW open_model_hosting AS
WITH repo_keys AS (
    SELECT lower(hf_repo) AS repo, min(hf_repo) AS stated_repo, model_key
    FROM (
        SELECT hf_repo, model_key FROM model_identities WHERE hf_repo IS NOT NULL
        UNION ALL
        SELECT hf_repo, model_key FROM model_catalogue WHERE hf_repo IS NOT NULL
    )
    GROUP BY ALL
),
open_repo_keys AS (  -- a repo of a model the catalogue marks closed is no open model
    SELECT r.* FROM repo_keys r LEFT JOIN models m USING (model_key) WHERE m.open_weights IS DISTINCT FROM false
),
current AS (
    SELECT source, provider, provider_model_id, region, model_key,
           max(usd_per_mtok) FILTER (WHERE metric = 'input') AS input,
           max(usd_per_mtok) FILTER (WHERE metric = 'output') AS output,
           CAST((3 * input + output) * 0.25 AS DECIMAL(38, 18)) AS blended
    FROM offers
    WHERE tier = 'standard' AND metric IN ('input', 'output') AND price_from <> 'landmark'  -- stated in a run
      AND valid_from <= current_timestamp AND (valid_to IS NULL OR valid_to > current_timestamp)
    GROUP BY source, provider, provider_model_id, region, model_key
    HAVING input IS NOT NULL AND output IS NOT NULL
),
hosts AS (  -- one row per repo and host: the host's cheapest offer of it
    SELECT r.repo, o.provider,
           arg_min({'model_key': o.model_key, 'source': o.source, 'provider_model_id': o.provider_model_id,
                    'region': o.region, 'input': o.input, 'output': o.output, 'blended': o.blended},
                   (o.blended, o.source, o.provider_model_id, o.region)) AS pick,
           min(r.stated_repo) AS stated_repo
    FROM open_repo_keys r
    JOIN current o USING (model_key)
    GROUP BY r.repo, o.provider
),
downloads AS (  -- the latest snapshot that carries the repo's 30-day count
    SELECT lower(repo_id) AS repo, arg_max(repo_id, snapshot_date) AS repo_id,
           arg_max(downloads_30d, snapshot_date) AS downloads_30d, max(snapshot_date) AS downloads_date
    FROM hf_model_snapshots
    WHERE downloads_30d IS NOT NULL
    GROUP BY lower(repo_id)
)
SELECT
    coalesce(any_value(d.repo_id), min(h.stated_repo)) AS hf_repo,
    list(DISTINCT h.pick.model_key ORDER BY h.pick.model_key) AS model_keys,
    list(h.provider ORDER BY h.pick.blended, h.provider) AS hosts,
    count(*) AS host_count,
    min(h.pick.blended) AS cheapest_blended_usd_per_mtok,
    arg_min(h.provider, (h.pick.blended, h.provider)) AS cheapest_host,
    median(h.pick.blended) AS median_blended_usd_per_mtok,
    list({'provider': h.provider, 'blended_usd_per_mtok': h.pick.blended, 'input_usd_per_mtok': h.pick.input,
          'output_usd_per_mtok': h.pick.output, 'source': h.pick.source,
          'provider_model_id': h.pick.provider_model_id, 'region': h.pick.region}
         ORDER BY h.pick.blended, h.provider) AS host_prices,
    any_value(d.downloads_30d) AS downloads_30d,
    any_value(d.downloads_date) AS downloads_date
FROM hosts h
LEFT JOIN downloads d USING (repo)
GROUP BY h.repo
ORDER BY downloads_30d DESC NULLS LAST, hf_repo;
