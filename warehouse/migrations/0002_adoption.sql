-- Open-model adoption: one row per tracked Hugging Face model per day.
CREATE TABLE hf_model_snapshots (
    snapshot_date       DATE NOT NULL,
    repo_id             VARCHAR NOT NULL,
    author              VARCHAR,
    downloads_30d       BIGINT,                -- the Hub's rolling 30-day count
    downloads_all_time  BIGINT,                -- NULL when the snapshot did not carry it (never guessed)
    likes               BIGINT,
    trending_score      DOUBLE,
    pipeline_tag        VARCHAR,
    library_name        VARCHAR,
    created_at          TIMESTAMPTZ,
    last_modified       TIMESTAMPTZ,
    base_models         VARCHAR[],
    relation            VARCHAR,               -- finetune, quantized, adapter, merge (from base_model tags)
    gated               BOOLEAN,
    parameters          BIGINT,
    source              VARCHAR NOT NULL,      -- huggingface (the live API), or the importer that loaded it
    run_id              VARCHAR NOT NULL,
    raw_sha256          VARCHAR,
    PRIMARY KEY (snapshot_date, repo_id)
);
