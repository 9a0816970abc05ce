from __future__ import annotations

from pathlib import Path

import pytest

from flows.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a fresh warehouse in a temporary data folder, with fast HTTP retries."""
    return Settings(db=tmp_path / "data" / "llmflation.duckdb", http_timeout=5.0, http_retries=2, http_backoff=0.05)
