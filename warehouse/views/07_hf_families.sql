-- Which repo ids belong to which open-model family (warehouse/data/hf_families.csv): the first pattern, by
-- priority, that the lowercase repo id is LIKE.
CREATE OR REPLACE TABLE hf_families AS
SELECT * FROM read_csv('{data_dir}/hf_families.csv', header = true, delim = ',', quote = '"', escape = '"', columns = {
    'priority': 'INTEGER', 'pattern': 'VARCHAR', 'family': 'VARCHAR'});
