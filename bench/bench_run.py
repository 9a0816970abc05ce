"""Benchmark: `llmflation run` end to end against the same pipeline as plain function calls, and query latency.

Serves every real OpenRouter and LiteLLM payload from ../shared/fixtures (or $LLMFLATION_FIXTURES) over a
local HTTP server and replays them in date order twice: through the CLI (Prefect, ephemeral API, one process
per run) and through flows.pipeline.run_prices in a plain subprocess. Prints wall time, rows loaded per
second, peak RSS, and the ratio (the orchestration overhead). Then times `llmflation sql "select 1"` against
`python -c "import duckdb; ..."` on the same file.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("LLMFLATION_FIXTURES") or ROOT.parent / "shared" / "fixtures")
RUNS = [  # (as-of, litellm version, openrouter snapshot or None)
    ("2023-12-15T00:00:00Z", "model_prices_pypi-1.14.4_2023-12.json", None),
    ("2024-11-25T00:00:00Z", "model_prices_pypi-1.53.1_2024-11.json", None),
    ("2025-02-06T00:00:00Z", "model_prices_2025-02-06.json", None),
    ("2025-09-15T00:00:00Z", "model_prices_2025-09-15.json", "openrouter_models_2025-12-29.json"),
    ("2026-04-20T08:00:00Z", "model_prices_2025-03-14.json", "openrouter_models_2026-04-20.json"),
    ("2026-07-24T00:00:00Z", "model_prices_2026-07-24.json", "openrouter_models_top-weekly_2026-07-17.json"),
]
PLAIN = """
import json, sys
from datetime import datetime
from pathlib import Path
from llmflation.flows.pipeline import run_prices
from llmflation.flows.settings import Settings
db, runs = sys.argv[1], json.loads(sys.argv[2])
loaded = 0
for as_of, urls in runs:
    settings = Settings(db=Path(db), source_urls=urls)
    summary = run_prices(settings, list(urls), datetime.fromisoformat(as_of))
    assert summary.status == "ok", summary
    loaded += sum(o.loaded for o in summary.outcomes)
print(loaded)
"""


class Replay(BaseHTTPRequestHandler):
    bodies: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.bodies.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        pass


def openrouter_body(path: Path) -> bytes:
    wrapped = json.loads(path.read_bytes())
    return json.dumps({"data": wrapped.get("body", wrapped)["data"]}).encode()


def run_with_rss(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{out}")
    return elapsed, usage.ru_maxrss / 1024, out


def main() -> None:
    if not FIXTURES.is_dir():
        sys.exit(f"real fixtures not found at {FIXTURES}; set LLMFLATION_FIXTURES")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Replay)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    plan = []
    for i, (as_of, ll, orr) in enumerate(RUNS):
        Replay.bodies[f"/ll/{i}"] = (FIXTURES / "litellm" / ll).read_bytes()
        urls = {"litellm": f"{base}/ll/{i}"}
        if orr:
            Replay.bodies[f"/or/{i}"] = openrouter_body(FIXTURES / "openrouter" / orr)
            urls["openrouter"] = f"{base}/or/{i}"
        plan.append((as_of, urls))
    payload_mb = sum(len(b) for b in Replay.bodies.values()) / 1e6

    work = Path(tempfile.mkdtemp(prefix="llmflation-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMFLATION_", "PREFECT_"))}
    env["HOME"] = str(work)
    llmflation = [sys.executable, "-m", "llmflation"]

    # Plain functions, no Prefect: one process for all runs.
    plain_db = work / "plain" / "llmflation.duckdb"
    plain_s, plain_rss, out = run_with_rss(
        [sys.executable, "-c", PLAIN, str(plain_db), json.dumps(plan)], {**env, "PYTHONPATH": str(ROOT)}, ROOT
    )
    rows = int(out.strip().splitlines()[-1])

    # The CLI end to end: one `llmflation run` per day, each starting Prefect's ephemeral API.
    cli_s, cli_rss, per_run = 0.0, 0.0, []
    for as_of, urls in plan:
        run_env = {**env, **{f"LLMFLATION_{name.upper()}_URL": url for name, url in urls.items()}}
        cmd = [*llmflation, "run", "--sources", ",".join(urls), "--as-of", as_of, "--db", str(work / "cli.duckdb")]
        seconds, rss, _ = run_with_rss(cmd, run_env, work)
        cli_s += seconds
        cli_rss = max(cli_rss, rss)
        per_run.append(seconds)

    print(f"payloads: {len(Replay.bodies)} real documents, {payload_mb:.1f} MB, replayed as {len(plan)} runs")
    print(f"rows loaded: {rows}")
    print(f"plain pipeline (no Prefect): {plain_s:7.2f} s  {rows / plain_s:9.0f} rows/s  peak RSS {plain_rss:6.0f} MB")
    print(f"llmflation run (Prefect):    {cli_s:7.2f} s  {rows / cli_s:9.0f} rows/s  peak RSS {cli_rss:6.0f} MB")
    print(f"  per run: {', '.join(f'{s:.1f}' for s in per_run)} s (each starts Prefect's ephemeral API)")
    print(
        f"orchestration overhead: {cli_s / plain_s:.1f}x the plain pipeline, "
        f"{(cli_s - plain_s) / len(plan):.1f} s per run"
    )

    # Query latency: the CLI against bare DuckDB on the same file (best and median of 15).
    db = str(work / "cli.duckdb")
    bare = [sys.executable, "-c", f"import duckdb; duckdb.connect({db!r}, read_only=True).sql('select 1').fetchall()"]
    cli_sql = [*llmflation, "sql", "select 1", "--db", db]
    samples: dict[str, list[float]] = {"bare": [], "cli": []}
    for _ in range(15):
        for name, cmd in (("bare", bare), ("cli", cli_sql)):
            start = time.perf_counter()
            subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)
            samples[name].append(time.perf_counter() - start)
    best = {k: min(v) for k, v in samples.items()}
    median = {k: statistics.median(v) for k, v in samples.items()}
    print(f"query: python -c duckdb select 1: best {best['bare'] * 1000:.0f} ms, median {median['bare'] * 1000:.0f} ms")
    print(f"query: llmflation sql 'select 1': best {best['cli'] * 1000:.0f} ms, median {median['cli'] * 1000:.0f} ms")
    print(
        f"query ratio (llmflation / bare duckdb): best {best['cli'] / best['bare']:.2f}x, "
        f"median {median['cli'] / median['bare']:.2f}x"
    )
    server.shutdown()


if __name__ == "__main__":
    main()
