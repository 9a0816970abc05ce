"""The DuckDB ledger: raw archive, observations, price history, runs, and the public views."""
