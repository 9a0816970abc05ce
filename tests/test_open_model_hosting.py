"""open_model_hosting: who hosts each open model, at what blended price, beside its Hub downloads."""

from __future__ import annotations

import json
import statistics
from decimal import Decimal
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from llmflation.flows import hub
from llmflation.flows.pipeline import run_prices
from llmflation.flows.settings import Settings
from tests.helpers import openrouter_body, payload, real, real_glob, ts
from tests.ledger_helpers import query, run_once

ROUTER = "hf/hf_router_v1_models_fixture_genai-prices_2026-07-30.json"
OPENROUTER = "openrouter/openrouter_models_top-weekly_2026-07-17.json"
# Router provider id -> llmflation slug, written out here independently of the parser.
SLUGS = {"together": "together", "fireworks-ai": "fireworks"}
# The router's models that OpenRouter also lists in that file, under its own ids.
ON_OPENROUTER = {"moonshotai/Kimi-K3": "moonshotai/kimi-k3", "zai-org/GLM-5.2": "z-ai/glm-5.2"}
COLUMNS = (
    "hf_repo, model_keys, hosts, host_count, cheapest_blended_usd_per_mtok, cheapest_host, "
    "median_blended_usd_per_mtok, host_prices, downloads_30d, downloads_date"
)


def _blend(input_price: Decimal, output_price: Decimal) -> Decimal:
    return (3 * input_price + output_price) / 4


def _rows(settings: Settings, where: str = "") -> dict[str, dict]:
    names = [c.strip() for c in COLUMNS.split(",")]
    found = query(settings, f"SELECT {COLUMNS} FROM open_model_hosting {where}")
    return {row[0]: dict(zip(names, row, strict=True)) for row in found}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(db=tmp_path_factory.mktemp("hosting") / "data" / "llmflation.duckdb")
    router = payload("hf_providers", real(ROUTER).read_bytes())
    assert run_once(settings, "hf_providers", router, ts("2026-07-30T00:00")).status == "ok"
    openrouter = payload("openrouter", openrouter_body(real(OPENROUTER)))
    assert run_once(settings, "openrouter", openrouter, ts("2026-07-17T18:48")).status == "ok"
    assert hub.import_files(settings, [real_glob("hf/daily_snapshots_namhyeokwoo/*.json")[0].parent]).status == "ok"
    return settings


def test_the_router_models_are_listed_with_their_hosts_prices_and_downloads(loaded: Settings) -> None:
    router = json.loads(real(ROUTER).read_bytes())["data"]
    openrouter = {m["id"]: m for m in json.loads(openrouter_body(real(OPENROUTER)))["data"]}
    snapshots = [json.loads(p.read_bytes()) for p in real_glob("hf/daily_snapshots_namhyeokwoo/*.json")]
    # The direct computation: each live, paid host of each router model, plus OpenRouter's own offer of it.
    expected: dict[str, dict] = {}
    for model in router:
        prices: dict[str, tuple[Decimal, Decimal]] = {}
        for entry in model["providers"]:
            pricing = entry.get("pricing") or {}
            if entry["status"] == "live" and pricing.get("input", 0) > 0 and pricing.get("output", 0) > 0:
                prices[SLUGS[entry["provider"]]] = (Decimal(str(pricing["input"])), Decimal(str(pricing["output"])))
        if model["id"] in ON_OPENROUTER:
            pricing = openrouter[ON_OPENROUTER[model["id"]]]["pricing"]
            million = Decimal(1_000_000)
            prices["openrouter"] = (Decimal(pricing["prompt"]) * million, Decimal(pricing["completion"]) * million)
        if not prices:
            continue
        blended = {host: _blend(i, o) for host, (i, o) in prices.items()}
        latest = max(
            (s for s in snapshots if any(m["id"] == model["id"] for m in s["models"])), key=lambda s: s["date"]
        )
        expected[model["id"]] = {
            "hosts": sorted(blended, key=lambda h: (blended[h], h)),
            "host_count": len(blended),
            "cheapest_blended_usd_per_mtok": min(blended.values()),
            "median_blended_usd_per_mtok": statistics.median(blended.values()),
            "downloads_30d": next(m["downloads"] for m in latest["models"] if m["id"] == model["id"]),
            "downloads_date": latest["date"],
        }
    # the snapshots hold every router model, so the join needs no constructed adoption row here
    assert set(expected) == {"moonshotai/Kimi-K3", "zai-org/GLM-5.2", "thinkingmachines/Inkling"}
    got = _rows(loaded, "WHERE hf_repo IN ('moonshotai/Kimi-K3', 'zai-org/GLM-5.2', 'thinkingmachines/Inkling')")
    simplified = {
        repo: {
            **{k: row[k] for k in ("hosts", "host_count", "cheapest_blended_usd_per_mtok")},
            "median_blended_usd_per_mtok": row["median_blended_usd_per_mtok"],
            "downloads_30d": row["downloads_30d"],
            "downloads_date": str(row["downloads_date"]),
        }
        for repo, row in got.items()
    }
    assert simplified == expected
    glm = got["zai-org/GLM-5.2"]
    assert glm["hosts"] == ["openrouter", "fireworks", "together"]
    assert glm["cheapest_host"] == "openrouter" and glm["cheapest_blended_usd_per_mtok"] == Decimal("1.41685")
    assert glm["median_blended_usd_per_mtok"] == Decimal("2.15") and glm["downloads_30d"] == 2662328
    assert glm["model_keys"] == ["z-ai/glm-5.2"]
    assert [(h["provider"], h["source"], h["provider_model_id"]) for h in glm["host_prices"]] == [
        ("openrouter", "openrouter", "z-ai/glm-5.2"),
        ("fireworks", "hf_providers", "zai-org/GLM-5.2"),
        ("together", "hf_providers", "zai-org/GLM-5.2"),
    ]
    # OpenRouter states GLM-5.2's repo itself; its Kimi-K3 carries none and joins by the canonical model key
    assert openrouter["z-ai/glm-5.2"]["hugging_face_id"] == "zai-org/GLM-5.2"
    assert not openrouter["moonshotai/kimi-k3"].get("hugging_face_id")
    assert "openrouter" in got["moonshotai/Kimi-K3"]["hosts"]
    # Ternary Bonsai is on the Hub and in the snapshots, but its only host states 0/0 without being free
    assert query(
        loaded, "SELECT count(*) FROM open_model_hosting WHERE hf_repo = 'prism-ml/Ternary-Bonsai-27B-gguf'"
    ) == [(0,)]
    assert query(
        loaded, "SELECT count(*) FROM hf_model_snapshots WHERE repo_id = 'prism-ml/Ternary-Bonsai-27B-gguf'"
    ) == [(8,)]


def _model(repo: str, *providers: tuple[str, str, object, object]) -> dict:
    return {
        "id": repo,
        "owned_by": repo.split("/")[0],
        "providers": [
            {"provider": p, "status": status, "pricing": {"input": i, "output": o}, "is_free": False}
            for p, status, i, o in providers
        ],
    }


def test_hosts_join_by_a_stated_repo_or_a_model_key_and_only_paid_current_standard_offers_count(
    settings: Settings, tmp_path: Path
) -> None:
    router = {
        "data": [
            _model(
                "Acme/Fancy-Model-7B-Instruct",
                ("together", "live", 1, 2),
                ("groq", "live", 0.5, 1),
                ("fireworks-ai", "live", 0.9, 0.9),
                ("novita", "live", 200, 200),  # 100x off every other host: held as a likely unit error
                ("nscale", "staging", 0.01, 0.01),
            ),
            _model("Acme/Other-1B", ("together", "live", 0.1, 0.3)),
            _model("openai/gpt-4o", ("together", "live", 2.5, 10)),  # the catalogue's closed model: not open
        ]
    }
    assert run_once(settings, "hf_providers", payload("hf_providers", router), ts("2026-08-01T00:00")).status == "ok"
    openrouter = {
        "data": [
            {  # another id (and so another model key), tied to the repo by the repo it states
                "id": "acme/fancy-7b",
                "hugging_face_id": "Acme/Fancy-Model-7B-Instruct",
                "pricing": {"prompt": "0.000001", "completion": "0.000003"},
            },
            {
                "id": "acme/fancy-7b:free",
                "hugging_face_id": "Acme/Fancy-Model-7B-Instruct",
                "pricing": {"prompt": "0", "completion": "0"},
            },
            {"id": "acme/fancy-model-7b-instruct", "pricing": {"prompt": "0.0000002", "completion": "0"}},
        ]
    }
    assert run_once(settings, "openrouter", payload("openrouter", openrouter), ts("2026-08-02T00:00")).status == "ok"
    folder = tmp_path / "snapshots"
    folder.mkdir()
    for day, downloads in (("2026-08-01", 1000), ("2026-08-03", 1500)):
        model = {"id": "Acme/Fancy-Model-7B-Instruct", "downloads": downloads, "likes": 3, "pipeline_tag": None}
        (folder / f"{day}.json").write_text(json.dumps({"date": day, "models": [model]}))
    assert hub.import_files(settings, [folder]).status == "ok"

    got = _rows(settings)
    assert set(got) == {"Acme/Fancy-Model-7B-Instruct", "Acme/Other-1B"}
    fancy = got["Acme/Fancy-Model-7B-Instruct"]
    # groq 0.625, fireworks 0.9, together 1.25, openrouter 1.5; novita's held price and nscale's staging offer
    # are left out, and so are OpenRouter's free variant and its offer with no output price
    assert fancy["hosts"] == ["groq", "fireworks", "together", "openrouter"]
    assert fancy["host_count"] == 4
    assert (fancy["cheapest_host"], fancy["cheapest_blended_usd_per_mtok"]) == ("groq", Decimal("0.625"))
    assert fancy["median_blended_usd_per_mtok"] == Decimal("1.075")  # (0.9 + 1.25) / 2
    assert fancy["model_keys"] == ["acme/fancy-7b", "acme/fancy-model-7b-instruct"]
    assert (fancy["downloads_30d"], str(fancy["downloads_date"])) == (1500, "2026-08-03")
    assert query(settings, "SELECT plausible FROM current_prices WHERE provider = 'novita' AND metric = 'input'") == [
        (False,)
    ]
    other = got["Acme/Other-1B"]
    assert (other["hosts"], other["downloads_30d"], other["downloads_date"]) == (["together"], None, None)


def test_a_run_fetches_the_router_at_its_overridden_url(settings: Settings, httpserver: HTTPServer) -> None:
    environ = {"LLMFLATION_HF_PROVIDERS_URL": "http://127.0.0.1:9/v1/models"}
    assert Settings.from_env(settings.db, environ).url_for("hf_providers") == "http://127.0.0.1:9/v1/models"
    assert Settings.from_env(settings.db, {}).url_for("hf_providers") == "https://router.huggingface.co/v1/models"
    httpserver.expect_request("/v1/models").respond_with_data(
        real(ROUTER).read_bytes(), content_type="application/json"
    )
    urls = {"hf_providers": httpserver.url_for("/v1/models")}
    summary = run_prices(settings.model_copy(update={"source_urls": urls}), ["hf_providers"], ts("2026-07-30T00:00"))
    assert summary.status == "ok", summary.outcomes
    assert query(settings, "SELECT status, items, parsed, loaded, notes FROM source_runs") == [
        ("ok", 4, 10, 10, "skipped 1 (no pricing stated); skipped 1 (zero prices, not marked free: no price)")
    ]
    assert query(
        settings, "SELECT DISTINCT provider, provider_model_id, hf_repo FROM model_identities ORDER BY ALL"
    ) == [
        ("fireworks", "moonshotai/Kimi-K3", "moonshotai/Kimi-K3"),
        ("fireworks", "zai-org/GLM-5.2", "zai-org/GLM-5.2"),
        ("together", "moonshotai/Kimi-K3", "moonshotai/Kimi-K3"),
        ("together", "thinkingmachines/Inkling", "thinkingmachines/Inkling"),
        ("together", "zai-org/GLM-5.2", "zai-org/GLM-5.2"),
    ]
