-- Exchange rates. Reference sources (the ECB) state dated rates, loaded into fx_rates_observed by their runs;
-- warehouse/data/fx_rates.csv keeps by hand only rates no such source gives: units of a currency per US dollar on a
-- date, each with the page that states it.
CREATE OR REPLACE TABLE fx_rates_curated AS
SELECT * FROM read_csv('{data_dir}/fx_rates.csv', header = true, delim = ',', quote = '"', escape = '"', columns = {
    'date': 'DATE', 'currency': 'VARCHAR', 'units_per_usd': 'DECIMAL(18, 6)', 'source_url': 'VARCHAR'});

-- x * numerator / denominator, rounded half up to 18 decimals in exact integer arithmetic (DuckDB divides decimals
-- as doubles, which would leave noise in the last digits of a converted price). x: DECIMAL(38, 18) >= 0; numerator,
-- denominator: rates with at most 6 decimals, > 0. The quotient is split off first, so nothing overflows that fits.
CREATE OR REPLACE MACRO fx_micro(rate) AS CAST(CAST(rate AS DECIMAL(38, 6)) * 1000000 AS HUGEINT);
CREATE OR REPLACE MACRO fx_atto(x) AS
    CAST(floor(x) AS HUGEINT) * 1000000000000000000 + CAST((x - floor(x)) * 1000000000000000000 AS HUGEINT);
CREATE OR REPLACE MACRO fx_times(x, numerator, denominator) AS CAST(CAST(
    fx_atto(x) // fx_micro(denominator) * fx_micro(numerator)
    + (fx_atto(x) % fx_micro(denominator) * fx_micro(numerator) + fx_micro(denominator) // 2) // fx_micro(denominator)
    AS DECIMAL(38, 0)) * 0.000000000000000001 AS DECIMAL(38, 18));

-- The rates prices convert with, one per day and currency, each as a cross rate through the base its source states
-- it against: usd_per_base / units_per_base US dollars per unit. The ECB's are through the euro (USD per EUR / CUR
-- per EUR, both of the same day), the euro's own is the ECB's USD per EUR; a hand-kept rate is against the dollar.
-- A rate a source gives wins over a hand-kept one of the same day. Internal; the public view is fx_rates below.
CREATE OR REPLACE VIEW fx_conversion AS
WITH observed AS (
    SELECT r.date, r.currency, r.units_per_eur AS units_per_base, usd.units_per_eur AS usd_per_base, r.source,
           r.raw_sha256
    FROM fx_rates_observed r
    JOIN fx_rates_observed usd ON usd.source = r.source AND usd.date = r.date AND usd.currency = 'USD'
    WHERE r.currency <> 'USD'
    UNION ALL
    SELECT date, 'EUR', 1, units_per_eur, source, raw_sha256 FROM fx_rates_observed WHERE currency = 'USD'
),
fed AS (  -- two sources stating the same day's rate: the first by name, so that the choice never varies
    SELECT * FROM observed QUALIFY row_number() OVER (PARTITION BY date, currency ORDER BY source) = 1
)
SELECT date, currency, 'EUR' AS base, units_per_base, usd_per_base, source, raw_sha256, NULL::VARCHAR AS source_url
FROM fed
UNION ALL
SELECT c.date, c.currency, 'USD', c.units_per_usd, 1, 'fx_rates.csv', NULL, c.source_url
FROM fx_rates_curated c ANTI JOIN fed f USING (date, currency);

-- The day of a timestamp in UTC: the day whose rate converts a price, whatever the session's time zone.
CREATE OR REPLACE MACRO utc_day(ts) AS CAST(timezone('UTC', ts) AS DATE);

-- A token price in US dollars: as it is when stated in dollars; else converted with the rate of its valid_from day
-- (UTC), or of the latest day before it that has one, at most 4 days older (a weekend, a holiday); else NULL, never
-- an assumed rate. rate_date, usd_per_base, units_per_base: the rate an ASOF join on (currency, utc_day(valid_from)
-- >= date) found in fx_conversion.
CREATE OR REPLACE MACRO usd_amount(currency, amount, valid_from, rate_date, usd_per_base, units_per_base) AS
    CASE
        WHEN currency = 'USD' THEN amount
        WHEN rate_date >= utc_day(valid_from) - 4 THEN fx_times(amount, usd_per_base, units_per_base)
    END;

-- Dated exchange rates, as fx_conversion holds them, with units of the currency per US dollar. Public contract.
CREATE OR REPLACE VIEW fx_rates AS
SELECT
    c.date,
    c.currency,
    fx_times(1, c.units_per_base, c.usd_per_base) AS units_per_usd,
    c.base,
    c.units_per_base,
    c.usd_per_base,
    c.source,
    coalesce(c.source_url, d.url) AS source_url,
    c.raw_sha256
FROM fx_conversion c
LEFT JOIN (
    SELECT sha256, min(url) AS url FROM fetches
    WHERE sha256 IN (SELECT DISTINCT raw_sha256 FROM fx_rates_observed) GROUP BY sha256
) d ON d.sha256 = c.raw_sha256;
