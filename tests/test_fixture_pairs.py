"""Every tests/fixtures/<source>/<case>.<ext> with a <case>.expected.json beside it is a parser test."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from llmflation.extractors.base import source_module
from llmflation.extractors.errors import ParseError
from llmflation.warehouse.models import validate_rows
from tests.helpers import OWN_FIXTURES, payload

CASES = sorted(p for p in OWN_FIXTURES.glob("*/*") if p.is_file() and not p.name.endswith(".expected.json"))


def render(source: str, case: Path) -> dict:
    """Parse + validate a case into the JSON shape of its expected file."""
    module = source_module(source)
    try:
        result = module.parse(payload(source, case.read_bytes(), url=f"http://127.0.0.1/{case.name}"))
    except ParseError as exc:
        return {"error": exc.detail}
    rows, rejects = validate_rows(result.rows)
    return {
        "items": result.items,
        "rows": sorted(
            ({**r.model_dump(mode="json", exclude_none=True), "amount": str(r.amount)} for r in rows),
            key=lambda r: (r["provider_model_id"], r["metric"], r["unit"], r["tier"]),
        ),
        "skipped": dict(sorted(result.skipped.items())),
        "rejects": sorted([list(r) for r in result.rejects + rejects]),
    }


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_pair(case: Path) -> None:
    expected_path = case.with_name(case.name.rsplit(".", 1)[0] + ".expected.json")
    assert expected_path.exists(), f"{case.name} has no {expected_path.name}"
    expected = json.loads(expected_path.read_text())
    actual = render(case.parent.name, case)
    if "error" in expected:
        assert "error" in actual, f"expected a ParseError, got {len(actual['rows'])} rows"
        assert expected["error"] in actual["error"]
        return
    assert actual == expected
    for row in actual["rows"]:
        assert Decimal(row["amount"]) >= 0
