"""Row contracts between parsers and the warehouse, and the validation step that enforces them."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
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
    def offer_key(self) -> tuple[str, ...]:
        return (self.provider, self.provider_model_id, self.region, self.tier, self.metric, self.unit)


def validate_rows(rows: list[dict[str, Any]]) -> tuple[list[PriceObservation], list[tuple[str, str]]]:
    """Validate parser rows; return the valid ones (one per offer and metric) and (item, reason) rejects."""
    valid: list[PriceObservation] = []
    rejects: list[tuple[str, str]] = []
    for row in rows:
        try:
            valid.append(PriceObservation.model_validate(row))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            rejects.append((str(row.get("provider_model_id", "?")), f"{where}: {first['msg']}"))
    by_key: dict[tuple[str, ...], list[PriceObservation]] = defaultdict(list)
    for obs in valid:
        by_key[obs.offer_key].append(obs)
    unique: list[PriceObservation] = []
    for key, group in by_key.items():
        amounts = {(o.amount, o.currency) for o in group}
        if len(amounts) == 1:
            unique.append(group[0])
        else:
            stated = ", ".join(sorted(f"{a} {c}" for a, c in amounts))
            rejects.append((key[1], f"{key[4]} {key[3]}: conflicting prices in one payload ({stated})"))
    return unique, rejects
