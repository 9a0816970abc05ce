-- Every model llmflation knows: the catalogue, plus what the identity rules made of observed ids. Public contract.
-- Where the catalogue says nothing: open_weights is the identity rules' (by family), else what a source states
-- (models.dev writes false by default, so a model is open when any listing says so); release_date is the date its
-- listings state most often (the earliest of a tie).
CREATE OR REPLACE VIEW models AS
WITH observed AS (
    SELECT model_key,
           any_value(family) AS family,
           bool_or(open_weights) AS open_weights,
           bool_or(stated_open_weights) AS stated_open_weights,
           bool_or(mapped) AS mapped,
           any_value(hf_repo) FILTER (WHERE hf_repo IS NOT NULL) AS hf_repo,
           list(DISTINCT provider ORDER BY provider) AS providers,
           list(DISTINCT provider_model_id ORDER BY provider_model_id) AS provider_model_ids
    FROM model_identities GROUP BY model_key
),
stated_dates AS (
    SELECT model_key, release_date, count(*) AS listings
    FROM model_identities WHERE release_date IS NOT NULL GROUP BY ALL
),
released AS (
    SELECT model_key, first(release_date ORDER BY listings DESC, release_date) AS release_date
    FROM stated_dates GROUP BY model_key
)
SELECT
    coalesce(c.model_key, o.model_key) AS model_key,
    coalesce(c.family, o.family) AS family,
    coalesce(c.open_weights, o.open_weights, o.stated_open_weights) AS open_weights,
    coalesce(c.hf_repo, o.hf_repo) AS hf_repo,
    coalesce(c.release_date, r.release_date) AS release_date,
    c.class,
    c.model_key IS NOT NULL AS catalogued,
    c.model_key IS NOT NULL OR coalesce(o.mapped, false) AS mapped,
    coalesce(o.providers, []) AS providers,
    coalesce(o.provider_model_ids, []) AS provider_model_ids,
    c.source_url
FROM model_catalogue c
FULL OUTER JOIN observed o ON o.model_key = c.model_key
LEFT JOIN released r ON r.model_key = coalesce(c.model_key, o.model_key);
