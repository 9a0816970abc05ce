-- Lineage: every tracked repo's root base model, following the first base_model of its latest snapshot.
CREATE OR REPLACE VIEW hf_lineage AS
WITH RECURSIVE latest AS (
    SELECT repo_id, arg_max(base_models, snapshot_date) AS base_models
    FROM hf_model_snapshots GROUP BY repo_id
),
walk(repo_id, ancestor, depth) AS (
    SELECT repo_id, repo_id, 0 FROM latest
    UNION ALL
    SELECT w.repo_id, l.base_models[1], w.depth + 1
    FROM walk w JOIN latest l ON l.repo_id = w.ancestor
    WHERE len(l.base_models) > 0 AND w.depth < 20
),
walked AS (
    SELECT repo_id, arg_max(ancestor, depth) AS root, max(depth) AS depth FROM walk GROUP BY repo_id
),
-- a base named only as a base (not tracked itself) still gives its family
named_root AS (
    SELECT w.repo_id, coalesce(
        CASE WHEN len(l.base_models) > 0 AND w.depth = 0 THEN NULL END, w.root) AS root, w.depth
    FROM walked w JOIN latest l USING (repo_id)
)
SELECT n.repo_id, n.root AS root_repo, n.depth AS generations,
       (SELECT f.family FROM hf_families f WHERE lower(n.root) LIKE f.pattern ORDER BY f.priority LIMIT 1)
           AS family
FROM named_root n;

-- Downloads per tracked model and day, with the daily series the Hub does not publish. Public contract.
CREATE OR REPLACE VIEW model_downloads AS
WITH ordered AS (
    SELECT s.snapshot_date, s.repo_id, s.downloads_30d, s.downloads_all_time,
           lag(s.snapshot_date) OVER w AS previous_date,
           lag(s.downloads_all_time) OVER w AS previous_all_time
    FROM hf_model_snapshots s
    WINDOW w AS (PARTITION BY s.repo_id ORDER BY s.snapshot_date)
)
SELECT o.snapshot_date, o.repo_id, l.family, o.downloads_30d, o.downloads_all_time,
       CASE WHEN o.previous_date = o.snapshot_date - INTERVAL 1 DAY
                 AND o.downloads_all_time - o.previous_all_time BETWEEN 0 AND coalesce(o.downloads_30d, 9e18)
            THEN o.downloads_all_time - o.previous_all_time END AS daily_downloads,
       CASE WHEN o.downloads_all_time < o.previous_all_time THEN 'negative'
            WHEN o.previous_date = o.snapshot_date - INTERVAL 1 DAY
                 AND o.downloads_all_time - o.previous_all_time > o.downloads_30d THEN 'exceeds_30d'
       END AS anomaly
FROM ordered o
LEFT JOIN hf_lineage l USING (repo_id);

-- Per day and family: models, derivatives, downloads. Public contract.
CREATE OR REPLACE VIEW family_adoption AS
WITH daily AS (
    SELECT d.snapshot_date, d.repo_id, d.family, d.downloads_30d, d.daily_downloads, l.generations,
           sum(d.downloads_30d) OVER (PARTITION BY d.snapshot_date) AS tracked_downloads_30d
    FROM model_downloads d LEFT JOIN hf_lineage l USING (repo_id)
)
SELECT snapshot_date AS date,
       family,
       count(*) FILTER (WHERE generations = 0) AS models,
       count(*) FILTER (WHERE generations > 0) AS derivatives,
       sum(downloads_30d) AS downloads_30d,
       sum(daily_downloads) AS daily_downloads,
       round(sum(downloads_30d) / any_value(tracked_downloads_30d), 6) AS share_of_tracked
FROM daily
WHERE family IS NOT NULL
GROUP BY snapshot_date, family;

-- Growth of each family's 30-day downloads over 30, 90 and 365 days, where history allows. Public contract.
CREATE OR REPLACE VIEW adoption_growth AS
WITH latest AS (SELECT family, max(date) AS date FROM family_adoption GROUP BY family),
windows AS (SELECT * FROM (VALUES ('30d', 30), ('90d', 90), ('365d', 365)) t("window", days))
SELECT l.family, w."window", l.date AS to_date, b.date AS from_date,
       now_.downloads_30d AS downloads_30d_to, b.downloads_30d AS downloads_30d_from,
       round(now_.downloads_30d / nullif(b.downloads_30d, 0), 3) AS growth_factor
FROM latest l
CROSS JOIN windows w
JOIN family_adoption now_ ON now_.family = l.family AND now_.date = l.date
ASOF JOIN family_adoption b ON b.family = l.family AND b.date <= l.date - w.days * INTERVAL 1 DAY
ORDER BY l.family, w.days;

-- Derivatives per base model and day: how many tracked fine-tunes, quantisations, adapters and merges name it
-- as their direct base. Public contract.
CREATE OR REPLACE VIEW base_model_derivatives AS
SELECT s.snapshot_date AS date, base AS base_model, count(*) AS derivatives,
       count(*) FILTER (WHERE s.relation = 'finetune') AS finetunes,
       count(*) FILTER (WHERE s.relation = 'quantized') AS quantized,
       count(*) FILTER (WHERE s.relation = 'adapter') AS adapters,
       count(*) FILTER (WHERE s.relation = 'merge') AS merges
FROM hf_model_snapshots s, unnest(s.base_models) AS b(base)
GROUP BY ALL;
