"""The full-Hub census's decoding of a GET /api/models page: four columns, strictly checked.

Kept apart from huggingface.py (which fetches with requests) so the census's stager processes import only what they
use: msgspec and the base payload types."""

from __future__ import annotations

from typing import Annotated

import msgspec

from llmflation.extractors.base import Payload, json_body
from llmflation.extractors.errors import ParseError

NAME = "huggingface"


def parse_counters(payload: Payload) -> tuple[list[tuple[str, int | None, int | None, int | None]], int]:
    """The census's view of a page: (repo_id, downloads_30d, downloads_all_time, likes) per model, and how many
    items were rejected (no "org/name" id, or a counter that is not a non-negative integer)."""
    body = json_body(NAME, payload)
    if not isinstance(body, list):
        detail = f"expected a JSON list of models, got {type(body).__name__}"
        raise ParseError(NAME, payload.url, detail, payload.content)
    rows = []
    rejected = 0
    for item in body:
        repo_id = item.get("id") if isinstance(item, dict) else None
        counters = [item.get(key) for key in ("downloads", "downloadsAllTime", "likes")] if repo_id else []
        if (
            not isinstance(repo_id, str)
            or "/" not in repo_id
            or any(v is not None and (type(v) is not int or v < 0) for v in counters)
        ):
            rejected += 1
            continue
        rows.append((repo_id, counters[0], counters[1], counters[2]))
    return rows, rejected


Count = Annotated[int, msgspec.Meta(ge=0)]


class CensusItem(msgspec.Struct, gc=False):
    """What the census keeps of a listed model; every counter required, a non-negative JSON integer. Holding only a
    string and integers, it can be in no reference cycle: the garbage collector need not track two million of them."""

    id: str
    downloads: Count
    downloadsAllTime: Count  # the Hub's field name
    likes: Count


_CENSUS_PAGE = msgspec.json.Decoder(list[CensusItem])


def census_columns(payload: Payload) -> tuple[tuple[list[str], list[int], list[int], list[int]], int]:
    """A census page as columns (repo_ids, downloads_30d, downloads_all_time, likes) and the number of rejected
    items. A page whose every item is well-formed (the usual case) is decoded and checked in C by msgspec, strictly:
    1.5 or "7" is not a count; any other page goes item by item, so one odd item is rejected on its own, and a page
    that is not a JSON list of models raises ParseError."""
    try:
        items = _CENSUS_PAGE.decode(payload.content)
    except msgspec.DecodeError:
        rows, rejected = parse_counters(payload)
        if any(None in row for row in rows):
            complete = [row for row in rows if None not in row]
            rows, rejected = complete, rejected + len(rows) - len(complete)
        ids, d30, total, likes = (list(column) for column in zip(*rows, strict=True)) if rows else ([], [], [], [])
        return (ids, d30, total, likes), rejected
    good = [item for item in items if "/" in item.id]
    return (
        [item.id for item in good],
        [item.downloads for item in good],
        [item.downloadsAllTime for item in good],
        [item.likes for item in good],
    ), len(items) - len(good)
