"""One model identity across sources."""

from __future__ import annotations

import pytest

from extractors.identity import identify, model_key


@pytest.mark.parametrize(
    ("provider", "model_id", "key"),
    [
        ("openrouter", "openai/gpt-4o", "openai/gpt-4o"),
        ("openai", "gpt-4o", "openai/gpt-4o"),
        ("azure", "azure/gpt-4o", "openai/gpt-4o"),
        ("openai", "gpt-4o-2024-05-13", "openai/gpt-4o-2024-05-13"),  # OpenAI snapshots keep their date
        ("anthropic", "claude-opus-4-1-20250805", "anthropic/claude-opus-4.1"),
        ("aws-bedrock", "anthropic.claude-opus-4-1-20250805-v1:0", "anthropic/claude-opus-4.1"),
        ("aws-bedrock", "us.anthropic.claude-3-5-sonnet-20241022-v2:0", "anthropic/claude-3.5-sonnet"),
        ("anthropic", "claude-opus-4.1", "anthropic/claude-opus-4.1"),
        ("anthropic", "claude-3-5-sonnet-latest", "anthropic/claude-3.5-sonnet"),
        ("anthropic", "claude-3-haiku-20240307", "anthropic/claude-3-haiku"),
        ("google-vertex", "vertex_ai/claude-opus-4-1@20250805", "anthropic/claude-opus-4.1"),
        ("google", "gemini/gemini-2.0-flash-001", "google/gemini-2.0-flash"),
        ("openrouter", "google/gemini-2.5-pro-preview-05-06", "google/gemini-2.5-pro-preview-05-06"),
        ("aws-bedrock", "bedrock/us-east-1/meta.llama3-8b-instruct-v1:0", "meta-llama/llama3-8b-instruct"),
        ("openrouter", "meta-llama/llama-3-8b-instruct:free", "meta-llama/llama-3-8b-instruct"),
        ("aws-bedrock", "openai.gpt-oss-120b-1:0", "openai/gpt-oss-120b"),
        ("aws-bedrock", "amazon.titan-embed-text-v2:0", "amazon/titan-embed-text-v2"),  # v2 is another model
        ("aws-bedrock", "deepseek.v3.2", "deepseek/deepseek-v3.2"),
        ("aws-bedrock", "regional.anthropic.claude-opus-4-5-v1:0", "anthropic/claude-opus-4.5"),
        ("deepseek", "deepseek-v4-flash", "deepseek/deepseek-v4-flash"),
        ("openrouter", "x-ai/grok-4", "x-ai/grok-4"),
        ("openrouter", "openrouter/auto", "openrouter/auto"),
    ],
)
def test_model_key(provider: str, model_id: str, key: str) -> None:
    assert model_key(provider, model_id) == key


def test_identify_family_openness_and_unmapped() -> None:
    assert identify("openrouter", "meta-llama/llama-3-8b-instruct") == identify(
        "openrouter", "meta-llama/llama-3-8b-instruct"
    )
    llama = identify("openrouter", "meta-llama/llama-3-8b-instruct")
    assert (llama.family, llama.open_weights, llama.mapped) == ("llama", True, True)
    gpt = identify("openai", "gpt-4o")
    assert (gpt.family, gpt.open_weights, gpt.mapped) == ("gpt", False, True)
    unknown = identify("openrouter", "bytedance-seed/seed-1.6-flash")
    assert (unknown.key, unknown.family, unknown.mapped) == ("bytedance-seed/seed-1.6-flash", None, False)
