-- Every model llmflation knows: the catalogue, plus what the identity rules made of observed ids. Public contract.
CREATE OR REPLACE VIEW models AS
WITH observed AS (
    SELECT model_key,
           any_value(family) AS family,
           bool_or(open_weights) AS open_weights,
           bool_or(mapped) AS mapped,
           any_value(hf_repo) FILTER (WHERE hf_repo IS NOT NULL) AS hf_repo,
           list(DISTINCT provider ORDER BY provider) AS providers,
           list(DISTINCT provider_model_id ORDER BY provider_model_id) AS provider_model_ids
    FROM model_identities GROUP BY model_key
)
SELECT
    coalesce(c.model_key, o.model_key) AS model_key,
    coalesce(c.family, o.family) AS family,
    coalesce(c.open_weights, o.open_weights) AS open_weights,
    coalesce(c.hf_repo, o.hf_repo) AS hf_repo,
    c.release_date,
    c.class,
    c.model_key IS NOT NULL AS catalogued,
    c.model_key IS NOT NULL OR coalesce(o.mapped, false) AS mapped,
    coalesce(o.providers, []) AS providers,
    coalesce(o.provider_model_ids, []) AS provider_model_ids,
    c.source_url
FROM model_catalogue c
FULL OUTER JOIN observed o ON o.model_key = c.model_key;
