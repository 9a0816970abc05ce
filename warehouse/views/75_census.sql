-- Every model of the full-Hub census as it stood on a day: the sums of its changes on or before that day, for
-- models the census had listed by then; `listed` is false for a model that day's census did not list (its last
-- counters are kept: missing from a listing is not proof of deletion).
--   SELECT * FROM census_as_of(DATE '2026-08-02'). Public contract.
CREATE OR REPLACE MACRO census_as_of(on_day) AS TABLE
SELECT
    m.repo_id,
    max(c.day) AS changed_on,
    CAST(sum(c.downloads_30d_change) AS BIGINT) AS downloads_30d,
    CAST(sum(c.downloads_all_time_change) AS BIGINT) AS downloads_all_time,
    CAST(sum(c.likes_change) AS BIGINT) AS likes,
    arg_max(c.listed, c.day) AS listed
FROM hf_census_changes c
JOIN hf_census_models m USING (model_id)
WHERE c.day <= on_day
GROUP BY m.repo_id;
