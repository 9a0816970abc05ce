"""Official pages against aggregators on real payloads: disagreements, agreement shares, identity coverage."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from decimal import Decimal

import pytest

from llmflation.flows.settings import Settings
from tests.helpers import OFFICIAL, openrouter_body, payload, real, ts
from tests.ledger_helpers import query, run_once

OPENROUTER = "openrouter/openrouter_models_top-weekly_2026-07-17.json"
LITELLM = "litellm/model_prices_2026-07-24.json"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(db=tmp_path_factory.mktemp("official") / "data" / "llmflation.duckdb")
    for source, name, as_of in OFFICIAL:
        summary = run_once(settings, source, payload(source, real(name).read_bytes(), url=f"file:{name}"), ts(as_of))
        assert summary.status == "ok", summary.outcomes
    run_once(settings, "openrouter", payload("openrouter", openrouter_body(real(OPENROUTER))), ts("2026-07-17T18:48"))
    run_once(settings, "litellm", payload("litellm", real(LITELLM).read_bytes()), ts("2026-07-24T00:00"))
    return settings


def test_disagreements_are_exactly_the_differing_offers_and_traceable(loaded: Settings) -> None:
    rows = query(
        loaded,
        "SELECT source, source_kind, comparable_provider, model_key, metric, tier, region, "
        "price_per_mtok, currency, usd_per_mtok IS NOT NULL, valid_from, "
        "valid_to, provider_model_id FROM priced_offers",
    )
    # An independent nested-loop comparison of every pair of sources' prices in the same currency; a free offer
    # (zero, or a :free variant) only with free ones.
    expected = set()
    by_key = defaultdict(list)
    for row in rows:
        by_key[(row[2], row[3], row[4], row[5])].append(row)
    for group in by_key.values():
        for a in group:
            for b in group:
                same_region = a[6] == b[6] or "default" in (a[6], b[6])
                comparable = a[8] == b[8]
                overlap = (b[11] is None or a[10] < b[11]) and (a[11] is None or b[10] < a[11])
                alike = (a[7] == 0 or a[12].endswith(":free")) == (b[7] == 0 or b[12].endswith(":free"))
                if a[0] < b[0] and same_region and comparable and overlap and alike and a[7] != b[7]:
                    expected.add((a[0], b[0], a[2], a[3], a[4], a[5], a[7], b[7]))
    got = query(
        loaded,
        "SELECT source_a, source_b, provider, model_key, metric, tier, price_a, price_b FROM price_disagreements",
    )
    assert set(got) == expected
    assert len(got) > 0
    untraceable = query(
        loaded,
        "SELECT count(*) FROM price_disagreements d WHERE NOT EXISTS "
        "(SELECT 1 FROM raw_documents r WHERE r.sha256 = d.raw_sha256_a) OR NOT EXISTS "
        "(SELECT 1 FROM raw_documents r WHERE r.sha256 = d.raw_sha256_b)",
    )
    assert untraceable == [(0,)]


def test_source_agreement_gives_each_aggregators_share(loaded: Settings) -> None:
    shares = query(
        loaded, "SELECT source, provider, official_prices_compared, matching, share_matching FROM source_agreement"
    )
    sources = {row[0] for row in shares}
    assert {"openrouter", "litellm"} <= sources
    for _source, _provider, compared, matching, share in shares:
        assert 0 <= matching <= compared and compared > 0
        assert float(share) == pytest.approx(matching / compared, abs=1e-4)
    print("\n".join(f"{s:12} {p:12} {c:4} {m:4} {float(sh):.1%}" for s, p, c, m, sh in shares))


def _name(model_id: str) -> str:
    """A loose spelling-insensitive name, written independently of extractors.identity."""
    name = model_id.lower().rsplit("/", 1)[-1].split("@")[0]
    name = name if name.startswith("ft:") else name.split(":")[0]
    name = re.sub(r"^(us|eu|apac|global|jp|au)\.", "", name)
    name = re.sub(r"^(anthropic|openai|meta|deepseek|google)\.", "", name)
    name = re.sub(r"-v\d+$", "", name)
    # compact dates (Anthropic's ids) name the same model as the page's undated name; OpenAI's dashed snapshot
    # dates name snapshots its page lists separately, at their own prices
    name = re.sub(r"-(20\d{6}|latest)$", "", name)
    return re.sub(r"[^a-z0-9]", "", name)


def test_identity_covers_the_aggregator_models_that_official_pages_list(loaded: Settings) -> None:
    official: dict[str, set[str]] = defaultdict(set)
    for pid, key in query(
        loaded, "SELECT DISTINCT provider_model_id, model_key FROM priced_offers WHERE source_kind = 'official'"
    ):
        official[_name(pid)].add(key)
    candidates = []
    for model in json.loads(openrouter_body(real(OPENROUTER)))["data"]:
        if "text" in model["architecture"]["output_modalities"]:
            candidates.append(("openrouter", model["id"]))
    for key, entry in json.loads(real(LITELLM).read_bytes()).items():
        if isinstance(entry, dict) and entry.get("mode") in ("chat", "completion", "responses"):
            candidates.append(("litellm", key))
    keys = dict(
        query(
            loaded,
            "SELECT DISTINCT provider_model_id, model_key FROM priced_offers WHERE source IN ('openrouter', 'litellm')",
        )
    )
    on_official = [(s, pid) for s, pid in candidates if _name(pid) in official and pid in keys]
    wrong = [
        (s, pid, keys[pid], official[_name(pid)]) for s, pid in on_official if keys[pid] not in official[_name(pid)]
    ]
    coverage = 1 - len(wrong) / len(on_official)
    print(f"\nidentity coverage: {len(on_official) - len(wrong)}/{len(on_official)} = {coverage:.1%}")
    assert len(on_official) > 50
    print("\n".join(map(str, wrong)))
    assert coverage >= 0.95, wrong[:20]


def test_gemini_dated_prices_land_with_their_stated_dates(loaded: Settings) -> None:
    dated = query(
        loaded,
        "SELECT provider_model_id, usd_per_mtok, valid_from, valid_to FROM price_history WHERE source = 'google' "
        "AND metric = 'input' AND tier = 'standard' AND (valid_to = TIMESTAMPTZ '2027-01-01 00:00:00+00' "
        "OR valid_from = TIMESTAMPTZ '2027-01-01 00:00:00+00') ORDER BY provider_model_id, valid_from",
    )
    assert ("gemini-3.8-flash", Decimal("0.75"), ts("2026-09-04T00:00"), ts("2027-01-01T00:00")) in dated
    assert ("gemini-3.8-flash", Decimal("1.5"), ts("2027-01-01T00:00"), None) in dated
    price_at = (
        "SELECT usd_per_mtok FROM prices_as_of(TIMESTAMPTZ '{}') WHERE source = 'google' "
        "AND provider_model_id = 'gemini-3.8-flash' AND metric = 'input' AND tier = 'standard'"
    )
    assert query(loaded, price_at.format("2026-12-31 12:00:00+00")) == [(Decimal("0.75"),)]
    assert query(loaded, price_at.format("2027-01-02 00:00:00+00")) == [(Decimal("1.5"),)]
    # current_prices is prices_as_of(now): the 2026 price until the stated date, the 2027 one after it
    now = query(
        loaded,
        "SELECT usd_per_mtok FROM current_prices WHERE source = 'google' "
        "AND provider_model_id = 'gemini-3.8-flash' AND metric = 'input' AND tier = 'standard'",
    )
    today = query(loaded, "SELECT current_timestamp < TIMESTAMPTZ '2027-01-01 00:00:00+00'")[0][0]
    assert now == [(Decimal("0.75"),)] if today else [(Decimal("1.5"),)]


def test_open_vs_closed_compares_cheapest_offers_per_class(loaded: Settings) -> None:
    rows = query(
        loaded,
        "SELECT day, class, open_model, open_blended, closed_model, closed_blended, "
        "closed_to_open_ratio FROM open_vs_closed WHERE day = DATE '2026-09-05'",
    )
    assert rows, "a day with prices from every source has open and closed offers to compare"
    for _day, _cls, open_model, open_blended, closed_model, closed_blended, ratio in rows:
        assert open_blended > 0 and closed_blended > 0
        assert float(ratio) == pytest.approx(float(closed_blended) / float(open_blended), rel=0.01)
        flags = dict(
            query(
                loaded,
                "SELECT model_key, open_weights FROM models WHERE model_key IN (?, ?)",
                [open_model, closed_model],
            )
        )
        assert flags == {open_model: True, closed_model: False}


def test_open_models_get_their_hugging_face_repo_from_openrouter(loaded: Settings) -> None:
    stated = {
        m["id"]: m["hugging_face_id"]
        for m in json.loads(openrouter_body(real(OPENROUTER)))["data"]
        if m.get("hugging_face_id")
    }
    assert len(stated) > 20
    got = dict(
        query(
            loaded,
            "SELECT provider_model_id, hf_repo FROM model_identities "
            "WHERE provider = 'openrouter' AND hf_repo IS NOT NULL",
        )
    )
    assert {pid: repo for pid, repo in got.items() if pid in stated} == stated
    uncatalogued = query(loaded, "SELECT count(*) FROM models WHERE NOT catalogued AND hf_repo IS NOT NULL")
    assert uncatalogued[0][0] > 10
