"""`llmflation cost`: what a month of a workload costs at every offer in force (warehouse/views/64_workload_prices.sql),
for token amounts given on the command line or as a named profile ([workloads.NAME] in llmflation.toml, or one of
the built-in ones below)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

SCALE = {"": Decimal("1e-6"), "k": Decimal("1e-3"), "m": Decimal(1), "b": Decimal(1000)}  # to millions of tokens
AMOUNT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmb]?)\s*$", re.IGNORECASE)


class WorkloadError(ValueError):
    """A workload that cannot be priced as given; the message says why, in one line."""


def mtok(text: str | int | float | Decimal) -> Decimal:
    """Millions of tokens in a token amount: a count (`2000000`) or a count with k, M or B (`200k`, `50M`, `1.5B`)."""
    if isinstance(text, bool):
        raise WorkloadError(f"{text!r} is not a token amount (for example 50M, 200k or 2000000)")
    if isinstance(text, int | float | Decimal):
        text = str(text)
    found = AMOUNT.match(text)
    if not found:
        raise WorkloadError(f"{text!r} is not a token amount (for example 50M, 200k or 2000000)")
    try:
        return Decimal(found[1]) * SCALE[found[2].lower()]
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
        raise WorkloadError(f"{text!r} is not a token amount") from None


def _amount(value: Any) -> Decimal:
    try:
        return mtok(value)
    except WorkloadError as exc:
        raise ValueError(str(exc)) from None


Tokens = Annotated[Decimal, BeforeValidator(_amount)]


class Workload(BaseModel):
    """A month of tokens: input counts every prompt token, cache reads (cached) and cache writes included; the
    shares say how much goes through the batch API and how much in long-context requests."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: Tokens
    output: Tokens
    cached: Tokens = Decimal(0)
    cache_write: Tokens = Decimal(0)
    batch_share: Annotated[Decimal, Field(ge=0, le=1, strict=False)] = Decimal(0)
    long_context_share: Annotated[Decimal, Field(ge=0, le=1, strict=False)] = Decimal(0)
    description: str = ""

    def check(self) -> Workload:
        if self.cached + self.cache_write > self.input:
            raise WorkloadError(
                f"cached ({_show(self.cached)}) and cache writes ({_show(self.cache_write)}) are part of the input "
                f"({_show(self.input)}), which is smaller"
            )
        if self.batch_share + self.long_context_share > 1:
            raise WorkloadError("batch and long-context shares together are more than 1")
        if self.input + self.output == 0:
            raise WorkloadError("the workload has no tokens: give --input and --output")
        return self


# Built-in profiles; [workloads.NAME] in llmflation.toml adds profiles or replaces these.
PROFILES: dict[str, dict[str, Any]] = {
    "chat": {
        "description": "an assistant: long conversations, a third of the prompt re-read from cache",
        "input": "30M",
        "output": "10M",
        "cached": "10M",
    },
    "rag": {
        "description": "retrieval-augmented answers: big prompts over a cached corpus, short answers",
        "input": "100M",
        "output": "5M",
        "cached": "70M",
        "cache_write": "5M",
    },
    "batch-summaries": {
        "description": "nightly summaries of documents through the batch API",
        "input": "200M",
        "output": "20M",
        "batch_share": 1,
    },
}


def sql(workload: Workload, model: str | None = None, open_weights: bool = False, limit: int = 20) -> str:
    """The query `cost` prints: the cheapest offer of each model at each seller, cheapest first."""
    where = []
    if model:
        pattern = _sql_text(model.replace("*", "%") if "*" in model else f"%{model}%")
        where.append(f"(model_key ILIKE {pattern} OR provider_model_id ILIKE {pattern})")
    if open_weights:
        where.append("open_weights")
    arguments = (
        f"{workload.input}, {workload.output}, cached_mtok := {workload.cached}, "
        f"cache_write_mtok := {workload.cache_write}, batch_share := {workload.batch_share}, "
        f"long_context_share := {workload.long_context_share}"
    )
    return (
        "SELECT model_key, provider, offered_by, price_from, monthly_usd, usd_per_mtok, "
        "array_to_string(assumed, '; ') AS assumed "
        f"FROM workload_prices({arguments}) "
        f"{'WHERE ' + ' AND '.join(where) if where else ''} "
        "QUALIFY row_number() OVER (PARTITION BY model_key, provider ORDER BY monthly_usd, offered_by) = 1 "
        f"ORDER BY monthly_usd, model_key, provider LIMIT {int(limit)}"
    )


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _show(value: Decimal) -> str:
    return f"{value.normalize():f}M"
