-- What each column of the public views means (warehouse/data/contract.csv), refreshed by every writer; the manifest
-- of `llmflation export` carries the same text.
--   SELECT "column", meaning FROM sql_contract WHERE view = 'offers'. Public contract.
CREATE OR REPLACE TABLE sql_contract AS
SELECT * FROM read_csv('{data_dir}/contract.csv', header = true, delim = ',', quote = '"', escape = '"', columns = {
    'view': 'VARCHAR', 'column': 'VARCHAR', 'meaning': 'VARCHAR'});
