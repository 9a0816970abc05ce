"""@flow verify_archive: the weekly check of the raw archive (every document re-hashed against raw_documents).

It only reports: a nightly run restores a damaged document whenever its source serves the same bytes again, and
`llmflation verify --repair` fetches such sources on demand.
"""

from prefect import flow, get_run_logger

from llmflation.flows.settings import Settings
from llmflation.warehouse import evidence

WEEKLY_CRON = "0 5 * * 0"  # Sundays 05:00 UTC, after the night's runs


@flow(name="verify-archive", log_prints=False)
def verify_archive(db: str | None = None) -> dict:
    """Verify the raw archive: fails, naming each one, when an archived document is missing or damaged."""
    logger = get_run_logger()
    settings = Settings.from_env(db=db)
    result = evidence.verify(
        settings.db, settings.data_dir, lambda finding: logger.warning("%s", finding) if finding else None
    )
    logger.info("%s", result.summary())
    if result.damaged:
        raise RuntimeError(result.summary())
    return result.as_dict()
