"""@flow import_prices: saved price documents of a source loaded as past runs (flows/backfill.py), one flow run named
from what it imports: `import-litellm-640-versions` (the command line names it, knowing the count).

No `from __future__ import annotations`: Prefect validates the parameters against the annotations (see
flows/pricing.py).
"""

from datetime import datetime
from pathlib import Path

from prefect import flow

from llmflation.flows import backfill, interrupts
from llmflation.flows.progress import progress_bar
from llmflation.flows.settings import Settings


def run_name(source: str, count: int) -> str:
    """`import-litellm-640-versions`: the source and how many of its saved versions the import loads."""
    return f"import-{source.replace('_', '-')}-{count}-version{'' if count == 1 else 's'}"


@flow(name="import-prices", log_prints=False)
def import_prices(
    source: str,
    paths: list[str] | None = None,
    repo: str | None = None,
    in_repo: str | None = None,
    as_of: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    db: str | None = None,
) -> list[str]:
    """Import saved price documents of a source as past runs, oldest first; one line per document, what it did."""
    settings = Settings.from_env(db=db)
    documents = backfill.documents(source, [Path(p) for p in paths or ()], Path(repo) if repo else None, in_repo, as_of)
    with interrupts.stopping(), progress_bar(f"importing {source}") as advance:

        def report(document: backfill.Document, what: str) -> None:
            advance(f"{document.label} as of {document.as_of:%Y-%m-%d %H:%M} UTC ({document.how}): {what}")

        results = backfill.import_documents(
            settings, source, documents, since=since, until=until, on_document=report, on_total=advance.total
        )
    return [what for _, what in results]
