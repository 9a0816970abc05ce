"""Benchmark: `llmflation export` of the saved market's warehouse, against DuckDB writing the same views as
one Parquet file each (the baseline, in the same run), then again with nothing new.

    python bench/bench_export.py [--repeat 3]

Builds the warehouse the tests call the saved market (every official page, reseller and feed payload of
../shared/fixtures, one run each, and the llm-prices vendor files) in a temporary folder, then in turns: the
baseline (COPY of every public view to one file), a first export into an empty folder, and a second export into the
same folder (nothing changed: nothing is rewritten), and one with --since (only the months from it are read).
Prints each median, the ratios, the files and bytes written.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LLMFLATION_FIXTURES", str(ROOT.parent / "shared" / "fixtures"))


def baseline(db: Path, out: Path) -> float:
    """Every public view to one Parquet file each, by DuckDB alone."""
    from llmflation.flows.export import public_views
    from llmflation.warehouse.db import connect

    out.mkdir()
    started = time.perf_counter()
    con = connect(db, read_only=True)
    for view in public_views():
        con.execute(f"COPY (SELECT * FROM {view}) TO '{out / view}.parquet' (FORMAT parquet, COMPRESSION zstd)")
    con.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--since", default="2026-11-01", help="the --since of the incremental export timed last")
    args = parser.parse_args()
    from llmflation.flows import export
    from llmflation.flows.settings import Settings
    from tests.ledger_helpers import load_market

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "data" / "llmflation.duckdb"
        started = time.perf_counter()
        load_market(Settings(db=db))
        print(f"saved market built in {time.perf_counter() - started:.1f} s ({db.stat().st_size / 1e6:.0f} MB)")
        since = date.fromisoformat(args.since)
        base, first, second, third = [], [], [], []
        for turn in range(args.repeat):
            base.append(baseline(db, Path(tmp) / f"baseline-{turn}"))
            out = Path(tmp) / f"export-{turn}"
            started = time.perf_counter()
            made = export.export(db, out)
            first.append(time.perf_counter() - started)
            started = time.perf_counter()
            again = export.export(db, out)
            second.append(time.perf_counter() - started)
            assert again.written == 0 and again.removed == 0
            started = time.perf_counter()
            export.export(db, out, since=since)
            third.append(time.perf_counter() - started)
            size = sum(p.stat().st_size for p in out.rglob("*.parquet"))
            shutil.rmtree(Path(tmp) / f"baseline-{turn}")
    rows = sum(made.rows.values())
    b, f, s, t = (statistics.median(x) for x in (base, first, second, third))
    print(f"rows: {rows:,} in {len(made.rows)} datasets; files: {made.written}, {size / 1e6:.1f} MB of Parquet")
    print(f"baseline (DuckDB COPY, one file a view): median {b:.2f} s  ({', '.join(f'{x:.2f}' for x in base)})")
    print(f"first export (partitioned, hashed):      median {f:.2f} s  ({', '.join(f'{x:.2f}' for x in first)})")
    print(f"second export (nothing new, 0 written):  median {s:.2f} s  ({', '.join(f'{x:.2f}' for x in second)})")
    print(f"--since {since} (later months only):   median {t:.2f} s  ({', '.join(f'{x:.2f}' for x in third)})")
    print(f"ratios: first / baseline {f / b:.2f}x, second / first {s / f:.2f}x, --since / first {t / f:.2f}x")


if __name__ == "__main__":
    main()
