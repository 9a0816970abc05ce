-- Every model of the full-Hub census as it stood on a day (its latest change on or before it), for models the
-- census had listed by then:  SELECT * FROM census_as_of(DATE '2026-08-02'). Public contract.
CREATE OR REPLACE MACRO census_as_of(on_day) AS TABLE
SELECT m.repo_id, c.day AS changed_on, c.downloads_30d, c.downloads_all_time, c.likes
FROM hf_census_models m
JOIN (
    SELECT * FROM hf_census_changes WHERE day <= on_day
    QUALIFY row_number() OVER (PARTITION BY model_id ORDER BY day DESC) = 1
) c USING (model_id);
