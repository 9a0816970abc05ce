-- The full-Hub census, stored as changes: a dictionary of repo ids, each model's current counters, and one
-- change row per model and census day on which any counter moved. A day's values for a model are its latest
-- change on or before that day. A census in progress lives in hf_census_staging and counts for nothing until
-- every page has arrived.
CREATE TABLE hf_census_models (
    model_id   INTEGER NOT NULL,             -- dense id, assigned in order of first appearance
    repo_id    VARCHAR NOT NULL,
    first_day  DATE NOT NULL
);
CREATE TABLE hf_census_state (
    model_id           INTEGER NOT NULL,
    downloads_30d      BIGINT,
    downloads_all_time BIGINT,
    likes              BIGINT,
    last_day           DATE NOT NULL          -- the last census that listed it
);
CREATE TABLE hf_census_changes (
    day                DATE NOT NULL,
    model_id           INTEGER NOT NULL,
    downloads_30d      BIGINT,
    downloads_all_time BIGINT,
    likes              BIGINT
);
CREATE TABLE hf_census_days (
    day          DATE NOT NULL,
    run_id       VARCHAR NOT NULL,
    status       VARCHAR NOT NULL,            -- fetching, complete
    next_url     VARCHAR,                     -- where a resumed census continues
    pages        INTEGER NOT NULL DEFAULT 0,
    models       BIGINT NOT NULL DEFAULT 0,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ
);
CREATE TABLE hf_census_staging (
    day                DATE NOT NULL,
    repo_id            VARCHAR NOT NULL,
    downloads_30d      BIGINT,
    downloads_all_time BIGINT,
    likes              BIGINT
);
