"""Anthropic's pricing page (claude.com): one card per model under a heading, prices in `data-value` spans."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal, DecimalException, Inexact, localcontext

from bs4 import BeautifulSoup, NavigableString, Tag

from llmflation.extractors.base import ParseResult, Payload, tier_name, token_count_label
from llmflation.extractors.errors import ParseError
from llmflation.extractors.identity import model_key
from llmflation.extractors.units import per_mtok, quantize

NAME = "anthropic"
URL = "https://www.claude.com/pricing"
DESCRIPTION = "Anthropic's pricing page: Claude API prices per model, with prompt caching, long context and batch"
PROVIDER = "anthropic"
KIND = "official"
EXPERIMENTAL = False

HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
NOT_CONTENT = {"script", "style", "noscript", "svg", "template"}
PRICE = {"data-value": True}
NUMBER = re.compile(r"\d+(?:\.\d+)?")
PER_MTOK = re.compile(r"/\s*MTok\b|per\s+(?:MTok|million\s+tokens)\b", re.I)
# Card labels, lowercased with whitespace collapsed; anything else makes the prices under it rejects.
GROUPS = {
    "input": "input",
    "output": "output",
    "prompt caching": "cache",
    "batch input": "batch_input",
    "batch output": "batch_output",
}
CONTEXT = re.compile(r"(?:prompts?\s+)?(≤|<=|<|up to|>|over|above)\s*(\d+)\s*([km])(?:\s+tokens)?")
CACHE_OP = re.compile(r"(?:cache\s+)?(write|read)s?(?:\s*\(?(5m|5-minute|1h|1-hour)\)?)?")
CACHE_METRIC = {"write": "cache_write", "read": "cached_input"}
BATCH = re.compile(r"save\s+(\d+(?:\.\d+)?)\s*%\s+(?:with|on|using)\s+batch", re.I)
BATCH_METRIC = {"input": "batch_input", "output": "batch_output"}
TOOL_PRICE = re.compile(r"\$\s*\d[\d.,]*\s*(?:/|per)\s*(?:1K\s+searches|hour)", re.I)
PLAN = re.compile(r"\$\s*\d|contact sales", re.I)

Prices = dict[tuple[str, str], Decimal]  # (metric, tier) -> USD per 1M tokens


def parse(payload: Payload) -> ParseResult:
    """Parse the HTML of the pricing page: every model card, its context tiers, caching and batch prices."""
    if b"<" not in payload.content:
        raise ParseError(NAME, payload.url, "not an HTML page", payload.content)
    soup = BeautifulSoup(payload.content, "html.parser")
    if soup.find(attrs=PRICE) is None:
        raise ParseError(NAME, payload.url, "no price in a data-value attribute", payload.content)
    result = ParseResult()
    batch_scopes = _batch_scopes(soup)
    models: set[str] = set()
    in_cards: set[int] = set()
    for heading, card in _cards(soup):
        if card.find(attrs=PRICE) is None:
            text = card.get_text(" ")
            if PLAN.search(text) and not TOOL_PRICE.search(text):
                result.skipped["subscription plan, not an API price"] += 1
            continue
        model_id = _model_id(heading)
        models.add(model_id)
        in_cards.update(id(span) for span in card.find_all(attrs=PRICE))
        prices = _read_card(card, model_id, result)
        _add_batch(prices, _batch_percent(card, batch_scopes), model_id, result)
        key = model_key(PROVIDER, model_id)
        for (metric, tier), amount in prices.items():
            result.add(
                provider=PROVIDER, provider_model_id=model_id, model_key=key, metric=metric, amount=amount, tier=tier
            )
    if not models:
        raise ParseError(NAME, payload.url, "no model card (a heading over data-value prices)", payload.content)
    for span in soup.find_all(attrs=PRICE):
        if id(span) not in in_cards:
            result.rejects.append((span.get_text(" ", strip=True), "price outside any model card"))
    tools = len(TOOL_PRICE.findall(soup.get_text(" ")))
    if tools:
        result.skipped["tool price (web search, code execution), not tied to a model"] += tools
    result.items = len(models)
    if not result.rows:
        raise ParseError(NAME, payload.url, f"{len(models)} model cards but not one per-MTok price", payload.content)
    return result


def _cards(soup: BeautifulSoup) -> list[tuple[str, Tag]]:
    """Each heading with its card: the largest element around it that holds no other heading."""
    headings = soup.find_all(HEADINGS)
    inside: Counter[int] = Counter()
    for heading in headings:
        inside.update(id(parent) for parent in heading.parents)
    cards = []
    for heading in headings:
        card = heading
        while card.parent is not None and inside[id(card.parent)] == 1:
            card = card.parent
        cards.append((" ".join(heading.get_text(" ").split()), card))
    return cards


def _model_id(heading: str) -> str:
    """'Opus 4.1' -> 'claude-opus-4.1' (the page shows display names, not API ids)."""
    slug = "-".join(heading.lower().split())
    return slug if slug.startswith("claude") else f"claude-{slug}"


def _events(node: Tag) -> Iterator[Tag | str]:
    """The card in reading order: label texts, and data-value spans (their '$', '/ MTok' siblings are skipped)."""
    for child in node.children:
        if isinstance(child, Tag):
            span = child if child.has_attr("data-value") else child.find(attrs=PRICE, recursive=False)
            if span is not None:
                yield span
            elif child.name not in NOT_CONTENT and child.name not in HEADINGS:
                yield from _events(child)
        elif type(child) is NavigableString and child.strip():
            yield " ".join(child.split())


def _read_card(card: Tag, model_id: str, result: ParseResult) -> Prices:
    """Read labels top-down: a group (Input, Output, Prompt caching), then context and Write/Read sub-labels."""
    prices: Prices = {}
    group = metric = context = cache = unknown = ""
    for item in _events(card):
        if isinstance(item, str):
            label = item.lower().rstrip(":")
            if (name := label.removesuffix(" tokens")) in GROUPS:
                group, context, cache, unknown = GROUPS[name], "", "", ""
                metric = "" if group == "cache" else group
            elif match := CONTEXT.fullmatch(label):
                above = match.group(1) in (">", "over", "above")
                count = int(match.group(2)) * (1000 if match.group(3) == "k" else 1_000_000)
                context = f">{token_count_label(count)}" if above else ""
                metric = "" if group == "cache" else metric
            elif group == "cache" and (match := CACHE_OP.fullmatch(label)):
                metric = CACHE_METRIC[match.group(1)]
                cache = "1h" if (match.group(2) or "").startswith("1") else ""
            else:
                unknown = item
            continue
        amount, problem = _amount(item)
        tier = tier_name(cache=cache, context=context)
        if not problem:
            if unknown:
                problem = f"price under an unknown label {unknown!r}"
            elif not metric:
                problem = "price without an Input/Output/Write/Read label"
            elif (metric, tier) in prices:
                result.rejects.append((model_id, f"card states {metric} {tier} twice: not one model's card"))
                return {}
        if problem or amount is None:
            result.rejects.append((model_id, problem))
            continue
        prices[(metric, tier)] = amount
    return prices


def _amount(span: Tag) -> tuple[Decimal | None, str]:
    """The full price in data-value (the page's batch toggle only rewrites the visible text), unit beside it."""
    raw = str(span["data-value"]).strip().replace(",", "")
    text = " ".join((span.parent or span).get_text(" ").split())
    if not NUMBER.fullmatch(raw):
        return None, f"data-value {raw!r} is not a price"
    if "$" not in text or not PER_MTOK.search(text):
        return None, f"not a USD per-MTok price: {text!r}"
    return per_mtok(raw, "mtok"), ""


def _batch_scopes(soup: BeautifulSoup) -> dict[int, list[tuple[Decimal, Tag]]]:
    """Each element around a 'Save 50% with batch processing' statement: the percentage and the child holding it."""
    scopes: dict[int, list[tuple[Decimal, Tag]]] = {}
    for text in soup.find_all(string=BATCH):
        match = BATCH.search(str(text))
        branch = text.parent
        if match is None or branch is None:
            continue
        for parent in branch.parents:
            scopes.setdefault(id(parent), []).append((Decimal(match.group(1)), branch))
            branch = parent
    return scopes


def _batch_percent(card: Tag, scopes: dict[int, list[tuple[Decimal, Tag]]]) -> set[Decimal]:
    """The discount stated in the smallest element holding this card and a statement that is not another card's."""
    for element in (card, *card.parents):
        if id(element) in scopes:
            return {p for p, branch in scopes[id(element)] if element is card or branch.find(attrs=PRICE) is None}
    return set()


def _add_batch(prices: Prices, percents: set[Decimal], model_id: str, result: ParseResult) -> None:
    """Apply a stated batch percentage to input and output, exactly; prices the card states win."""
    if not percents:
        return
    (percent, *others) = sorted(percents)
    if others or not 0 < percent < 100:
        result.rejects.append(
            (model_id, f"batch discount stated as {', '.join(f'{p}%' for p in sorted(percents))}: not applied")
        )
        return
    for (metric, tier), amount in list(prices.items()):
        if metric in ("cache_write", "cached_input"):
            result.skipped["batch discount on a cache price (no batch cache metric)"] += 1
        if metric not in BATCH_METRIC or (BATCH_METRIC[metric], tier) in prices:
            continue
        try:
            with localcontext() as exact:
                exact.traps[Inexact] = True
                prices[(BATCH_METRIC[metric], tier)] = quantize(amount * (100 - percent) / 100)
        except DecimalException:
            result.rejects.append((model_id, f"{percent}% batch discount on {amount} is not exact"))
