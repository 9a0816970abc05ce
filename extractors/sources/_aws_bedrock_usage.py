"""How a Bedrock SKU names its metric and tier (usage type, attributes) and the scale of its token unit."""

from __future__ import annotations

import re
from typing import Any

# Marketplace usage types: "USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units" -> counter + qualifiers.
USAGE = re.compile(r"[:_-]([A-Za-z0-9]*TokenCount)((?:_[A-Za-z0-9]+)*)(?:-Units)?$")
COUNTERS = {
    "InputTokenCount": ("input", ""),
    "OutputTokenCount": ("output", ""),
    "CacheReadInputTokenCount": ("cached_input", ""),
    "CacheWriteInputTokenCount": ("cache_write", ""),
    "CacheWrite1hInputTokenCount": ("cache_write", "1h"),
}
SERVICES = {"standard": "", "flex": "flex", "priority": "priority", "batch": "batch"}
BATCH = {"input": "batch_input", "output": "batch_output"}
# AmazonBedrock usage types end in "...-input-tokens[-<qualifier>]"; these qualifiers are understood.
NATIVE_QUALIFIERS = {"standard", "flex", "priority", "batch", "global"}
SCALES = (
    (re.compile(r"\b(?:1\s?k|1,000|thousand)\b", re.I), "1k_tokens"),
    (re.compile(r"\b(?:1\s?m|1,000,000|million)\b", re.I), "mtok"),
    (re.compile(r"^\s*tokens?\s*$|\bper\s+token\b", re.I), "token"),
)


class Skip(Exception):
    """A SKU deliberately not turned into a row; the message is the reason."""


class Reject(Exception):
    """A malformed SKU; the message is the reason."""


def token_scale(usage: str, unit: str, description: str) -> str:
    """'1K tokens' -> '1k_tokens', 'Million Input Tokens' -> 'mtok': the unit and description must agree."""
    scales = {scale for text in (unit, description) for pattern, scale in SCALES if pattern.search(text)}
    if len(scales) != 1:
        raise Reject(f"{usage}: unit {unit!r} and description {description!r} state {len(scales)} token scales")
    return scales.pop()


def classify(attrs: dict[str, Any], usage: str, description: str) -> tuple[str, str, str, str]:
    """(metric, endpoint, service, cache) of a token SKU; batch input/output become batch_* metrics."""
    metric, endpoint, service, cache = _marketplace(usage, description) if "MP:" in usage else _native(attrs, usage)
    if service == "batch" and metric in BATCH:
        metric, service = BATCH[metric], ""
    return metric, endpoint, service, cache


def _marketplace(usage: str, description: str) -> tuple[str, str, str, str]:
    """'USE1-MP:USE1_InputTokenCount_Global_Batch-Units' -> ('input', 'global', 'batch', '')."""
    match = USAGE.search(usage)
    if not match or match.group(1) not in COUNTERS:
        raise Skip(f"unknown token usage type {match.group(1) if match else usage}")
    metric, cache = COUNTERS[match.group(1)]
    endpoint, service = "", ""
    for qualifier in filter(None, match.group(2).lower().split("_")):
        if qualifier in ("global", "regional"):
            endpoint = qualifier
        elif qualifier in SERVICES:
            service = SERVICES[qualifier]
        else:
            raise Skip(f"unknown usage type qualifier {qualifier}")
    if not endpoint and re.search(r"\bregional\b", description, re.I):
        endpoint = "regional"  # "Million Input Tokens Regional CRIS": in-geography cross-region inference
    return metric, endpoint, service, cache


def _native(attrs: dict[str, Any], usage: str) -> tuple[str, str, str, str]:
    """AmazonBedrock SKUs: inferenceType 'Input tokens flex', feature 'Batch Inference', service_tier 'priority'."""
    feature = str(attrs.get("feature") or "").lower()
    if feature and "on-demand" not in feature and "batch" not in feature:
        raise Skip(f"not on-demand inference ({attrs['feature']})")
    words = set(re.findall(r"[a-z0-9]+", str(attrs.get("inferenceType") or usage).lower()))
    if "cache" in words:
        metric = "cached_input" if "read" in words else "cache_write" if "write" in words else ""
    else:
        metric = "input" if "input" in words else "output" if "output" in words else ""
    if not metric:
        raise Skip(f"unknown token usage {attrs.get('inferenceType') or usage}")
    _, tokens, suffix = usage.lower().rpartition("tokens")
    qualifiers = set(filter(None, suffix.split("-"))) if tokens else set()
    if qualifiers - NATIVE_QUALIFIERS:
        raise Skip(f"unknown usage type qualifier {'-'.join(sorted(qualifiers - NATIVE_QUALIFIERS))}")
    service = str(attrs.get("service_tier") or "").lower()
    if not service:
        named = [w for w in ("batch", "flex", "priority") if w in words | qualifiers]
        service = "batch" if "batch" in feature else named[0] if named else "standard"
    if service not in SERVICES:
        raise Skip(f"unknown service tier {service}")
    return metric, "global" if "global" in qualifiers else "", SERVICES[service], ""
