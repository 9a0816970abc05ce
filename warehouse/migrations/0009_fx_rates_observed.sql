-- Dated exchange rates as reference sources state them (the ECB: units of each currency per 1 EUR on a business
-- day), each with the run and raw document it came from. One row per source, day and currency: the load adds only
-- the rates not stored yet (warehouse/fx.py), so a rerun loads nothing new. No primary key: its index would take
-- twenty times the space of the rates themselves, and the run lock leaves one writer. Prices in other currencies
-- convert through these rates (fx_rates).
CREATE TABLE fx_rates_observed (
    source        VARCHAR NOT NULL,
    date          DATE NOT NULL,
    currency      VARCHAR NOT NULL,
    units_per_eur DECIMAL(18, 6) NOT NULL,
    run_id        VARCHAR NOT NULL,
    raw_sha256    VARCHAR NOT NULL
    -- one row per (source, date, currency)
);
-- fx_rates was a table read from warehouse/data/fx_rates.csv; it becomes a view over the observed rates and that
-- file (warehouse/views/06_fx_rates.sql). Token prices are stored in their own currency, so the price history itself
-- needs no rebuild; the events of converted prices are recomputed by the first run that loads rates.
DROP TABLE IF EXISTS fx_rates;
