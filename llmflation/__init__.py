"""llmflation: LLM API prices and open-model adoption, tracked nightly into DuckDB.

The package's parts live in the repository's top-level folders and install under this one name:
llmflation.flows (the Prefect flows and the command line), llmflation.extractors (fetching and parsing the
sources) and llmflation.warehouse (the DuckDB ledger, its migrations and its public SQL views).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("llmflation")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
