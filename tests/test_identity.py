"""One model identity across sources."""

from __future__ import annotations

import pytest

from llmflation.extractors.identity import hf_router_provider_slug, identify, litellm_provider_slug, model_key


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
        # Hub repo ids, as the Hugging Face router names models: the same keys as OpenRouter's ids
        ("together", "moonshotai/Kimi-K3", "moonshotai/kimi-k3"),
        ("openrouter", "moonshotai/kimi-k3", "moonshotai/kimi-k3"),
        ("fireworks", "zai-org/GLM-5.2", "z-ai/glm-5.2"),
        ("openrouter", "z-ai/glm-5.2", "z-ai/glm-5.2"),
        ("together", "thinkingmachines/Inkling", "thinkingmachines/inkling"),
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


@pytest.mark.parametrize(
    ("router_provider", "litellm_provider"),
    [
        ("together", "together_ai"),
        ("fireworks-ai", "fireworks_ai"),
        ("groq", "groq"),
        ("cerebras", "cerebras"),
        ("sambanova", "sambanova"),
        ("nebius", "nebius"),
        ("novita", "novita"),
        ("hyperbolic", "hyperbolic"),
        ("featherless-ai", "featherless_ai"),
        ("nscale", "nscale"),
        ("ovhcloud", "ovhcloud"),
        ("scaleway", "scaleway"),
        ("publicai", "publicai"),
        ("fal-ai", "fal_ai"),
        ("replicate", "replicate"),
        ("cohere", "cohere"),
        ("zai-org", "zai"),
    ],
)
def test_hugging_face_router_providers_get_the_slugs_litellm_gives_the_same_companies(
    router_provider: str, litellm_provider: str
) -> None:
    assert hf_router_provider_slug(router_provider) == litellm_provider_slug(litellm_provider)


def test_hugging_face_own_inference_and_unknown_router_providers() -> None:
    assert hf_router_provider_slug("hf-inference") == "huggingface"
    assert hf_router_provider_slug("Some_New_Host") == "some-new-host"  # keeps its own name
