"""The pipeline's branch for reference data: a source of exchange rates is fetched, archived and recorded like any
other, then its rates are read as a stream, validated, staged and loaded where they are new (flows/pipeline.py
sends such a source here)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from itertools import islice

import duckdb

from llmflation.extractors.base import Payload, source_module
from llmflation.extractors.errors import ParseError
from llmflation.flows import ledger
from llmflation.flows.ledger import SourceOutcome, close_unloaded
from llmflation.flows.settings import Settings
from llmflation.warehouse import fx, load
from llmflation.warehouse.models import validate_rates

BATCH = 20_000  # rates validated and staged at a time: memory stays bounded however long the history


def ingest_rates(
    settings: Settings,
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    name: str,
    observed_at: datetime,
    fetched: list[Payload],
    shas: list[str],
    clock: float,
    elsewhere: list[str],
) -> SourceOutcome:
    """Parse, validate and load the archived payloads of a source of exchange rates. A parse that fails, yields no
    valid rate, or collapses below the suspect ratio of the source's last healthy run makes the run suspect: its
    raw documents are kept, its rates are not loaded."""
    module = source_module(name)
    size = sum(len(p.content) for p in fetched)
    rejects: list[tuple[str, str]] = []
    skipped: Counter[str] = Counter()
    items = 0
    fx.start_stage(con)
    try:
        for payload, sha in zip(fetched, shas, strict=True):
            try:
                result = module.parse(payload)
                while batch := list(islice(result.rates, BATCH)):
                    valid, invalid = validate_rates(batch)
                    fx.stage(con, valid, sha)
                    rejects += invalid
            except ParseError as exc:
                outcome = SourceOutcome(name, "suspect", bytes=size, error=f"parse failed: {exc.detail}")
                return close_unloaded(con, run_id, outcome, clock, raw_sha256=sha)
            rejects += result.rejects
            skipped.update(result.skipped)
            items += result.items
        parsed, conflicts, new, restated = fx.settle_stage(con, name)
        rejects += conflicts
        kept = [f"{restated} stored rates stated again with another value (the stored ones kept)"] if restated else []
        outcome = SourceOutcome(
            name,
            "ok",
            items=items,
            parsed=parsed,
            rejected=len(rejects),
            bytes=size,
            notes=ledger.source_notes(skipped, rejects, elsewhere, *kept),
        )
        previous = load.previous_healthy_rows(con, name, observed_at, run_id)
        collapse = ledger.collapsed(parsed, previous, settings.suspect_ratio, "rates")
        if not parsed:
            outcome.status, outcome.error = "suspect", "no valid rates"
        elif collapse:
            outcome.status, outcome.error = "suspect", collapse
        apply = outcome.status == "ok"
        outcome.loaded = new if apply else 0
        outcome.duration_s = time.monotonic() - clock
        fx.load_rates(
            con,
            run_id=run_id,
            source=name,
            rejects=rejects,
            apply=apply,
            loaded=outcome.loaded,
            status=outcome.status,
            finished_at=datetime.now(UTC),
            duration_s=outcome.duration_s,
            items=items,
            parsed=parsed,
            size=size,
            raw_sha256=shas[0] if len(shas) == 1 else None,
            error=outcome.error,
            notes=outcome.notes,
        )
        return outcome
    finally:
        fx.drop_stage(con)
