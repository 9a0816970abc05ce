"""Provider slugs and model keys: how provider model ids are named across sources."""

from __future__ import annotations

import re

# LiteLLM's litellm_provider values whose provider slug differs from the plain value.
LITELLM_PROVIDERS = {
    "bedrock": "aws-bedrock",
    "bedrock_converse": "aws-bedrock",
    "bedrock_mantle": "aws-bedrock",
    "sagemaker": "aws-sagemaker",
    "gemini": "google",
    "palm": "google",
    "together_ai": "together",
    "fireworks_ai": "fireworks",
    "azure_text": "azure",
    "azure_ai": "azure-ai-foundry",
    "text-completion-openai": "openai",
    "text-completion-codestral": "mistral",
    "codestral": "mistral",
    "cohere_chat": "cohere",
    "text-completion-inception": "inception",
    "meta_llama": "meta",
}
AWS_REGION = re.compile(r"^(us|eu|ap|ca|sa|me|af|il|mx|cn)(-gov)?-[a-z]+-\d$")
# Bedrock model ids name their vendor first: "meta.llama3-8b-instruct-v1:0".
BEDROCK_VENDOR = re.compile(r"^(?:(?:us|eu|apac|global|jp|au)\.)?([a-z0-9-]+)\.(.+)$")


def litellm_provider_slug(litellm_provider: str) -> str:
    """Map a LiteLLM litellm_provider value to llmflation's provider slug."""
    if litellm_provider.startswith("vertex_ai"):
        return "google-vertex"
    if litellm_provider.startswith("fireworks_ai"):
        return "fireworks"
    return LITELLM_PROVIDERS.get(litellm_provider, litellm_provider.replace("_", "-").lower())


def model_key(provider: str, model_id: str) -> str:
    """The canonical `org/name` key of a provider model id; an id we cannot map keeps its own name."""
    name = model_id.strip().lower()
    if "/" in name:
        org, _, rest = name.rpartition("/")
        org = org.rsplit("/", 1)[-1]
        return f"{org}/{rest}"
    if provider.startswith("aws-"):
        match = BEDROCK_VENDOR.match(name)
        if match:
            return f"{match.group(1)}/{match.group(2)}"
    return f"{provider}/{name}"


def strip_variant(model_id: str) -> str:
    """Drop an OpenRouter routing variant such as ':free' or ':nitro' from a model id."""
    return model_id.split(":", 1)[0] if "/" in model_id else model_id
