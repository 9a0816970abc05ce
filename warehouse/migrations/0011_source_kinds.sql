-- Kinds of source, renamed: "aggregator" was both a reseller stating its own prices (OpenRouter, the Hugging Face
-- router) and a third party's table of other sellers' prices (LiteLLM's map). Resellers' prices are offers a buyer
-- can take; a table's are claims (warehouse/views/15_offers.sql). Past runs take the kind their source has now.
UPDATE source_runs SET kind = 'feed' WHERE kind = 'aggregator' AND source = 'litellm';
UPDATE source_runs SET kind = 'reseller' WHERE kind = 'aggregator';
