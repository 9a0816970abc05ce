"""`llmflation serve` on the embedded defaults: a scheduled run happens, and SIGTERM stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from llmflation.extractors.base import source_names
from llmflation.flows.settings import Settings
from tests.helpers import openrouter_body, real
from tests.ledger_helpers import query

pytestmark = pytest.mark.e2e


def test_serve_runs_the_schedule_and_stops_cleanly(httpserver: HTTPServer, tmp_path: Path) -> None:
    import cloudpickle

    from llmflation.flows.pricing import track_prices

    # serve hands the flow to its run process by pickling it: parameters must still validate after that
    clone = cloudpickle.loads(cloudpickle.dumps(track_prices))
    assert clone.validate_parameters({"db": "x.duckdb", "as_of": "2026-01-01T00:00:00Z"})["db"] == "x.duckdb"

    httpserver.expect_request("/models").respond_with_data(
        openrouter_body(real("openrouter/openrouter_models_2026-04-20.json"))
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LLMFLATION_"))}
    # every source points at the local server (tests never leave loopback); only openrouter has a payload there
    env.update({f"LLMFLATION_{name.upper()}_URL": httpserver.url_for(f"/missing/{name}") for name in source_names()})
    httpserver.expect_request("/api/models").respond_with_data(
        '[{"id": "Qwen/Qwen3-8B", "downloads": 10, "downloadsAllTime": 100}]', content_type="application/json"
    )
    env.update(
        HOME=str(tmp_path),
        LLMFLATION_OPENROUTER_URL=httpserver.url_for("/models"),
        LLMFLATION_HUGGINGFACE_URL=httpserver.url_for("/api/models"),
        LLMFLATION_HTTP_RETRIES="0",
    )
    with open(tmp_path / "serve.log", "w") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "llmflation", "serve", "--cron", "* * * * *"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    settings = Settings(db=tmp_path / "data" / "llmflation.duckdb")
    try:
        deadline = time.monotonic() + 240
        done = []
        while time.monotonic() < deadline and len(done) < 2:
            time.sleep(3)
            assert child.poll() is None, (tmp_path / "serve.log").read_text()
            if settings.db.exists():
                try:
                    done = query(settings, "SELECT flow, status FROM runs WHERE finished_at IS NOT NULL ORDER BY flow")
                except Exception:  # the run may hold the file for a moment
                    continue
        # both scheduled flows ran; the second waited for the first's lock
        assert done == [("track-adoption", "ok"), ("track-prices", "partial")], (tmp_path / "serve.log").read_text()
        health = dict(query(settings, "SELECT source, status FROM source_health"))
        # only openrouter is served locally; every other stable source fails to connect, and says so
        assert health.pop("openrouter") == "ok" and health.pop("huggingface") == "ok" and "litellm" in health
        assert set(health.values()) == {"failed"}
    finally:
        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=60)
    output = (tmp_path / "serve.log").read_text()
    assert code == 0, output
    assert "Traceback" not in output, output
    assert not (tmp_path / ".prefect").exists()
    assert (tmp_path / "data" / "prefect" / "server.log").exists()
    # the local Prefect server that serve started is gone with it
    import re

    import requests

    api = re.search(r"Prefect API: (\S+)", output)
    assert api, output
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{api.group(1)}/health", timeout=2)
