-- The latest live run of every source and when it last succeeded (imports of saved documents are not the source's
-- health now, and do not count). Public contract.
CREATE OR REPLACE VIEW source_health AS
WITH live AS (
    SELECT * FROM source_runs WHERE run_id NOT IN (SELECT run_id FROM runs WHERE flow = 'import')
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY source ORDER BY started_at DESC, run_id DESC) AS recency
    FROM live
),
last_ok AS (
    SELECT source, max(finished_at) AS last_ok_at, max(observed_at) AS last_ok_observed_at
    FROM live WHERE status = 'ok' GROUP BY source
)
SELECT
    r.source,
    r.started_at AS last_run_at,
    r.observed_at AS last_observed_at,
    r.status,
    r.parsed AS rows,
    r.loaded,
    r.rejected,
    r.error AS reason,
    k.last_ok_at,
    k.last_ok_observed_at,
    round(date_diff('second', k.last_ok_at, current_timestamp) / 3600.0, 1) AS hours_since_ok,
    r.run_id AS last_run_id
FROM ranked r
LEFT JOIN last_ok k USING (source)
WHERE r.recency = 1;
