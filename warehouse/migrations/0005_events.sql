-- Price change events, detected after every run from price history and source runs (see views/80_events.sql), and
-- the alert outbox: one row per (event, channel), so an event reaches a channel once however many rules match it,
-- and a failed delivery waits for its retry instead of being lost.
CREATE TABLE events (
    event_id          VARCHAR PRIMARY KEY,    -- md5 of what the event is about: the same change, the same id
    event_type        VARCHAR NOT NULL,
    detected_at       TIMESTAMPTZ NOT NULL,   -- when a run first found it
    run_id            VARCHAR,                -- that run; NULL for the baseline taken when detection began
    effective_at      TIMESTAMPTZ,            -- when it happened in the market (or to the source)
    provider          VARCHAR,
    model_key         VARCHAR,
    provider_model_id VARCHAR,
    metric            VARCHAR,
    tier              VARCHAR,
    region            VARCHAR,
    old_usd_per_mtok  DECIMAL(38, 18),
    new_usd_per_mtok  DECIMAL(38, 18),
    pct_change        DOUBLE,
    source            VARCHAR NOT NULL,
    evidence          JSON NOT NULL,          -- raw sha256 of both sides, native amounts, error text ...
    news              BOOLEAN NOT NULL        -- false: part of what a source listed on its first run (a baseline)
);
CREATE TABLE event_detection (
    started_at       TIMESTAMPTZ NOT NULL,
    baseline_pending BOOLEAN NOT NULL         -- a warehouse with history from before events: its first detection
);                                            -- records what that history shows as a baseline, never alerted
INSERT INTO event_detection
SELECT now(), (SELECT count(*) FROM source_runs) > 0;
CREATE TABLE alert_deliveries (
    event_id        VARCHAR NOT NULL,
    channel         VARCHAR NOT NULL,         -- a channel name from llmflation.toml, never its URL
    rule            VARCHAR NOT NULL,
    status          VARCHAR NOT NULL,         -- pending, sent
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      VARCHAR,                  -- secrets removed
    sent_at         TIMESTAMPTZ,
    message_id      VARCHAR,                  -- one id per message sent; a digest shares it across its events
    PRIMARY KEY (event_id, channel)
);
