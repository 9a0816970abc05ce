"""Together AI's model list API: one JSON item per model with `pricing` in USD per 1M tokens.

Format learned from the API reference https://docs.together.ai/reference/models (GET /v1/models returns a
JSON array of {id, object, created, type, display_name, organization, link, license, context_length,
pricing: {hourly, input, output, base, finetune}}) and from client types in public code (e.g. a TypeScript
`Together.ModelPricing {hourly, input, output, base, finetune}`). The endpoint needs an API key
(`Authorization: Bearer ...`): the setting `api_key` (LLMFLATION_TOGETHER_API_KEY), handed to fetch(). The
public https://www.together.ai/pricing page was not used: no documented shape for it was found. No real capture
has been tested yet: EXPERIMENTAL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmflation.extractors.base import ParseResult, Payload
from llmflation.extractors.sources import _model_list

if TYPE_CHECKING:
    import requests

NAME = "together"
URL = "https://api.together.xyz/v1/models"
DESCRIPTION = "Together AI model list API: serverless input/output USD per 1M tokens per model (needs a key)"
PROVIDER = "together"
KIND = "official"
# Why the source is experimental (a stable one says False), as `llmflation sources` shows it.
EXPERIMENTAL = (
    "no real capture of the API (which needs an API key) exists to test it against; kept because it gives"
    " Together's own prices, which take the place of the feeds' claims about Together (genai-prices, "
    "LiteLLM and models.dev price it)"
)

# Settings this source reads, as LLMFLATION_TOGETHER_<KEY>, handed to fetch() by name.
SETTINGS = {"api_key": "a Together API key, sent as Authorization: Bearer (a secret: never logged or stored)"}

# pricing field -> metric; values are USD per 1M tokens.
FIELDS = {"input": "input", "output": "output"}
# Documented fields that are not per-token serving prices.
NOT_TOKEN = {
    "hourly": "hourly: dedicated endpoint price, not per token",
    "base": "base: non-token base price",
    "finetune": "finetune: fine-tuning price, not serving",
}


def fetch(session: requests.Session, url: str, *, timeout: float, api_key: str | None = None) -> list[Payload]:
    """GET the model list with the API key; without one nothing is asked (the API would answer 401)."""
    from llmflation.extractors import http
    from llmflation.extractors.errors import FetchError

    if not api_key:
        raise FetchError(NAME, url, "the API needs a key: set LLMFLATION_TOGETHER_API_KEY")
    return [http.fetch(session, NAME, url, timeout=timeout, headers={"Authorization": f"Bearer {api_key}"})]


def parse(payload: Payload) -> ParseResult:
    """Parse the body of GET /v1/models: a JSON array (or an OpenAI-style {"data": [...]})."""
    return _model_list.parse_prices(
        NAME,
        payload,
        provider=PROVIDER,
        fields=FIELDS,
        pricing_of=lambda model: model.get("pricing"),
        no_pricing="model without a pricing object",
        zero_reason="zero: free or not priced per token",
        not_token=NOT_TOKEN,
        bare_list=True,
    )
