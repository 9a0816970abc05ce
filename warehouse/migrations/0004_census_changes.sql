-- The census keeps differences instead of values, and whether each listing included the model. A change row now
-- holds how much each counter moved since the model's previous change (its first row: the values themselves), so
-- a day's counters are the sums of a model's rows up to that day; rows are written on the days a counter moved or
-- the model left or re-entered the listing. Small, mostly repeated differences compress to a byte or two, where
-- absolute counters took four to eight. Pages in progress now live in a staging file of their own (data/census/),
-- so the warehouse no longer grows and shrinks by a whole day's listing.
CREATE TABLE hf_census_diffs (
    day                      DATE NOT NULL,
    model_id                 INTEGER NOT NULL,
    downloads_30d_change     BIGINT NOT NULL,
    downloads_all_time_change BIGINT NOT NULL,
    likes_change             BIGINT NOT NULL,
    listed                   BOOLEAN NOT NULL    -- false: that day's listing did not include it (not proof of deletion)
);
INSERT INTO hf_census_diffs
SELECT
    day,
    model_id,
    coalesce(downloads_30d, 0) - coalesce(lag(downloads_30d) OVER by_model, 0),
    coalesce(downloads_all_time, 0) - coalesce(lag(downloads_all_time) OVER by_model, 0),
    coalesce(likes, 0) - coalesce(lag(likes) OVER by_model, 0),
    true
FROM hf_census_changes
WINDOW by_model AS (PARTITION BY model_id ORDER BY day)
ORDER BY day, model_id;
DROP TABLE hf_census_changes;
ALTER TABLE hf_census_diffs RENAME TO hf_census_changes;

CREATE TABLE hf_census_current (
    model_id           INTEGER NOT NULL,
    downloads_30d      BIGINT NOT NULL,
    downloads_all_time BIGINT NOT NULL,
    likes              BIGINT NOT NULL,
    listed             BOOLEAN NOT NULL       -- whether the latest complete census listed it
);
INSERT INTO hf_census_current
SELECT model_id, coalesce(downloads_30d, 0), coalesce(downloads_all_time, 0), coalesce(likes, 0),
       last_day = (SELECT max(day) FROM hf_census_days WHERE status = 'complete')
FROM hf_census_state
ORDER BY model_id;
DROP TABLE hf_census_state;
ALTER TABLE hf_census_current RENAME TO hf_census_state;

-- a census in progress restarts from its first page (its staged pages were in the table dropped here)
DELETE FROM hf_census_days WHERE status <> 'complete';
DROP TABLE hf_census_staging;
ALTER TABLE hf_census_days ADD COLUMN rejected BIGINT DEFAULT 0;
ALTER TABLE hf_census_days ADD COLUMN unlisted BIGINT DEFAULT 0;
