"""Fetching and parsing of every llmflation source. Pure of prefect and duckdb."""
