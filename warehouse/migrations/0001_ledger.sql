-- The price ledger. Append-only facts (raw_documents, fetches, observations, runs, source_runs, rejects)
-- and one derived table (price_segments) that is rebuilt from them per source.

CREATE TABLE raw_documents (
    sha256        VARCHAR PRIMARY KEY,
    bytes         BIGINT NOT NULL,
    content_type  VARCHAR NOT NULL,
    path          VARCHAR NOT NULL,          -- relative to the data folder, gzip-compressed
    first_seen_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE runs (
    run_id      VARCHAR PRIMARY KEY,
    flow        VARCHAR NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    as_of       TIMESTAMPTZ NOT NULL,
    sources     VARCHAR[] NOT NULL,
    status      VARCHAR NOT NULL,            -- running, ok, partial, failed, aborted
    note        VARCHAR
);

CREATE TABLE source_runs (
    run_id       VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,
    kind         VARCHAR,                    -- official, feed or aggregator
    observed_at  TIMESTAMPTZ NOT NULL,       -- the run's as-of time
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    status       VARCHAR NOT NULL,           -- running, ok, failed, suspect, aborted
    applied      BOOLEAN NOT NULL DEFAULT false,  -- its observations feed price history
    items        INTEGER,                    -- models the parser read
    parsed       INTEGER,                    -- price rows the parser produced
    rejected     INTEGER,
    loaded       INTEGER,
    bytes        BIGINT,
    raw_sha256   VARCHAR,
    error        VARCHAR,
    notes        VARCHAR,
    duration_s   DOUBLE,
    PRIMARY KEY (run_id, source)
);

CREATE TABLE fetches (
    run_id       VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,
    url          VARCHAR NOT NULL,
    fetched_at   TIMESTAMPTZ NOT NULL,
    http_status  INTEGER,
    bytes        BIGINT,
    sha256       VARCHAR,
    error        VARCHAR
);

CREATE TABLE observations (
    run_id            VARCHAR NOT NULL,
    source            VARCHAR NOT NULL,
    observed_at       TIMESTAMPTZ NOT NULL,
    provider          VARCHAR NOT NULL,
    provider_model_id VARCHAR NOT NULL,
    model_key         VARCHAR NOT NULL,
    region            VARCHAR NOT NULL,
    tier              VARCHAR NOT NULL,
    metric            VARCHAR NOT NULL,
    unit              VARCHAR NOT NULL,      -- mtok for token prices; image, request, second ... otherwise
    currency          VARCHAR NOT NULL,
    amount            DECIMAL(38, 18) NOT NULL,
    effective_from    TIMESTAMPTZ,           -- a date the source itself states; never guessed
    effective_to      TIMESTAMPTZ,
    raw_sha256        VARCHAR NOT NULL
    -- one row per (run_id, source, provider, provider_model_id, region, tier, metric, unit, effective_from),
    -- enforced by warehouse.models.unique_offers before the load
);

CREATE TABLE rejects (
    run_id   VARCHAR NOT NULL,
    source   VARCHAR NOT NULL,
    item     VARCHAR NOT NULL,
    reason   VARCHAR NOT NULL
);

CREATE TABLE price_segments (
    source            VARCHAR NOT NULL,
    provider          VARCHAR NOT NULL,
    provider_model_id VARCHAR NOT NULL,
    model_key         VARCHAR NOT NULL,
    region            VARCHAR NOT NULL,
    tier              VARCHAR NOT NULL,
    metric            VARCHAR NOT NULL,
    unit              VARCHAR NOT NULL,
    currency          VARCHAR NOT NULL,
    amount            DECIMAL(38, 18) NOT NULL,
    valid_from        TIMESTAMPTZ NOT NULL,
    valid_to          TIMESTAMPTZ,           -- exclusive; NULL while current
    first_seen_at     TIMESTAMPTZ NOT NULL,
    last_seen_at      TIMESTAMPTZ NOT NULL,
    missing_runs      INTEGER NOT NULL,      -- consecutive healthy runs of the source without it
    end_reason        VARCHAR,               -- changed, removed; NULL while current
    first_raw_sha256  VARCHAR NOT NULL,
    last_raw_sha256   VARCHAR NOT NULL
    -- unique on (source, provider, provider_model_id, region, tier, metric, unit, valid_from) by construction;
    -- no index, since the table is replaced per source in the same transaction as the load
);

-- What the identity rules made of every provider model id ever observed (filled at load time).
CREATE TABLE model_identities (
    provider          VARCHAR NOT NULL,
    provider_model_id VARCHAR NOT NULL,
    model_key         VARCHAR NOT NULL,
    family            VARCHAR,
    open_weights      BOOLEAN,
    mapped            BOOLEAN NOT NULL,      -- false: the rules could not place it; it keeps its own name
    hf_repo           VARCHAR,               -- Hugging Face repo id, where a source states it
    first_seen_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, provider_model_id)
);
