-- Kinds of source, renamed: "aggregator" was both a reseller stating its own prices (OpenRouter, the Hugging Face
-- router) and a third party's table of other sellers' prices (LiteLLM's map). Resellers' prices are offers a buyer
-- can take; a table's are claims (warehouse/views/15_offers.sql). Past runs take the kind their source has now.
UPDATE source_runs SET kind = 'feed' WHERE kind = 'aggregator' AND source = 'litellm';
UPDATE source_runs SET kind = 'reseller' WHERE kind = 'aggregator';
-- The lows now read offers only, and disagreements compare prices in their own currency: the next event detection
-- recomputes every event, withdraws those the history no longer shows and records what it newly shows as a
-- baseline, never alerted (warehouse/events.py): old changes the new rules bring to light must not alert as news,
-- at the cost of that one run's own changes, which are recorded quietly (price_events lists them).
UPDATE event_detection SET baseline_pending = true WHERE EXISTS (SELECT 1 FROM source_runs);
