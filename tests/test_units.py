from __future__ import annotations

from decimal import Decimal

import pytest

from llmflation.extractors.units import PriceValueError, per_mtok, quantize, to_decimal


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("0.0000025", "token", "2.5"),
        (2.5e-06, "token", "2.5"),
        (1.5e-07, "token", "0.15"),
        (0.00015, "token", "150"),
        ("0.000000075", "token", "0.075"),
        (0.003, "1k_tokens", "3"),
        ("1.25", "mtok", "1.25"),
        (0, "token", "0"),
        (2, "token", "2000000"),
    ],
)
def test_per_mtok(value: object, unit: str, expected: str) -> None:
    assert per_mtok(value, unit) == Decimal(expected)


def test_floats_keep_their_decimal_meaning() -> None:
    # 0.1 + 0.2 style binary noise must not leak into stored prices
    assert to_decimal(1e-07) == Decimal("1E-7")
    assert str(per_mtok(3e-07)) == "0.3"


@pytest.mark.parametrize("value", ["-1", -0.5, "abc", None, True, float("nan"), float("inf"), [], "1e999999"])
def test_not_prices(value: object) -> None:
    with pytest.raises(PriceValueError):
        per_mtok(value)


def test_too_small_to_store_is_an_error_not_a_zero() -> None:
    with pytest.raises(PriceValueError, match="too small"):
        quantize(Decimal("1e-21"))
