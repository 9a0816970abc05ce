"""Settings a source declares (SETTINGS), read from LLMFLATION_<SOURCE>_<KEY> and handed to its fetch: Together's
API key, checked by a local server in the place of Together's API, and never shown or stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from llmflation.flows.pipeline import run_prices
from llmflation.flows.settings import ConfigError, Settings
from tests.helpers import OWN_FIXTURES, cli, ts
from tests.ledger_helpers import query

KEY = "tgp_v1_secret-key-for-tests-0123456789"
MODELS = OWN_FIXTURES / "together" / "model_list.json"  # the shape Together's API reference documents


def _together(httpserver: HTTPServer) -> list[str | None]:
    """GET /v1/models as Together answers it: the model list with the right key, 401 without it."""
    seen: list[str | None] = []

    def handler(request: Request) -> Response:
        seen.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            body = '{"error": {"message": "Invalid API key provided", "type": "invalid_request_error"}}'
            return Response(body, status=401, content_type="application/json")
        return Response(MODELS.read_bytes(), content_type="application/json")

    httpserver.expect_request("/v1/models").respond_with_handler(handler)
    return seen


def _env(httpserver: HTTPServer, tmp_path: Path, **more: str) -> dict[str, str]:
    return {
        "LLMFLATION_DB": str(tmp_path / "data" / "llmflation.duckdb"),
        "LLMFLATION_TOGETHER_URL": httpserver.url_for("/v1/models"),
        "LLMFLATION_HTTP_RETRIES": "0",
        **more,
    }


def test_the_key_from_the_environment_reaches_the_api_and_nowhere_else(httpserver: HTTPServer, tmp_path: Path) -> None:
    seen = _together(httpserver)
    settings = Settings.from_env(environ=_env(httpserver, tmp_path, LLMFLATION_TOGETHER_API_KEY=KEY))
    assert settings.source_options == {"together": {"api_key": KEY}} and KEY not in repr(settings)
    summary = run_prices(settings, ["together"], ts("2026-08-01T00:00"))
    assert summary.status == "ok", summary.outcomes
    assert seen == [f"Bearer {KEY}"]
    rows = query(settings, "SELECT provider_model_id, metric, usd_per_mtok FROM current_prices ORDER BY ALL")
    assert ("deepseek-ai/DeepSeek-V3.1", "output", 1.7) in [(m, k, float(v)) for m, k, v in rows]
    stored = [p for p in settings.data_dir.rglob("*") if p.is_file()]
    assert stored and not [p for p in stored if KEY.encode() in p.read_bytes()]


def test_without_a_key_nothing_is_asked_and_the_run_says_which_variable_to_set(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    seen = _together(httpserver)
    settings = Settings.from_env(environ=_env(httpserver, tmp_path))
    summary = run_prices(settings, ["together"], ts("2026-08-01T00:00"))
    (outcome,) = summary.outcomes
    assert outcome.status == "failed" and seen == []
    assert outcome.error.endswith("the API needs a key: set LLMFLATION_TOGETHER_API_KEY"), outcome.error


def test_a_key_the_source_does_not_declare_is_refused_naming_the_ones_it_reads(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(environ={"LLMFLATION_TOGETHER_APIKEY": KEY})
    assert str(refused.value) == (
        "LLMFLATION_TOGETHER_APIKEY: the source together has no setting 'apikey' "
        "(it reads LLMFLATION_TOGETHER_URL, LLMFLATION_TOGETHER_API_KEY)"
    )
    assert Settings.from_env(environ={"LLMFLATION_HF_AUTHORS": "Qwen"}).source_options == {}  # a setting, no source


@pytest.mark.e2e
def test_the_cli_run_uses_the_key_and_never_prints_it(httpserver: HTTPServer, tmp_path: Path) -> None:
    seen = _together(httpserver)
    done = cli(
        "run",
        "--sources",
        "together",
        env=_env(httpserver, tmp_path, LLMFLATION_TOGETHER_API_KEY=KEY),
        cwd=tmp_path,
        timeout=300,
        embedded=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "together: ok" in done.stdout + done.stderr and seen == [f"Bearer {KEY}"]
    assert KEY not in done.stdout + done.stderr
