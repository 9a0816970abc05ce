"""The experimental open-model hosts (groq, together, mistral, fireworks, deepinfra) on our own fixtures.

No real capture of these hosts' pages exists here; the fixtures are written in the documented shape, so these
tests pin the parsers' reading of that shape, not the live pages.
"""

from __future__ import annotations

from decimal import Decimal
from types import ModuleType

import pytest

from llmflation.extractors.errors import ParseError
from llmflation.extractors.sources import deepinfra, fireworks, groq, mistral, together
from llmflation.warehouse.models import validate_rows
from tests.helpers import OWN_FIXTURES, payload

HOSTS = [groq, together, mistral, fireworks, deepinfra]
FIXTURES = {
    "groq": "pricing_tables.html",
    "together": "model_list.json",
    "mistral": "inference_pricing.html",
    "fireworks": "serverless_pricing.md",
    "deepinfra": "openai_models.json",
}
# (source, provider_model_id, metric, tier) -> USD per 1M tokens, read by hand from each fixture.
PINNED = {
    ("groq", "llama-3.3-70b-versatile", "input", "standard"): "0.59",
    ("groq", "openai/gpt-oss-20b", "input", "standard"): "0.075",
    ("groq", "openai/gpt-oss-120b", "cached_input", "standard"): "0.075",
    ("groq", "llama-4-scout-(17bx16e)", "output", "standard"): "0.34",
    ("together", "deepseek-ai/DeepSeek-V3.1", "output", "standard"): "1.7",
    ("together", "Qwen/Qwen2.5-7B-Instruct-Turbo", "input", "standard"): "0.3",
    ("together", "BAAI/bge-large-en-v1.5", "input", "standard"): "0.02",
    ("mistral", "mistral-medium-3.5", "output", "standard"): "7.5",
    ("mistral", "mistral-large-3", "input", "standard"): "0.5",
    ("mistral", "z.ai-glm-5.2", "cached_input", "standard"): "0.14",
    ("fireworks", "accounts/fireworks/models/kimi-k2p6", "cached_input", "standard"): "0.16",
    ("fireworks", "accounts/fireworks/models/kimi-k2p6", "output", "priority"): "8",
    ("fireworks", "4b---16b-parameters", "output", "standard"): "0.2",
    ("fireworks", "up-to-150m", "input", "standard"): "0.008",
    ("deepinfra", "deepseek-ai/DeepSeek-V3.2", "cached_input", "standard"): "0.216",
    ("deepinfra", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "output", "standard"): "0.32",
}
# Payloads of the right media type that lack the structure each parser keys on.
WITHOUT_STRUCTURE = {
    "groq": "<html><body><h4>Large Language Models</h4><p>GPT OSS 20B $0.075 $0.30</p></body></html>",
    "together": '{"error": {"message": "Invalid API key provided", "type": "invalid_request_error"}}',
    "mistral": "<table><tr><th>Model</th><th>Input</th><th>Output</th></tr><tr><td>A</td><td>$1</td><td>$2</td></tr>"
    "</table>",
    "fireworks": "Prices below are per 1 million tokens in US dollars.\n\n* Kimi K2.6: $0.95 in, $4.00 out\n",
    "deepinfra": '{"object": "list", "models": [{"id": "a/b", "metadata": {"pricing": {"input_tokens": 1}}}]}',
}


def _parse(module: ModuleType) -> dict[tuple[str, str, str], Decimal]:
    content = (OWN_FIXTURES / module.NAME / FIXTURES[module.NAME]).read_bytes()
    result = module.parse(payload(module.NAME, content))
    rows, rejects = validate_rows(result.rows)
    assert not [r for r in rejects if "conflicting" in r[1]]
    assert {r.provider for r in rows} == {module.NAME}
    return {(r.provider_model_id, r.metric, r.tier): r.amount for r in rows}


@pytest.mark.parametrize("module", HOSTS, ids=lambda m: m.NAME)
def test_module_is_an_experimental_official_source(module: ModuleType) -> None:
    assert module.EXPERIMENTAL.startswith("no real capture of ")  # the reason `llmflation sources` gives
    assert module.KIND == "official"
    assert module.__name__.rsplit(".", 1)[1] == module.NAME
    assert module.URL.startswith("https://")
    assert "No real capture has been tested yet" in " ".join((module.__doc__ or "").split())


@pytest.mark.parametrize(("source", "model", "metric", "tier"), sorted(PINNED), ids=lambda v: str(v))
def test_fixture_pins(source: str, model: str, metric: str, tier: str) -> None:
    module = {m.NAME: m for m in HOSTS}[source]
    assert _parse(module)[(model, metric, tier)] == Decimal(PINNED[(source, model, metric, tier)])


@pytest.mark.parametrize("module", HOSTS, ids=lambda m: m.NAME)
def test_payload_without_the_structure_raises(module: ModuleType) -> None:
    with pytest.raises(ParseError) as error:
        module.parse(payload(module.NAME, WITHOUT_STRUCTURE[module.NAME]))
    assert error.value.source == module.NAME


@pytest.mark.parametrize("module", HOSTS, ids=lambda m: m.NAME)
def test_empty_payload_raises(module: ModuleType) -> None:
    with pytest.raises(ParseError):
        module.parse(payload(module.NAME, b""))


def test_free_and_unpriced_models_are_skipped_not_priced() -> None:
    groq_rows = _parse(groq)
    assert not any(key[0] in ("allam-2-7b", "qwen3-next-80b") for key in groq_rows)
    together_rows = _parse(together)
    assert not any(key[0].endswith("-Free") for key in together_rows)
    fireworks_rows = _parse(fireworks)
    assert ("accounts/fireworks/models/kimi-k2p6-turbo", "input", "priority") not in fireworks_rows
    assert not any(key[0] == "accounts/fireworks/models/glm-5" for key in fireworks_rows)


def test_mistral_reads_the_sale_price_and_ignores_unit_priced_sections() -> None:
    rows = _parse(mistral)
    assert rows[("mistral-large-3", "output", "standard")] == Decimal("1.5")  # list price $6 struck through
    assert not any(key[0].startswith(("ocr", "voxtral")) for key in rows)


def test_mistral_table_without_a_header_row_uses_the_documented_column_order() -> None:
    html = (
        "<h2>Flagship models</h2><p>Prices /M Tokens</p><table>"
        '<tr><td><a href="/models/mistral-large-3-25-12">Mistral Large 3</a></td>'
        "<td>$0.5</td><td>$0.05</td><td>$1.5</td></tr></table>"
    )
    rows = {(r["metric"], r["amount"]) for r in mistral.parse(payload("mistral", html)).rows}
    assert rows == {("input", Decimal("0.5")), ("cached_input", Decimal("0.05")), ("output", Decimal("1.5"))}
