"""DeepInfra's OpenAI-compatible model list: `data[].metadata.pricing` in USD per 1M tokens.

Format learned from public clients of GET https://api.deepinfra.com/v1/openai/models (public, no key): the
RooCodeInc/Roo-Code DeepInfra fetcher's schema (`{data: [{id, object, owned_by, created, root, metadata:
{description, context_length, max_tokens, tags, pricing: {input_tokens, output_tokens, cache_read_tokens}}}]}`,
metadata may be null) and an integration note stating the values are USD per 1M tokens, pricing nested under
`metadata` (keyaos docs, verified 2026-02-20). The API base is documented at
https://deepinfra.com/docs/advanced/openai_api. No real capture has been tested yet: EXPERIMENTAL.
"""

from __future__ import annotations

from llmflation.extractors.base import ParseResult, Payload
from llmflation.extractors.sources import _model_list

NAME = "deepinfra"
URL = "https://api.deepinfra.com/v1/openai/models"
DESCRIPTION = "DeepInfra model list API: input, cached input and output USD per 1M tokens per model"
PROVIDER = "deepinfra"
KIND = "official"
# Why the source is experimental (a stable one says False), as `llmflation sources` shows it.
EXPERIMENTAL = (
    "no real capture of the API exists to test it against; kept because it gives DeepInfra's own prices, "
    "which take the place of the feeds' claims about DeepInfra (LiteLLM and models.dev price it)"
)

# metadata.pricing field -> metric; values are USD per 1M tokens.
FIELDS = {"input_tokens": "input", "output_tokens": "output", "cache_read_tokens": "cached_input"}


def parse(payload: Payload) -> ParseResult:
    """Parse the body of GET /v1/openai/models."""
    return _model_list.parse_prices(
        NAME,
        payload,
        provider=PROVIDER,
        fields=FIELDS,
        pricing_of=_pricing,
        no_pricing="model without metadata.pricing",
        zero_reason="zero: free or not charged separately",
    )


def _pricing(model: dict) -> object:
    metadata = model.get("metadata")  # may be null
    return metadata.get("pricing") if isinstance(metadata, dict) else None
