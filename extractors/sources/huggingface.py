"""Hugging Face Hub model listings (adoption data, not prices): first-page URLs, a Link-following fetcher, parsers
for live and archived data. Its runs are the adoption flow's (flows/hub.py), not the price pipeline's."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import msgspec
import requests

from llmflation.extractors.base import Payload, json_body
from llmflation.extractors.deadlines import pause, time_left
from llmflation.extractors.errors import FetchError, ParseError
from llmflation.extractors.http import fetch

NAME = "huggingface"
URL = "https://huggingface.co/api/models"
DESCRIPTION = "Hugging Face Hub model listings: the tracked authors, the top N by downloads and by trending"
KIND = "adoption"
EXPERIMENTAL = False
# expand[] replaces the default fields, so everything a snapshot row needs is listed (tags carry base_model:...).
EXPAND = [
    "downloads",
    "downloadsAllTime",
    "likes",
    "trendingScore",
    "pipeline_tag",
    "library_name",
    "createdAt",
    "lastModified",
    "cardData",
    "gated",
    "safetensors",
    "tags",
]
RELATIONS = ("finetune", "quantized", "adapter", "merge")
ROW_KEYS = (
    "repo_id",
    "author",
    "downloads_30d",
    "downloads_all_time",
    "likes",
    "trending_score",
    "pipeline_tag",
    "library_name",
    "created_at",
    "last_modified",
    "base_models",
    "relation",
    "gated",
    "parameters",
)
KBLAB_COLUMNS = ["model_url", "downloads", "organization", "model_name", "date"]


def list_urls(
    base_url: str, *, authors: Iterable[str], top_downloads: int, top_trending: int, page_size: int
) -> list[str]:
    """First-page URLs: one per author (paged by page_size), the top N by downloads and the top N by trending score."""
    queries: list[dict[str, Any]] = [{"author": author, "limit": page_size} for author in authors]
    if top_downloads > 0:
        queries.append({"sort": "downloads", "direction": -1, "limit": top_downloads})
    if top_trending > 0:
        queries.append({"sort": "trendingScore", "direction": -1, "limit": top_trending})
    joiner = "&" if "?" in base_url else "?"
    return [base_url + joiner + urlencode({**query, "expand[]": EXPAND}, doseq=True) for query in queries]


def max_pages_for(url: str) -> int | None:
    """1 for a top-N list (its first page already holds the N models asked for, and the Hub would page on through the
    whole sorted catalogue); None, every page, for an author's listing."""
    return 1 if "sort" in parse_qs(urlsplit(url).query) else None


def fetch_pages(
    session: requests.Session,
    url: str,
    *,
    token: str | None = None,
    timeout: float = 30.0,
    max_pages: int | None = None,
    max_wait: float = 120.0,
) -> Iterator[Payload]:
    """GET url, then follow Link rel="next" on the same origin; one Payload per page, at most max_pages. A page is
    taken only from the host asked: a redirect to another host fails the fetch."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    start = origin(url)
    seen: set[str] = set()
    page_url: str | None = url
    while page_url is not None and (max_pages is None or len(seen) < max_pages):
        if page_url in seen:
            raise FetchError(NAME, page_url, "the next link points back to a page already fetched")
        if origin(page_url) != start:
            # never send the token, or follow a listing, to another host
            raise FetchError(NAME, page_url, f"the next link leaves {start}")
        seen.add(page_url)
        payload = fetch(session, NAME, page_url, timeout=timeout, headers=headers, other_hosts=False)
        yield payload
        page_url = urljoin(page_url, payload.links["next"]) if payload.links.get("next") else None
        if page_url is not None:  # a pause for the rate limit never outlasts the session's deadline
            pause(min(rate_limit_pause(payload.headers, max_wait=max_wait), time_left(getattr(session, "until", None))))


_RATE_LIMIT = re.compile(r";\s*(r|t)\s*=\s*(\d+)")


def rate_limit_pause(headers: dict[str, str], *, max_wait: float = 120.0) -> float:
    """Seconds to wait before the next request: the Hub's RateLimit header (IETF draft 9, e.g. '"api";r=0;t=55':
    r requests remain in a window that resets in t seconds) asks for a pause only when nothing remains; capped at
    max_wait, after which a 429 and its Retry-After take over."""
    fields = dict(_RATE_LIMIT.findall(headers.get("ratelimit", "")))
    if fields.get("r") != "0" or "t" not in fields:
        return 0.0
    return min(float(fields["t"]), max_wait)


def origin(url: str) -> str:
    """scheme://host[:port], without a user or password: what a listing may not leave."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def parse(payload: Payload) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """One row per model in a GET /api/models page, and (model, reason) for each item that cannot be read."""
    body = json_body(NAME, payload)
    if not isinstance(body, list):
        detail = f"expected a JSON list of models, got {type(body).__name__}"
        raise ParseError(NAME, payload.url, detail, payload.content)
    rows: list[dict[str, Any]] = []
    rejects: list[tuple[str, str]] = []
    for index, item in enumerate(body):
        try:
            rows.append(_model_row(item))
        except ValueError as exc:
            rejects.append((_item_label(item, index), str(exc)))
    return rows, rejects


def parse_reduced_snapshot(data: dict[str, Any]) -> tuple[date, list[dict[str, Any]]]:
    """The date and rows of a reduced daily file {date, fetched_at, source, models: [...]}."""
    where = str(data.get("source") or "reduced snapshot") if isinstance(data, dict) else "reduced snapshot"
    try:
        day = date.fromisoformat(data["date"])
        models = data["models"]
        if not isinstance(models, list):
            raise TypeError("models is not a list")
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"not a reduced snapshot {{date, models: [...]}} ({exc!r})"
        raise ParseError(NAME, where, detail, json.dumps(data, default=str)[:300]) from exc
    rows: list[dict[str, Any]] = []
    for index, item in enumerate(models):
        try:
            rows.append(_model_row(item))
        except ValueError as exc:
            raise ParseError(NAME, where, f"{data['date']} model {_item_label(item, index)}: {exc}") from exc
    return day, rows


def parse_kblab_csv(text: str) -> list[dict[str, Any]]:
    """Rows of a KBLab monthly CSV (model_url, downloads, organization, model_name, date): 30-day downloads only."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames != KBLAB_COLUMNS:
        raise ParseError(NAME, "kblab csv", f"columns {reader.fieldnames}, expected {KBLAB_COLUMNS}", text)
    rows: list[dict[str, Any]] = []
    for line, record in enumerate(reader, start=2):
        try:
            url = urlsplit(record["model_url"] or "")
            repo_id = url.path.strip("/")
            if not url.netloc.endswith("huggingface.co") or repo_id.count("/") != 1:
                raise ValueError(f"not a model URL: {record['model_url']!r}")
            downloads = int(record["downloads"] or "")
            day = date.fromisoformat(record["date"] or "")
        except ValueError as exc:
            raise ParseError(NAME, "kblab csv", f"line {line}: {exc}", str(record)) from exc
        author = record["organization"] or repo_id.split("/")[0]
        row = _row(repo_id=repo_id, author=author, downloads_30d=downloads, base_models=[])
        rows.append({**row, "snapshot_date": day})
    return rows


def _row(**values: Any) -> dict[str, Any]:
    return {key: values.get(key) for key in ROW_KEYS}


def _model_row(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValueError("not a JSON object")
    repo_id = item.get("id")
    if not isinstance(repo_id, str) or not repo_id.strip():
        raise ValueError("no id")
    card = item.get("cardData")
    card = card if isinstance(card, dict) else {}
    tags = item.get("tags") or []
    if not isinstance(tags, list):
        raise ValueError(f"tags is not a list: {tags!r}")
    base_models, relation = _lineage(card, tags)
    author = item.get("author")
    return _row(
        repo_id=repo_id,
        author=author if isinstance(author, str) and author else repo_id.split("/")[0] if "/" in repo_id else None,
        downloads_30d=_count(item, "downloads"),
        downloads_all_time=_count(item, "downloadsAllTime"),
        likes=_count(item, "likes"),
        trending_score=_score(item.get("trendingScore")),
        pipeline_tag=_text(item, "pipeline_tag"),
        library_name=_text(item, "library_name"),
        created_at=_moment(item, "createdAt"),
        last_modified=_moment(item, "lastModified"),
        base_models=base_models,
        relation=relation,
        gated=_gated(item),
        parameters=_parameters(item.get("safetensors")),
    )


def _lineage(card: dict[str, Any], tags: list[Any]) -> tuple[list[str], str | None]:
    """Base models from cardData.base_model and base_model:[kind:]repo tags, in order; the first kind seen."""
    declared = card.get("base_model")
    found = [declared] if isinstance(declared, str) else declared if isinstance(declared, list) else []
    relation = None
    for tag in tags:
        parts = tag.split(":") if isinstance(tag, str) else []
        if len(parts) == 2 and parts[0] == "base_model":
            found.append(parts[1])
        elif len(parts) == 3 and parts[0] == "base_model" and parts[1] in RELATIONS:
            found.append(parts[2])
            relation = relation or parts[1]
    if relation is None and card.get("base_model_relation") in RELATIONS:
        relation = card["base_model_relation"]
    names = (name.strip() for name in found if isinstance(name, str))
    return list(dict.fromkeys(name for name in names if name)), relation


def _count(item: dict[str, Any], key: str) -> int | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} is not a count: {value!r}")
    return value


def _score(value: Any) -> int | float | None:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise ValueError(f"trendingScore is not a number: {value!r}")


def _text(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is None or isinstance(value, str):
        return value or None
    raise ValueError(f"{key} is not a string: {value!r}")


def _moment(item: dict[str, Any], key: str) -> datetime | None:
    value = item.get(key)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{key} is not a timestamp: {value!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _gated(item: dict[str, Any]) -> bool | None:
    """True for gated repos (true, "auto" or "manual"); None when the field was not returned."""
    if "gated" not in item:
        return None
    value = item["gated"]
    if value is True or value in ("auto", "manual"):
        return True
    if value is False or value is None:
        return False
    raise ValueError(f"gated has an unknown value: {value!r}")


def _parameters(safetensors: Any) -> int | None:
    total = safetensors.get("total") if isinstance(safetensors, dict) else None
    if total is None:
        return None
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ValueError(f"safetensors.total is not a count: {total!r}")
    return total


def _item_label(item: Any, index: int) -> str:
    if isinstance(item, dict):
        for key in ("id", "_id"):
            if isinstance(item.get(key), str) and item[key]:
                return item[key]
    return f"item {index}"


# The full-Hub census's view of a page: four columns, strictly checked.

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
    items (no "org/name" id, or a counter missing or not a non-negative JSON integer: 1.5 or "7" is not a count).
    A page whose every item is well-formed (the usual case) is decoded and checked in C by msgspec; any other goes
    item by item, so one odd item is rejected on its own; a page that is not a JSON list of models raises
    ParseError."""
    try:
        items = _CENSUS_PAGE.decode(payload.content)
        listed = len(items)
    except msgspec.DecodeError:
        body = json_body(NAME, payload)
        if not isinstance(body, list):
            detail = f"expected a JSON list of models, got {type(body).__name__}"
            raise ParseError(NAME, payload.url, detail, payload.content) from None
        items, listed = [item for item in map(_census_item, body) if item is not None], len(body)
    good = [item for item in items if "/" in item.id]
    return (
        [item.id for item in good],
        [item.downloads for item in good],
        [item.downloadsAllTime for item in good],
        [item.likes for item in good],
    ), listed - len(good)


def _census_item(item: Any) -> CensusItem | None:
    try:
        return msgspec.convert(item, CensusItem)
    except msgspec.ValidationError:
        return None
