"""Row contracts between parsers and the warehouse, and the validation step that enforces them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

Slug = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
TOKEN_UNIT = "mtok"
UNITS = {
    TOKEN_UNIT,
    "image",
    "pixel",
    "second",
    "minute",
    "hour",
    "frame",
    "character",
    "request",
    "query",
    "search",
    "page",
    "session",
    "1k_calls",
    "gb_day",
}


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware")
    return value


def _known_unit(value: str) -> str:
    if value not in UNITS:
        raise ValueError(f"unknown unit {value!r}")
    return value


class PriceObservation(BaseModel):
    """One price as a source states it: Decimal per 1M tokens (unit mtok) or per its own unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Slug
    provider_model_id: Slug
    model_key: Slug
    region: Slug
    tier: Slug
    metric: Name
    unit: Annotated[str, AfterValidator(_known_unit)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    amount: Annotated[Decimal, Field(ge=0, max_digits=38, decimal_places=18)]
    effective_from: Annotated[datetime | None, AfterValidator(_aware)] = None
    effective_to: Annotated[datetime | None, AfterValidator(_aware)] = None

    @property
    def offer_key(self) -> tuple[Any, ...]:
        """What one price row is about: the offer, metric, unit and the period the source states (if any)."""
        return (
            self.provider,
            self.provider_model_id,
            self.region,
            self.tier,
            self.metric,
            self.unit,
            self.effective_from,
        )


def validate_rows(rows: list[dict[str, Any]]) -> tuple[list[PriceObservation], list[tuple[str, str]]]:
    """Validate parser rows; return the valid ones (one per offer, metric and stated period) and rejects."""
    valid: list[PriceObservation] = []
    rejects: list[tuple[str, str]] = []
    for row in rows:
        try:
            valid.append(PriceObservation.model_validate(row))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            rejects.append((str(row.get("provider_model_id", "?")), f"{where}: {first['msg']}"))
    unique, conflicts = unique_offers([(obs, "") for obs in valid])
    return [obs for obs, _ in unique], rejects + conflicts


def unique_offers(
    pairs: list[tuple[PriceObservation, str]],
) -> tuple[list[tuple[PriceObservation, str]], list[tuple[str, str]]]:
    """Keep one observation per offer key; a key stated twice with different prices is rejected, not guessed."""
    by_key: dict[tuple[Any, ...], list[tuple[PriceObservation, str]]] = defaultdict(list)
    for pair in pairs:
        by_key[pair[0].offer_key].append(pair)
    unique: list[tuple[PriceObservation, str]] = []
    rejects: list[tuple[str, str]] = []
    for key, group in by_key.items():
        amounts = {(o.amount, o.currency, o.effective_to) for o, _ in group}
        if len(amounts) == 1:
            unique.append(group[0])
        else:
            stated = ", ".join(sorted(f"{a} {c}" for a, c, _ in amounts))
            rejects.append((key[1], f"{key[4]} {key[3]}: conflicting prices in one payload ({stated})"))
    return unique, rejects


class ModelSnapshot(BaseModel):
    """One Hugging Face model as the Hub showed it on one day."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    snapshot_date: date
    repo_id: Annotated[str, StringConstraints(pattern=r"^[^/\s]+/[^/\s]+$", max_length=300)]
    author: str | None = None
    downloads_30d: Annotated[int, Field(ge=0)] | None = None
    downloads_all_time: Annotated[int, Field(ge=0)] | None = None
    likes: Annotated[int, Field(ge=0)] | None = None
    trending_score: float | None = None
    pipeline_tag: str | None = None
    library_name: str | None = None
    created_at: Annotated[datetime | None, AfterValidator(_aware)] = None
    last_modified: Annotated[datetime | None, AfterValidator(_aware)] = None
    base_models: list[str] = Field(default_factory=list)
    relation: str | None = None
    gated: bool | None = None
    parameters: Annotated[int, Field(ge=0)] | None = None


def validate_snapshots(
    rows: list[dict[str, Any]], snapshot_date: date | None
) -> tuple[list[ModelSnapshot], list[tuple[str, str]]]:
    """Validate snapshot rows for one day; one row per repo (a repo listed twice, as an author's model and in a top
    list, is the same observation)."""
    valid: dict[str, ModelSnapshot] = {}
    rejects: list[tuple[str, str]] = []
    for row in rows:
        try:
            snapshot = ModelSnapshot.model_validate({**row, "snapshot_date": row.get("snapshot_date", snapshot_date)})
        except ValidationError as exc:
            first = exc.errors()[0]
            rejects.append((str(row.get("repo_id", "?")), f"{'.'.join(map(str, first['loc']))}: {first['msg']}"))
            continue
        valid.setdefault(snapshot.repo_id, snapshot)
    return list(valid.values()), rejects


def _not_the_euro(value: str) -> str:
    if value == "EUR":
        raise ValueError("a rate of the euro against itself")
    return value


class ExchangeRate(BaseModel):
    """One dated exchange rate: units of a currency (not the euro itself) per 1 EUR on a day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    date: date
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_not_the_euro)]
    units_per_eur: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6)]


def validate_rates(rates: Iterable[tuple[Any, ...]]) -> tuple[list[ExchangeRate], list[tuple[str, str]]]:
    """Validate (date, currency, units_per_eur) rows; return the valid ones and rejects (item, reason)."""
    valid: list[ExchangeRate] = []
    rejects: list[tuple[str, str]] = []
    for day, currency, units in rates:
        try:
            valid.append(ExchangeRate(date=day, currency=currency, units_per_eur=units))
        except ValidationError as exc:
            first = exc.errors()[0]
            rejects.append((f"{day} {currency}", f"{'.'.join(map(str, first['loc']))}: {first['msg']}"))
    return valid, rejects
