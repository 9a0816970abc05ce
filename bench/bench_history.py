"""Benchmark: a long real price history imported end to end, and a nightly run on top of it.

    python bench/bench_history.py [--until 2025-06-01] [--nightly-repeat 3]

1. Clones ../shared/fixtures/history/llm-api-price.bundle (640 real versions of LiteLLM's price map, 2025-02 to
   2026-07) and imports it with `llmflation import prices litellm --git CLONE --file ...` in a subprocess: total
   time, peak RSS, the median time of a run in the first and in the last tenth of the history, their ratio, and
   the warehouse's bytes per stored price-day (a price in force on a day of the history).
2. Checks that the incrementally folded history equals the full rebuild's, segment for segment, and counts the
   input and output prices a later version fixed by 1,000x or more that were held as implausible from the run that
   first listed them.
3. Replays every stable source from the real payloads (bench/replay_server.py) as one nightly run through the
   plain pipeline, on an empty warehouse and on a copy of the one holding the history, in turns, and prints the
   ratio of the two (each on a fresh copy).

The figures this replaces were measured before the fold was incremental (issue 13): 37 minutes, 1.8 GB peak RSS,
0.7 s a run at the start of the history and 7.5 s at its end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("LLMFLATION_FIXTURES") or ROOT.parent / "shared" / "fixtures")
BUNDLE = FIXTURES / "history" / "llm-api-price.bundle"
FILE = "model_prices_and_context_window.json"
NIGHTLY = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from llmflation.flows.pipeline import run_prices
from llmflation.flows.settings import Settings
from llmflation.extractors.base import parse_source_list
urls = dict(arg.split("=", 1) for arg in sys.argv[2:])
settings = Settings(db=Path(sys.argv[1]), source_urls=urls)
clock = time.perf_counter()
summary = run_prices(settings, parse_source_list(None), datetime(2026, 11, 30, 3, tzinfo=UTC))
print(time.perf_counter() - clock, summary.status, sum(o.loaded for o in summary.outcomes))
"""
PREVIOUS = (
    "before the incremental fold (issue 13): 37 min, 1.8 GB peak RSS, runs 0.7 s at the start and 7.5 s at the end"
)


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB and stdout of a subprocess."""
    clock = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - clock
        out.seek(0)
        text = out.read().decode(errors="replace")
    if process.returncode not in (0, 1):
        sys.exit(f"{' '.join(args[:6])} exited {process.returncode}:\n{text[-3000:]}")
    return wall, usage.ru_maxrss / 1024, text


def import_history(work: Path, until: str | None) -> Path:
    clone = work / "llm-api-price"
    subprocess.run(["git", "clone", "-q", str(BUNDLE), str(clone)], check=True)
    db = work / "history.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMFLATION_")}
    args = [sys.executable, "-m", "llmflation", "import", "prices", "litellm", "--git", str(clone), "--file", FILE]
    args += ["--db", str(db)] + (["--until", until] if until else [])
    wall, rss, text = run_measured(args, env)
    con = duckdb.connect(str(db), read_only=True)
    try:
        runs = con.execute(
            "SELECT epoch(r.finished_at) - epoch(r.started_at), s.parsed FROM runs r JOIN source_runs s USING (run_id) "
            "WHERE r.flow = 'import' AND r.finished_at IS NOT NULL ORDER BY r.as_of"
        ).fetchall()
        statuses = con.execute("SELECT status, count(*) FROM source_runs GROUP BY 1 ORDER BY 1").fetchall()
        price_days = con.execute(
            "SELECT sum(date_diff('day', CAST(valid_from AS DATE), CAST(coalesce(valid_to, "
            "(SELECT max(observed_at) FROM source_runs)) AS DATE)) + 1) FROM price_segments "
            "WHERE valid_from >= (SELECT min(observed_at) FROM source_runs)"
        ).fetchall()[0][0]
        segments, observations = con.execute(
            "SELECT (SELECT count(*) FROM price_segments), (SELECT count(*) FROM observations)"
        ).fetchall()[0]
        events = con.execute("SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC").fetchall()
        quiet = con.execute(
            "SELECT count(*) FILTER (WHERE held_runs >= 1), "
            "count(*) FILTER (WHERE held_runs >= 2 AND coalesce(reverted_runs, 2) >= 2), "
            "count(*) FILTER (WHERE reverted_runs < 2), count(*) FILTER (WHERE changes_30d > 5) "
            "FROM price_events e JOIN event_persistence p USING (event_id) "
            "WHERE event_type IN ('price_cut', 'price_increase') AND plausible"
        ).fetchall()[0]
        held = con.execute("SELECT count(*) FILTER (WHERE NOT plausible), count(*) FROM price_segments").fetchall()[0]
        held_by = con.execute(
            "SELECT coalesce(judged_against, 'nothing'), count(*) FROM price_segments WHERE NOT plausible "
            "GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        with_run = con.execute(
            "SELECT provider, count(*) FROM price_segments "
            "WHERE judged_against = 'its provider''s prices in the same run' AND NOT plausible "
            "GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    finally:
        con.close()
    durations = [r[0] for r in runs]
    per_krow = [r[0] / r[1] * 1000 for r in runs]
    tenth = max(1, len(durations) // 10)
    first, last = statistics.median(durations[:tenth]), statistics.median(durations[-tenth:])
    rows_first, rows_last = (
        statistics.median(r[1] for r in runs[:tenth]),
        statistics.median(r[1] for r in runs[-tenth:]),
    )
    krow_first, krow_last = statistics.median(per_krow[:tenth]), statistics.median(per_krow[-tenth:])
    size = db.stat().st_size
    print(f"import: {len(durations)} versions in {wall:.1f} s ({wall / 60:.1f} min), peak RSS {rss:.0f} MB")
    print(f"  source runs: {', '.join(f'{n} {s}' for s, n in statuses)}; {text.count('already imported')} skipped")
    print(
        f"  median run, first tenth: {first:.3f} s ({rows_first:,.0f} prices); last tenth: {last:.3f} s "
        f"({rows_last:,.0f} prices); ratio {last / first:.2f} (target <= 1.3)"
    )
    print(
        f"  median time per 1,000 prices, first tenth: {krow_first:.3f} s; last tenth: {krow_last:.3f} s; "
        f"ratio {krow_last / krow_first:.2f}"
    )
    print(f"  observations {observations:,}, segments {segments:,}, events {sum(n for _, n in events):,}")
    print(f"  events by type: {', '.join(f'{t} {n}' for t, n in events)}")
    print(
        f"  price cuts and increases a rule would alert: {quiet[0]} with min_runs = 1, {quiet[1]} with min_runs = 2 "
        f"({quiet[2]} undo a change that held one run); {quiet[3]} on offers that changed more than 5 times in 30 days"
    )
    print(f"  segments held as implausible: {held[0]:,} of {held[1]:,}; judged against: ", end="")
    print(", ".join(f"{against} {n}" for against, n in held_by))
    print("  held with their provider's prices in the same run: ", end="")
    print(", ".join(f"{provider} {n}" for provider, n in with_run))
    print(f"  warehouse {size / 1e6:.1f} MB for {price_days:,} price-days: {size / price_days:.1f} bytes per price-day")
    print(f"  {PREVIOUS}")
    return db


REBUILD = """
import sys, time
from pathlib import Path
from llmflation.warehouse import db, history
con = db.connect(Path(sys.argv[1]))
con.execute("CREATE TEMP TABLE incremental AS SELECT * FROM price_segments")
clock = time.perf_counter()
with db.transaction(con):
    for source in history.sources_with_history(con):
        history.rebuild(con, source, history.DEFAULT_REMOVAL_RUNS)
took = time.perf_counter() - clock
one = con.execute("SELECT count(*) FROM (SELECT * FROM incremental EXCEPT ALL SELECT * FROM price_segments)").fetchall()
two = con.execute("SELECT count(*) FROM (SELECT * FROM price_segments EXCEPT ALL SELECT * FROM incremental)").fetchall()
print(took, one[0][0], two[0][0], con.execute("SELECT count(*) FROM price_segments").fetchall()[0][0])
"""


def check_rebuild(db: Path, work: Path) -> None:
    copy = work / "rebuilt.duckdb"
    shutil.copy(db, copy)
    _, rss, text = run_measured([sys.executable, "-c", REBUILD, str(copy)], dict(os.environ))
    took, only_incremental, only_full, total = text.split()[-4:]
    verdict = "equal" if only_incremental == only_full == "0" else f"DIFFERENT ({only_incremental} / {only_full})"
    print(f"incremental fold vs full rebuild ({float(took):.1f} s, peak RSS {rss:.0f} MB): {verdict}, {total} segments")


def check_fixed(db: Path, work: Path) -> None:
    """Prices a later version fixed by 1,000x or more (read from the JSON), and whether each is held (a judgement
    made when a price starts, so held from the version that first listed it)."""
    import json
    from decimal import Decimal

    clone = work / "llm-api-price"
    log = ["git", "-C", str(clone), "log", "--reverse", "--format=%H", "--", FILE]
    last: dict[tuple[str, str], Decimal] = {}
    fixed: set[tuple[str, str, Decimal]] = set()
    for sha in subprocess.run(log, check=True, capture_output=True, text=True).stdout.split():
        show = subprocess.run(["git", "-C", str(clone), "show", f"{sha}:{FILE}"], check=True, capture_output=True)
        for key, entry in json.loads(show.stdout).items():
            if not isinstance(entry, dict) or not entry.get("litellm_provider"):
                continue
            for field, metric in (("input_cost_per_token", "input"), ("output_cost_per_token", "output")):
                raw = entry.get(field)
                if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
                    continue
                value = (Decimal(repr(raw)) * 1_000_000).normalize()
                old = last.get((key, metric))
                if old is not None and max(old / value, value / old) >= 1000:
                    fixed.add((key, metric, old))
                last[(key, metric)] = value
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT provider_model_id, metric, amount, plausible, judged_against FROM price_segments "
            "WHERE tier = 'standard' AND region = 'default' AND unit = 'mtok'"
        ).fetchall()
    finally:
        con.close()
    segments = {
        (pid, metric, amount.normalize()): (plausible, against) for pid, metric, amount, plausible, against in rows
    }
    held = [key for key in fixed if key in segments and not segments[key][0]]
    believed = sorted(f"{key[0]} {key[1]} {key[2]}" for key in fixed if key in segments and segments[key][0])
    print(f"prices later fixed by 1,000x or more: {len(fixed)}; held as implausible: {len(held)}; ", end="")
    print(f"believed: {len(believed)} ({'; '.join(believed[:12])}{' ...' if len(believed) > 12 else ''})")


def nightly(db: Path, work: Path, repeat: int) -> None:
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "replay_server.py")],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PORT": "0"},
    )
    try:
        urls = []
        assert server.stdout is not None
        while True:
            line = server.stdout.readline()
            if not line:
                sys.exit("the replay server stopped")
            if line.startswith("#"):
                break
            name, url = line.removeprefix("export LLMFLATION_").strip().split("_URL=")
            urls.append(f"{name.lower()}={url}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMFLATION_")}
        times: dict[str, list[float]] = {"empty": [], "history": []}
        for _ in range(repeat):
            for kind in times:
                target = work / f"nightly-{kind}.duckdb"
                target.unlink(missing_ok=True)
                if kind == "history":
                    shutil.copy(db, target)
                _, rss, text = run_measured([sys.executable, "-c", NIGHTLY, str(target), *urls], env)
                seconds, status, loaded = text.split()[-3:]
                times[kind].append(float(seconds))
                print(f"nightly run on the {kind} warehouse: {float(seconds):.2f} s, {status}, {loaded} rows, ", end="")
                print(f"peak RSS {rss:.0f} MB")
    finally:
        server.terminate()
        server.wait()
    empty, full = statistics.median(times["empty"]), statistics.median(times["history"])
    print(f"nightly run, median of {repeat}: empty {empty:.2f} s, with the history {full:.2f} s; ", end="")
    print(f"ratio {full / empty:.2f} (target <= 1.2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--until", help="import only versions up to this date (a shorter run)")
    parser.add_argument("--nightly-repeat", type=int, default=3)
    args = parser.parse_args()
    if not BUNDLE.is_file():
        sys.exit(f"no history bundle at {BUNDLE} (set LLMFLATION_FIXTURES)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = import_history(work, args.until)
        check_rebuild(db, work)
        check_fixed(db, work)
        nightly(db, work, args.nightly_repeat)


if __name__ == "__main__":
    main()
