-- Curated reference data shipped with llmflation, refreshed by every writer; every row cites its public source.
-- landmark_prices: list prices before (and besides) the nightly runs, in USD per 1M tokens. `date` is the day the
-- price took effect where the source states one; `observed` is a day (or a month, YYYY-MM) on which the source shows
-- it in force, such as a page capture or the date of an article; both NULL where the source gives neither, and such
-- a row is kept but never placed in time. `in_force_from` is the one the time series use.
CREATE OR REPLACE TABLE landmark_prices AS
SELECT *,
       coalesce(date, CAST(CASE WHEN length(observed) = 7 THEN observed || '-01' ELSE observed END AS DATE))
           AS in_force_from
FROM read_csv('{data_dir}/landmark_prices.csv', header = true, delim = ',', quote = '"', escape = '"', columns = {
    'date': 'DATE', 'observed': 'VARCHAR', 'provider': 'VARCHAR', 'model': 'VARCHAR', 'model_key': 'VARCHAR',
    'input_usd_per_mtok': 'DECIMAL(38, 18)', 'output_usd_per_mtok': 'DECIMAL(38, 18)', 'source_url': 'VARCHAR',
    'note': 'VARCHAR'});

-- landmark_offers: the placed landmarks as offers in time, each in force from its in_force_from until the next placed
-- landmark of the same provider and model id (an undated later price cannot end it).
CREATE OR REPLACE VIEW landmark_offers AS
SELECT provider, model, model_key, input_usd_per_mtok, output_usd_per_mtok, source_url,
       CAST(in_force_from AS TIMESTAMPTZ) AS valid_from,
       CAST(lead(in_force_from) OVER (PARTITION BY provider, model ORDER BY in_force_from) AS TIMESTAMPTZ) AS valid_to
FROM landmark_prices
WHERE in_force_from IS NOT NULL;

-- capabilities: published benchmark scores (mmlu, gpqa_diamond ...), one row per model and benchmark.
CREATE OR REPLACE TABLE capabilities AS
SELECT * FROM read_csv('{data_dir}/capabilities.csv', header = true, delim = ',', quote = '"', escape = '"', columns = {
    'model_key': 'VARCHAR', 'benchmark': 'VARCHAR', 'score': 'DOUBLE', 'source_url': 'VARCHAR', 'note': 'VARCHAR'});
