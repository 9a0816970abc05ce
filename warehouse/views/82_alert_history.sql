-- Every alert delivery with its event, as `llmflation alerts list` shows them: when it was queued, channel, rule,
-- status, attempts, the event, sent time (or the next attempt), the last error (credentials removed). Public contract.
CREATE OR REPLACE VIEW alert_history AS
SELECT d.created_at, d.channel, d.rule, d.status, d.attempts, e.event_type, e.provider,
       coalesce(e.provider_model_id, e.model_key) AS model, e.metric, e.old_usd_per_mtok, e.new_usd_per_mtok,
       e.pct_change, e.source, CASE WHEN d.status = 'sent' THEN d.sent_at ELSE d.next_attempt_at END AS at,
       d.last_error, d.event_id
FROM alert_deliveries d JOIN price_events e USING (event_id);
