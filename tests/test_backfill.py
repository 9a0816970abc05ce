"""Backfill: saved price documents as past runs with their own dates, from files, folders and a git history."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmflation.flows import backfill
from llmflation.flows.settings import Settings
from tests.helpers import real
from tests.ledger_helpers import query
from tests.test_cli import cli

RUNS = "SELECT source, strftime(observed_at, '%Y-%m-%d %H:%M'), status FROM source_runs ORDER BY observed_at"


def test_saved_files_load_as_runs_at_the_time_they_carry_or_name_once(settings: Settings) -> None:
    files = [real("litellm/model_prices_2025-03-14.json"), real("litellm/model_prices_2025-02-06.json")]
    documents = backfill.from_paths("litellm", files)
    assert [(d.how, d.as_of) for d in documents] == [
        ("last_updated in model_prices_2025-03-14.json", datetime(2025, 3, 14, 5, 7, 33, 243536, tzinfo=UTC)),
        ("its name", datetime(2025, 2, 6, tzinfo=UTC)),
    ]
    first = backfill.import_documents(settings, "litellm", documents)
    assert [what.split(":")[0] for _, what in first] == ["ok", "ok"]  # applied oldest first
    assert query(settings, RUNS) == [("litellm", "2025-02-06 00:00", "ok"), ("litellm", "2025-03-14 05:07", "ok")]
    again = backfill.import_documents(settings, "litellm", backfill.from_paths("litellm", files))
    assert [what for _, what in again] == ["already imported", "already imported"]
    assert len(query(settings, RUNS)) == 2
    # history a live replay would build: the corrected per-1K figure is a unit error, and imports alert nobody
    flash = query(
        settings,
        "SELECT DISTINCT provider_model_id, event_type FROM price_events WHERE provider_model_id LIKE "
        "'%gemini-2.0-flash-001' AND metric = 'input' AND event_type NOT IN ('new_offer', 'source_disagreement') "
        "ORDER BY ALL",
    )
    assert flash and {kind for _, kind in flash} == {"suspected_unit_error"}, flash
    assert query(settings, "SELECT count(*) FROM alert_deliveries") == [(0,)]


def test_collectors_wrapped_openrouter_bodies_are_dated_by_their_fetched_at(settings: Settings) -> None:
    documents = backfill.from_paths("openrouter", [real("openrouter/openrouter_models_2025-12-29.json").parent])
    results = backfill.import_documents(settings, "openrouter", documents)
    assert all(what.startswith("ok: ") for _, what in results), results
    assert query(settings, RUNS) == [
        ("openrouter", "2025-12-29 18:04", "ok"),
        ("openrouter", "2026-04-20 08:05", "ok"),
        ("openrouter", "2026-07-17 18:48", "ok"),
    ]


def test_a_folder_of_llm_prices_vendor_files_is_one_document_dated_by_as_of(settings: Settings) -> None:
    folder = real("llm-prices/data/openai.json").parent
    (document,) = backfill.from_paths("llm_prices", [folder], datetime(2026, 8, 5, tzinfo=UTC))
    assert len(document.read()) == len(list(folder.glob("*.json"))) and document.how == "--as-of"
    ((_, what),) = backfill.import_documents(settings, "llm_prices", [document])
    assert what.startswith("ok: ")
    stated = query(
        settings,
        "SELECT count(*) FROM price_history WHERE source = 'llm_prices' AND valid_from < TIMESTAMPTZ '2026-08-05'",
    )[0][0]
    assert stated > 0  # the feed's own from/to dates, not the import date, date its history


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_every_version_in_a_git_history_is_imported_at_its_commit_time(settings: Settings, tmp_path: Path) -> None:
    repo = tmp_path / "litellm"
    repo.mkdir()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    versions = [
        ("model_prices_2025-02-06.json", "2025-02-06T09:30:00+00:00"),
        ("model_prices_2025-03-14.json", "2025-03-14T05:07:27+00:00"),
    ]
    for name, stamp in versions:
        shutil.copy(real(f"litellm/{name}"), repo / "model_prices_and_context_window.json")
        subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=env)
        subprocess.run(
            ["git", "-C", str(repo), "commit", "-q", "-m", name],
            check=True,
            env={**env, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp},
        )
    documents = backfill.from_git("litellm", repo, "model_prices_and_context_window.json")
    assert [d.as_of.isoformat() for d in documents] == [stamp for _, stamp in versions]
    backfill.import_documents(settings, "litellm", documents)
    assert query(settings, RUNS) == [("litellm", "2025-02-06 09:30", "ok"), ("litellm", "2025-03-14 05:07", "ok")]
    urls = query(settings, "SELECT url FROM fetches ORDER BY fetched_at")
    assert all(url.startswith(repo.resolve().as_uri()) and "@" in url for (url,) in urls)


def test_import_prices_errors_print_one_line(settings: Settings, tmp_path: Path) -> None:
    undated = tmp_path / "prices.json"
    undated.write_bytes(real("litellm/model_prices_2025-02-06.json").read_bytes())
    db = str(settings.db)
    cases = [
        (
            ("import", "prices", "litellm", str(undated), "--db", db),
            f"error: {undated}: no date in the file (fetched_at, last_updated) or its name (YYYY-MM-DD); "
            "pass --as-of\n",
        ),
        (("import", "prices", "nosuch", str(undated), "--db", db), None),
        (
            ("import", "prices", "litellm", str(undated), str(undated), "--as-of", "2025-02-06", "--db", db),
            "error: --as-of dates one document; import the others with their own dates\n",
        ),
        (
            ("import", "prices", "litellm", "--db", db),
            "error: name the files or folders to import, or --git REPO --file PATH\n",
        ),
    ]
    for args, expected in cases:
        done = cli(*args)
        assert done.returncode == 1 and done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1
        if expected:
            assert done.stderr == expected
    ok = cli("import", "prices", "litellm", str(undated), "--as-of", "2025-02-06T12:00", "--db", db)
    assert ok.returncode == 0 and ok.stdout.endswith("(--as-of): ok: 1653 prices, 1653 loaded, 0 rejected\n")
