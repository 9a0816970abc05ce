"""Every price unit is normalised here, once: amounts become Decimal per 1M tokens (or per own unit)."""

from __future__ import annotations

import math
from decimal import Decimal, DecimalException, InvalidOperation

# Token prices are stored per 1M tokens; this maps a stated token unit to its multiplier.
TOKEN_SCALE = {
    "token": Decimal(1_000_000),
    "1k_tokens": Decimal(1_000),
    "mtok": Decimal(1),
}
# Storage precision of the warehouse's DECIMAL(38, 18): exact for per-token strings with up to 24 decimals.
QUANTUM = Decimal("1e-18")


class PriceValueError(ValueError):
    """A value that is not a usable price (placeholder, negative, not a number)."""


def to_decimal(value: object) -> Decimal:
    """Parse a JSON price value (string, int or float) into an exact Decimal."""
    if isinstance(value, bool) or value is None:
        raise PriceValueError(f"not a number: {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PriceValueError(f"not a finite number: {value!r}")
        # repr gives the shortest string that round-trips, so 1.5e-07 stays 1.5e-07, not its binary expansion.
        value = repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise PriceValueError(f"not a finite number: {value!r}")
        return value
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str):
        raise PriceValueError(f"not a number: {value!r}")
    text = value.strip().replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise PriceValueError(f"not a number: {value!r}") from exc
    if not number.is_finite():
        raise PriceValueError(f"not a finite number: {value!r}")
    return number


def per_mtok(value: object, unit: str = "token") -> Decimal:
    """Convert a price stated per `unit` of tokens into a non-negative Decimal per 1M tokens."""
    try:
        return quantize(to_decimal(value) * TOKEN_SCALE[unit])
    except DecimalException as exc:
        raise PriceValueError(f"not a storable number: {value!r}") from exc


def quantize(amount: Decimal) -> Decimal:
    """Round to the warehouse's precision; refuse negatives and values lost to rounding."""
    if amount < 0:
        raise PriceValueError(f"negative price: {amount}")
    try:
        rounded = amount.quantize(QUANTUM).normalize()
    except DecimalException as exc:
        raise PriceValueError(f"not a storable number: {amount}") from exc
    if rounded == 0 and amount != 0:
        raise PriceValueError(f"price too small to store: {amount}")
    if rounded == rounded.to_integral_value():
        rounded = rounded.quantize(Decimal(1))
    return rounded
