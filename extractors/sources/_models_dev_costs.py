"""models.dev cost objects: flat prices, context tiers and the older `context_over_200k`, as (metric, tier, amount)."""

from __future__ import annotations

import re
from typing import Any

from llmflation.extractors.base import ParseResult, token_count_label

# cost field -> metric; all USD per 1M tokens.
COSTS = {
    "input": "input",
    "output": "output",
    "cache_read": "cached_input",
    "cache_write": "cache_write",
    "reasoning": "reasoning_output",
    "input_audio": "audio_input",
    "output_audio": "audio_output",
}
CONTEXT_OVER = re.compile(r"^context_over_(\d+)([km]?)$")
ZERO = "zero (models.dev writes 0 for free, subscription, local and unknown prices)"


def prices(item: str, cost: Any, result: ParseResult) -> list[tuple[str, str, Any]]:
    """(metric, context label, amount) of every price a model's cost object states."""
    if cost is None:
        result.skipped["model without cost"] += 1
        return []
    if not isinstance(cost, dict):
        result.rejects.append((item, f"cost is not an object: {cost!r}"[:200]))
        return []
    if not cost:
        result.skipped["model with an empty cost object"] += 1
    found: list[tuple[str, str, Any]] = []
    tiers = cost.get("tiers")
    for field_name, value in cost.items():
        over = CONTEXT_OVER.match(field_name)
        if field_name in COSTS:
            found += _amounts(item, {field_name: value}, "", result)
        elif field_name == "tiers":
            found += _tiers(item, value, result)
        elif over and isinstance(value, dict):
            if value and _restated(value, tiers):
                result.skipped[f"{field_name} restated by tiers"] += len(value)
                continue
            scale = {"k": 1000, "m": 1_000_000, "": 1}[over.group(2)]
            found += _amounts(item, value, f">{token_count_label(int(over.group(1)) * scale)}", result)
        else:
            result.skipped[f"unknown cost field {field_name}"] += 1
    return found


def _tiers(item: str, tiers: Any, result: ParseResult) -> list[tuple[str, str, Any]]:
    if not isinstance(tiers, list):
        result.rejects.append((item, f"tiers is not a list: {tiers!r}"[:200]))
        return []
    found: list[tuple[str, str, Any]] = []
    for entry in tiers:
        condition = entry.get("tier") if isinstance(entry, dict) else None
        kind = condition.get("type") if isinstance(condition, dict) else None
        size = condition.get("size") if isinstance(condition, dict) else None
        if kind is not None and kind != "context" and isinstance(entry, dict):
            result.skipped[f"tier of type {kind}"] += max(len(entry) - 1, 1)
        elif kind != "context" or not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            result.rejects.append((item, f"tier not understood: {entry!r}"[:200]))
        else:
            stated = {k: v for k, v in entry.items() if k != "tier"}
            found += _amounts(item, stated, f">{token_count_label(size)}", result)
    return found


def _amounts(item: str, stated: dict[str, Any], context: str, result: ParseResult) -> list[tuple[str, str, Any]]:
    found = []
    for field_name, value in stated.items():
        if field_name not in COSTS:
            result.skipped[f"unknown cost field {field_name}"] += 1
        elif value is None:
            result.skipped["null price"] += 1
        elif (amount := result.amount(item, field_name, value, zero_reason=ZERO)) is not None:
            found.append((COSTS[field_name], context, amount))
    return found


def _restated(stated: dict[str, Any], tiers: Any) -> bool:
    """True when some context tier states every one of these prices."""
    return isinstance(tiers, list) and any(
        isinstance(t, dict) and all(t.get(k) == v for k, v in stated.items()) for t in tiers
    )
