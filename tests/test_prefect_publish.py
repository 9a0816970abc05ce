"""What a price run shows Prefect users, read back through Prefect's API after a real `llmflation run` on the
embedded defaults: its flow run's name and state, its artifacts, and a Prefect event for each price event it found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from llmflation.flows.pipeline import run_prices
from llmflation.flows.settings import Settings
from tests.helpers import cli, openrouter_body, real, through_prefect, ts
from tests.ledger_helpers import query

pytestmark = pytest.mark.e2e
READ_BACK = """
import json
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import FlowRunSort
from prefect.events.filters import EventFilter, EventNameFilter

runs = client.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_ASC)
artifacts = client.read_artifacts(
    artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["llmflation-run", "llmflation-price-events"]))
)
page = client.read_events(filter=EventFilter(event=EventNameFilter(prefix=["llmflation."])), limit=50)
events = list(page.events)
while page.next_page:
    page = client.read_events_page(page.next_page)
    events += page.events
print(json.dumps({
    "runs": [[run.name, run.state.type.value, run.state.name] for run in runs],
    "artifacts": {a.key: [a.type, a.data, str(a.flow_run_id)] for a in artifacts},
    "run_ids": [str(run.id) for run in runs],
    "events": [[e.event, dict(e.resource), e.payload, str(e.id)] for e in events],
}))
"""


def test_a_run_publishes_its_table_its_price_events_and_prefect_events_once(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    # a first, healthy run of both sources (the baseline: nothing in it is news), then a run a month later in which
    # LiteLLM's prices moved and OpenRouter answers 503: a partial run, price events, and a broken source
    settings = Settings(db=tmp_path / "data" / "llmflation.duckdb")
    httpserver.expect_request("/map.json").respond_with_data(real("litellm/model_prices_2025-02-06.json").read_bytes())
    httpserver.expect_request("/models").respond_with_data(
        openrouter_body(real("openrouter/openrouter_models_2025-12-29.json"))
    )
    urls = {"litellm": httpserver.url_for("/map.json"), "openrouter": httpserver.url_for("/models")}
    baseline = Settings(db=settings.db, source_urls=urls)
    assert run_prices(baseline, ["litellm", "openrouter"], ts("2025-02-06T00:00")).status == "ok"
    httpserver.clear()
    httpserver.expect_request("/map.json").respond_with_data(real("litellm/model_prices_2025-03-14.json").read_bytes())
    httpserver.expect_request("/models").respond_with_data("busy", status=503)
    env = {
        "HOME": str(tmp_path),
        "LLMFLATION_LITELLM_URL": urls["litellm"],
        "LLMFLATION_OPENROUTER_URL": urls["openrouter"],
        "LLMFLATION_HTTP_RETRIES": "0",
    }
    args = ("run", "--sources", "litellm,openrouter", "--as-of", "2025-03-14T00:00:00Z")
    done = cli(*args, env=env, cwd=tmp_path, timeout=300, embedded=True)
    assert done.returncode == 1, done.stdout + done.stderr  # partial
    assert "Traceback" not in done.stdout + done.stderr
    again = cli(*args, env=env, cwd=tmp_path, timeout=300, embedded=True)  # a rerun finds nothing new
    assert again.returncode == 1, again.stdout + again.stderr

    news = query(
        settings,
        "SELECT event_id, event_type, provider, model_key, metric, new_usd_per_mtok, source FROM price_events "
        "WHERE news AND event_type <> 'source_broken' ORDER BY event_id",
    )
    assert len(news) > 10
    ((run_id,), _) = query(settings, "SELECT run_id FROM runs WHERE status = 'partial' ORDER BY started_at")
    shown = through_prefect(tmp_path, READ_BACK)
    assert isinstance(shown, dict)

    # named from what they do; a partial run is Completed, named Partial
    assert shown["runs"] == [["prices-2025-03-14", "COMPLETED", "Partial"]] * 2
    first_flow_run = shown["run_ids"][0]

    # the table of the sources; the key names the latest, one per flow run
    kind, table, _ = shown["artifacts"]["llmflation-run"]
    assert kind == "table"
    rows = json.loads(table)
    recorded = query(
        settings,
        "SELECT source, status, loaded, coalesce(error, '') FROM source_runs WHERE run_id = ? ORDER BY source",
        [run_id],
    )
    assert [(r["source"], r["status"], r["rows"], r["reason"]) for r in rows] == recorded

    # the price events of the first run, listed in markdown (the rerun found none: its own artifact is the first's)
    kind, markdown, flow_run_id = shown["artifacts"]["llmflation-price-events"]
    assert kind == "markdown" and flow_run_id == first_flow_run
    assert "| event | provider | model | metric | old -> new USD per 1M tokens | source |" in markdown
    assert markdown.count("| litellm |") == min(len(news), 200)

    # one Prefect event per news event, once (the rerun emitted nothing), with the event's fields
    changed = [e for e in shown["events"] if e[0] == "llmflation.price.changed"]
    assert sorted(e[2]["event_id"] for e in changed) == [row[0] for row in news]
    assert sorted(e[3].replace("-", "") for e in changed) == [row[0] for row in news]  # the Prefect event's id
    event_id, event_type, provider, model_key, metric, usd, source = news[0]
    (_, resource, payload, _) = next(e for e in changed if e[2]["event_id"] == event_id)
    assert resource["prefect.resource.id"] == f"llmflation.model.{model_key}"
    assert resource["llmflation.provider"] == provider and resource["llmflation.event-type"] == event_type
    assert (payload["metric"], payload["source"]) == (metric, source)
    assert payload["new_usd_per_mtok"] == (None if usd is None else f"{usd.normalize():f}")
    broken = [e for e in shown["events"] if e[0] == "llmflation.source.broken"]
    assert [(e[1]["prefect.resource.id"], e[2]["evidence"]["status"]) for e in broken] == [
        ("llmflation.source.openrouter", "failed")
    ]
