"""Flows, the CLI and settings: the composition layer of llmflation."""
