-- The curated model catalogue shipped with llmflation (warehouse/data/model_catalogue.csv), refreshed by every
-- writer: family, open weights, Hugging Face repo, release date (only where a cited source states it), class.
CREATE OR REPLACE TABLE model_catalogue AS
SELECT * FROM read_csv('{data_dir}/model_catalogue.csv', header = true, delim = ',', quote = '"', escape = '"', columns = {
    'model_key': 'VARCHAR', 'family': 'VARCHAR', 'open_weights': 'BOOLEAN', 'hf_repo': 'VARCHAR',
    'release_date': 'DATE', 'class': 'VARCHAR', 'source_url': 'VARCHAR'});
