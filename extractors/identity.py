"""Model identity: provider slugs, and one canonical `org/name` key for every provider model id.

The rules turn the many spellings of one model into one key:
  openai/gpt-4o (OpenRouter), gpt-4o (OpenAI, LiteLLM), azure/gpt-4o (LiteLLM)         -> openai/gpt-4o
  claude-opus-4-1-20250805, anthropic.claude-opus-4-1-20250805-v1:0, claude-opus-4.1  -> anthropic/claude-opus-4.1
  gemini/gemini-2.0-flash-001, google/gemini-2.0-flash                                -> google/gemini-2.0-flash
An id the rules cannot place keeps its own name under its provider and is listed by `llmflation models --unmapped`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

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
# Hugging Face Inference Providers ids whose company llmflation already names otherwise (as LiteLLM's map and the
# official sources do); every other id (together, groq, novita, cerebras, sambanova, nebius, hyperbolic, nscale,
# featherless-ai, fal-ai ...) is already that slug.
HF_ROUTER_PROVIDERS = {
    "fireworks-ai": "fireworks",
    "zai-org": "zai",
    "hf-inference": "huggingface",
}
AWS_REGION = re.compile(r"^(us|eu|ap|ca|sa|me|af|il|mx|cn)(-gov)?-[a-z]+-\d$")
# Bedrock ids: optional cross-region prefix, vendor, name, optional version: "us.meta.llama3-8b-instruct-v1:0".
BEDROCK_ID = re.compile(
    r"^(?:(?:us|eu|apac|global|regional|jp|au|us-gov|ca)\.)?([a-z0-9-]+)\.(.+?)(?:-v\d+(?::\d+)?|-\d+:\d+|:\d+)?$"
)
# Model family prefix -> the org that publishes it (the canonical key's org).
FAMILY_ORGS = (
    ("claude", "anthropic"),
    ("gpt-oss", "openai"),
    ("gpt", "openai"),
    ("chatgpt", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("codex", "openai"),
    ("davinci", "openai"),
    ("babbage", "openai"),
    ("text-embedding", "openai"),
    ("dall-e", "openai"),
    ("whisper", "openai"),
    ("tts-1", "openai"),
    ("gemini", "google"),
    ("gemma", "google"),
    ("learnlm", "google"),
    ("imagen", "google"),
    ("veo", "google"),
    ("llama", "meta-llama"),
    ("meta-llama", "meta-llama"),
    ("mistral", "mistralai"),
    ("mixtral", "mistralai"),
    ("codestral", "mistralai"),
    ("ministral", "mistralai"),
    ("magistral", "mistralai"),
    ("devstral", "mistralai"),
    ("pixtral", "mistralai"),
    ("open-mistral", "mistralai"),
    ("qwen", "qwen"),
    ("qwq", "qwen"),
    ("deepseek", "deepseek"),
    ("grok", "x-ai"),
    ("command", "cohere"),
    ("nova", "amazon"),
    ("titan", "amazon"),
    ("phi", "microsoft"),
    ("kimi", "moonshotai"),
    ("glm", "z-ai"),
    ("minimax", "minimax"),
)
VENDOR_ORGS = {
    "meta": "meta-llama",
    "mistral": "mistralai",
    "amazon": "amazon",
    "anthropic": "anthropic",
    "cohere": "cohere",
    "ai21": "ai21",
    "deepseek": "deepseek",
    "openai": "openai",
    "qwen": "qwen",
    "google": "google",
    "moonshot": "moonshotai",
    "moonshotai": "moonshotai",
    "x-ai": "x-ai",
    "xai": "x-ai",
    "zai": "z-ai",
    "z-ai": "z-ai",
    "minimax": "minimax",
    "microsoft": "microsoft",
}
DATE_SUFFIX = re.compile(r"-(?:20\d{6}|20\d{2}-\d{2}-\d{2})$")


def litellm_provider_slug(litellm_provider: str) -> str:
    """Map a LiteLLM litellm_provider value to llmflation's provider slug."""
    if litellm_provider.startswith("vertex_ai"):
        return "google-vertex"
    if litellm_provider.startswith("fireworks_ai"):
        return "fireworks"
    return LITELLM_PROVIDERS.get(litellm_provider, litellm_provider.replace("_", "-").lower())


def hf_router_provider_slug(router_provider: str) -> str:
    """Map a Hugging Face Inference Providers id (the router's `provider`) to llmflation's provider slug."""
    name = router_provider.strip().lower()
    return HF_ROUTER_PROVIDERS.get(name, name.replace("_", "-"))


# Families whose weights are published; None where a family mixes open and closed models (the catalogue decides).
OPEN_FAMILIES: dict[str, bool | None] = {
    "llama": True,
    "gemma": True,
    "qwen": True,
    "deepseek": True,
    "phi": True,
    "gpt-oss": True,
    "mixtral": True,
    "glm": True,
    "kimi": True,
    "minimax": True,
    "gpt": False,
    "o-series": False,
    "claude": False,
    "gemini": False,
    "grok": False,
    "nova": False,
    "titan": False,
    "command": None,
    "mistral": None,
}


@dataclass(frozen=True)
class Identity:
    """Where a provider model id lands: its canonical key, family, whether its weights are open, and whether
    the rules placed it (False: it kept its own name under its provider)."""

    key: str
    family: str | None
    open_weights: bool | None
    mapped: bool


@lru_cache(maxsize=1 << 16)  # a price map names the same ids run after run
def identify(provider: str, model_id: str) -> Identity:
    """Canonical key, family and openness of a provider model id."""
    key = model_key(provider, model_id)
    org, _, name = key.partition("/")
    family = _family(name)
    placed = bool(family) or org in VENDOR_ORGS.values()
    return Identity(key, family, OPEN_FAMILIES.get(family) if family else None, placed)


def _family(name: str) -> str | None:
    for prefix, _ in FAMILY_ORGS:
        if _has_prefix(name, prefix):
            family = {
                "meta-llama": "llama",
                "open-mistral": "mistral",
                "codestral": "mistral",
                "ministral": "mistral",
                "magistral": "mistral",
                "devstral": "mistral",
                "pixtral": "mistral",
                "chatgpt": "gpt",
                "codex": "gpt",
                "davinci": "gpt",
                "babbage": "gpt",
                "qwq": "qwen",
                "o1": "o-series",
                "o3": "o-series",
                "o4": "o-series",
            }.get(prefix, prefix)
            return family if prefix not in ("text-embedding", "dall-e", "whisper", "tts-1") else prefix
    return None


@lru_cache(maxsize=1 << 16)
def model_key(provider: str, model_id: str) -> str:
    """The canonical `org/name` key of a provider model id; an id the rules cannot place keeps its own name."""
    raw = model_id.strip().lower()
    segments = [
        s
        for s in raw.split("/")
        if s and not AWS_REGION.match(s) and not s.endswith("-commitment") and s not in ("models", "routers")
    ]
    name = segments[-1] if segments else raw
    path_org = segments[-2] if len(segments) >= 2 else ""
    name = name.split("@", 1)[0]  # Vertex: claude-opus-4-1@20250805
    name = re.sub(r":[a-z][a-z-]*$", "", name)  # OpenRouter variants: :free, :extended, :thinking
    vendor = ""
    bedrock = BEDROCK_ID.match(name) if "." in name and not re.match(r"^[a-z-]+-\d", name.split(".")[0]) else None
    if bedrock and bedrock.group(1) in VENDOR_ORGS:
        vendor = bedrock.group(1)
        # "-v1:0" is an API revision for these vendors; for Amazon and Cohere, v2 names another model
        name = (
            bedrock.group(2)
            if vendor not in ("amazon", "cohere")
            else re.sub(r"^.*?\.|:\d+$", "", name[name.index(vendor + ".") :])
        )
        if vendor == "deepseek" and re.match(r"^(v|r)\d", name):
            name = f"deepseek-{name}"  # deepseek.v3.2 -> deepseek-v3.2
    org = _family_org(name) or VENDOR_ORGS.get(vendor) or VENDOR_ORGS.get(path_org, path_org) or provider
    if org == "anthropic":
        name = _anthropic_name(name)
    elif org == "openai":
        name = re.sub(r"^gpt-35\b", "gpt-3.5", name)  # Azure's spelling of gpt-3.5
    elif org == "google" and name.startswith("gemini"):
        name = re.sub(r"-0\d\d$", "", name)  # gemini-2.0-flash-001 is gemini-2.0-flash
    return f"{org}/{name}"


def strip_variant(model_id: str) -> str:
    """Drop an OpenRouter routing variant such as ':free' or ':nitro' from a model id."""
    return model_id.split(":", 1)[0] if "/" in model_id else model_id


def _family_org(name: str) -> str:
    for prefix, org in FAMILY_ORGS:
        if _has_prefix(name, prefix):
            return org
    return ""


def _has_prefix(name: str, prefix: str) -> bool:
    return (
        name == prefix
        or name.startswith((prefix + "-", prefix + "."))
        or (prefix in ("o1", "o3", "o4", "qwen", "llama", "phi", "glm", "grok", "gpt") and name.startswith(prefix))
    )


def _anthropic_name(name: str) -> str:
    """claude-3-5-sonnet-20240620 -> claude-3.5-sonnet; claude-opus-4-1 -> claude-opus-4.1."""
    name = re.sub(r"-v\d+(?::\d+)?$", "", name)  # Bedrock revision on an id without its vendor prefix
    name = DATE_SUFFIX.sub("", name).removesuffix("-latest")
    return re.sub(r"(?<=\d)-(?=\d(?:-|$))", ".", name)
