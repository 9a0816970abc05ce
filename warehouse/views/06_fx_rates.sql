-- Dated exchange rates (warehouse/data/fx_rates.csv): units of a currency per US dollar on a date, each with its
-- source. A non-USD price converts with the latest rate dated on or before its valid_from and at most 31 days
-- older; without one, usd_per_mtok stays NULL (never a guessed rate).
CREATE OR REPLACE TABLE fx_rates AS
SELECT * FROM read_csv('{data_dir}/fx_rates.csv', header = true, delim = ',', quote = '"', escape = '"', columns = {
    'date': 'DATE', 'currency': 'VARCHAR', 'units_per_usd': 'DECIMAL(18, 6)', 'source_url': 'VARCHAR'});
