"""Benchmark: the full-Hub census against a synthetic Hub, DuckDB's own read_json, and 30 days of storage.

A synthetic GET /api/models (own process, Link cursors, 1000 per page, pages generated from the cursor with a seeded
RNG, counters moving per `day`) is mixed from the real snapshots in ../shared/fixtures/hf: 90% of models get
heavy-tailed small counts (downloads Pareto(1.2)-1, likes Pareto(2)-1), 10% a resampled real (downloads, likes) pair
scaled by 10**U(-2,0); pipeline_tag/library_name follow the real frequencies. Each day 30% of the listed models
gain downloads (likes too for 1 in 10 of them) and 2000 new models appear. Prints figures only, no assertions.

    /work/venv/bin/python bench/bench_census.py --models 200000 --days 5
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, unquote_to_bytes, urlencode, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("LLMFLATION_FIXTURES") or ROOT.parent / "shared" / "fixtures")
PAGE, NEW_PER_DAY, CHANGED, SEED = 1000, 2000, 300, 20260807
DAY0, T0 = date(2026, 1, 1), 1_609_459_200  # first census day; createdAt from 2021-01-01
LICENSES = ("apache-2.0", "mit", "other", "cc-by-4.0", "llama3.1", "gemma", "openrail")
RELATIONS = ("finetune", "quantized", "adapter", "merge")
PARTS = ("get", "finish")
TABLES = ("hf_census_changes", "hf_census_state", "hf_census_models")


def repo_id(i: int) -> str:
    return f"user{i * 7919 % 400_009}/model-{i:x}"


class Synth:
    """Hub list items of N models (+2000 a day), page by page, deterministic; nothing held between pages."""

    def __init__(self, n: int) -> None:
        self.n, self.real, pipes, libs = n, [], Counter(), Counter()
        for path in sorted((FIXTURES / "hf" / "daily_snapshots_namhyeokwoo").glob("*.json")):
            for m in json.loads(path.read_bytes())["models"]:
                self.real.append((m.get("downloads") or 0, m.get("likes") or 0))
                pipes[m.get("pipeline_tag")] += 1
                libs[m.get("library_name")] += 1
        self.pipes, self.libs = (list(c) for c in (pipes, libs))
        self.pipe_w, self.lib_w = (list(c.values()) for c in (pipes, libs))

    def total(self, day: int, n: int | None = None) -> int:
        return (n or self.n) + NEW_PER_DAY * day

    def counts(self, page: int) -> list[tuple[int, int, int]]:
        """(downloads, downloadsAllTime, likes) of a page's models on the day they appear."""
        rng, out = random.Random(SEED * 1_000_003 + page), []
        for _ in range(PAGE):
            if rng.random() < 0.1:
                dl, likes = rng.choice(self.real)
                scale = 10 ** rng.uniform(-2, 0)
                dl, likes = int(dl * scale), int(likes * scale)
            else:
                dl, likes = int(rng.paretovariate(1.2)) - 1, int(rng.paretovariate(2.0)) - 1
            out.append((dl, dl + int(dl * (rng.paretovariate(1.5) - 1) * 12), likes))
        return out

    def changes(self, page: int, day: int) -> list[tuple[int, int, int]]:
        """(offset, extra downloads, extra likes) of the 30% of a page's models whose counters move that day."""
        rng = random.Random((SEED * 1_000_003 + page) * 64 + day)
        return [(j, int(rng.paretovariate(1.1)), rng.random() < 0.1) for j in sorted(rng.sample(range(PAGE), CHANGED))]

    def items(self, page: int, day: int, total: int) -> list[dict]:
        rng, counts = random.Random(-SEED - page), [list(c) for c in self.counts(page)]
        for k in range(1, day + 1):
            for j, extra, like in self.changes(page, k):
                if page * PAGE + j < total - NEW_PER_DAY * (day - k):  # the model existed on day k
                    counts[j][0] += extra
                    counts[j][1] += extra
                    counts[j][2] += like
        pipes, libs, out = rng.choices(self.pipes, self.pipe_w, k=PAGE), rng.choices(self.libs, self.lib_w, k=PAGE), []
        for j in range(min(PAGE, total - page * PAGE)):
            i, (dl, all_time, likes), created, gate = page * PAGE + j, counts[j], rng.randrange(150 << 20), rng.random()
            tags = [t for t in (libs[j], pipes[j]) if t] + [f"license:{rng.choice(LICENSES)}", "region:us"]
            if rng.random() < 0.3:
                tags.append(f"base_model:{rng.choice(RELATIONS)}:user{rng.randrange(400_009)}/base-{rng.randrange(99)}")
            item = {"_id": f"{i:024x}", "id": repo_id(i), "downloads": dl, "downloadsAllTime": all_time, "likes": likes}
            item["trendingScore"] = likes * rng.randrange(4) // 10
            item["pipeline_tag"], item["library_name"] = pipes[j], libs[j]
            item["createdAt"], item["lastModified"] = iso(T0 + created), iso(T0 + created * 1.05)
            item["gated"], item["tags"] = False if gate < 0.93 else "auto" if gate < 0.98 else "manual", tags
            out.append(item)
        return out


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))


class Hub(BaseHTTPRequestHandler):
    """GET /api/models?[cursor=K][&day=D][&n=N][&expand[]=f...]: a raw JSON list; Link rel=next keeps the query."""

    protocol_version = "HTTP/1.1"
    synth: ClassVar[Synth]
    cache: ClassVar[Path]  # generated pages as bytes on disk, so a second pass measures the client, not the generator

    def do_GET(self) -> None:
        url, q = urlsplit(self.path), parse_qs(urlsplit(self.path).query)
        cursor, day = int(q.pop("cursor", ["0"])[0]), int(q.get("day", ["0"])[0])
        total, fields = self.synth.total(day, int(q.get("n", ["0"])[0])), q.get("expand[]")
        cached = self.cache / f"{day}-{total}-{cursor}-{'.'.join(fields or ['all'])}.json"
        if url.path != "/api/models" or cursor % PAGE:
            body = b"[]"
        elif cached.exists():
            body = cached.read_bytes()
        else:
            items = self.synth.items(cursor // PAGE, day, total)
            if fields:
                items = [{k: v for k, v in item.items() if k in ("_id", "id", *fields)} for item in items]
            body = json.dumps(items, separators=(",", ":")).encode()
            cached.with_suffix(f".{os.getpid()}.{id(self)}").write_bytes(body)
            cached.with_suffix(f".{os.getpid()}.{id(self)}").replace(cached)
        self.send_response(200 if url.path == "/api/models" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if url.path == "/api/models" and cursor + PAGE < total:
            query = urlencode({"cursor": cursor + PAGE, **q}, doseq=True)
            self.send_header("Link", f'<http://{self.headers["Host"]}/api/models?{query}>; rel="next"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve(n: int, cache: Path, conn) -> None:
    Hub.synth, Hub.cache = Synth(n), cache
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    conn.send(server.server_address[1])
    server.serve_forever()


def replay(pages: Path, conn) -> None:
    """The pages of a cold pass, answered from memory with prebuilt responses (keep-alive, a thread per connection,
    blocking sockets): the stand-in for the Hub's servers, which are not on this machine, costs the 2 cores as little
    CPU as possible (about a sixth of an asyncio server's) while the census runs."""
    import socket

    missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    server = socket.create_server(("127.0.0.1", 0))
    port, routes = server.getsockname()[1], {}
    for line in (pages / "index.tsv").read_text().splitlines():
        target, name, following = line.split("\t")
        body = (pages / name).read_bytes()
        link = f'Link: <http://127.0.0.1:{port}{following}>; rel="next"\r\n' if following else ""
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{link}\r\n"
        routes[unquote_to_bytes(target)] = head.encode() + body

    def answer(sock: socket.socket) -> None:
        pending = b""
        with sock:
            while True:
                while b"\r\n\r\n" not in pending:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    pending += chunk
                head, _, pending = pending.partition(b"\r\n\r\n")
                sock.sendall(routes.get(unquote_to_bytes(head.split(b" ", 2)[1]), missing))

    conn.send(port)
    while True:
        sock, _ = server.accept()
        threading.Thread(target=answer, args=(sock,), daemon=True).start()


def census_worker(db_path: str, *bases: str) -> dict:
    """flows.hub.run_census into a fresh warehouse, one census day per base URL (raw pages archived, as always),
    with the time spent in its parts on each day. Timed from the call: the warehouse is created (its schema
    migrated) and the census's modules imported beforehand, as in any process that runs a census after start-up."""
    from llmflation.extractors.sources import huggingface
    from llmflation.flows import hub
    from llmflation.flows.settings import Settings
    from llmflation.warehouse import census, db

    db.connect(db_path).close()

    spent: Counter[str] = Counter()
    huggingface.fetch = timed(huggingface.fetch, "get", spent)
    census.apply = timed(census.apply, "finish", spent)
    out: dict = {}
    stop, peak = threading.Event(), [0]

    def sample() -> None:  # the census process and any children, every 50 ms (psutil costs CPU too)
        import psutil

        me = psutil.Process()
        while not stop.wait(0.05):
            try:
                tree = [me, *me.children(recursive=True)]
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                continue

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for d, base in enumerate(bases):
        spent.clear()
        settings, clock = Settings(db=Path(db_path), source_urls={"huggingface": base}), time.perf_counter()
        result = hub.run_census(settings, DAY0 + timedelta(d), "bench")
        out[f"day{d}"] = {"s": time.perf_counter() - clock, **result, **spent}
    stop.set()
    sampler.join()
    out["tree_rss"], out["workers"] = peak[0] / 2**20, 1
    out["archive"] = sum(p.stat().st_size for p in (Path(db_path).parent / "raw").rglob("*.*"))
    return out


def timed(func, name: str, spent: Counter):
    def wrapper(*args, **kwargs):
        clock, result = time.perf_counter(), func(*args, **kwargs)
        spent[name] += time.perf_counter() - clock
        return result

    return wrapper


def walk_worker(base: str) -> dict:
    """The cursor walk alone through the census's own client: every page fetched, nothing decoded or stored."""
    from llmflation.extractors import http
    from llmflation.flows import hub
    from llmflation.flows.settings import Settings

    session, clock, models = http.make_session(), time.perf_counter(), 0
    url = hub.census_url(Settings(source_urls={"huggingface": base}))
    while url:
        page = http.fetch(session, "huggingface", url)
        models += page.content.count(b'"id":')
        url = page.links.get("next")
    return {"s": time.perf_counter() - clock, "models": models}


def baseline_worker(db_path: str, folder: str) -> dict:
    import duckdb

    con, clock = duckdb.connect(db_path), time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_json('{folder}/*.json')")
    return {"s": time.perf_counter() - clock, "models": con.execute("SELECT count(*) FROM t").fetchone()[0]}


def storage_worker(db_path: str, n: str, days: str, step: str) -> dict:
    """`days` daily censuses applied through census.apply, rows generated in-process (no HTTP, no raw pages)."""
    from llmflation.warehouse import census, db

    synth, spent, wall = Synth(int(n)), Counter(), time.perf_counter()
    db.connect(db_path).close()
    dl, at, lk = (array("q", bytes(8 * synth.total(int(days) - 1))) for _ in range(3))
    for d in range(int(days)):
        day, total, known = DAY0 + timedelta(d), synth.total(d), synth.total(d - 1) if d else 0
        con = db.connect(db_path)
        census.begin(con, Path(db_path).parent, day, f"bench-{d}", "synthetic")
        con.close()
        rows, clock = [], time.perf_counter()
        for p in range(-(-total // PAGE)):
            lo, hi, fresh = p * PAGE, min(total, (p + 1) * PAGE), synth.counts(p) if p * PAGE + PAGE > known else []
            for i in range(max(lo, known), hi):
                dl[i], at[i], lk[i] = fresh[i - lo]
            for j, extra, like in synth.changes(p, d) if d else ():
                if lo + j < hi:
                    dl[lo + j], at[lo + j], lk[lo + j] = dl[lo + j] + extra, at[lo + j] + extra, lk[lo + j] + like
            columns = ([repo_id(i) for i in range(lo, hi)], dl[lo:hi].tolist(), at[lo:hi].tolist(), lk[lo:hi].tolist())
            rows.append(census.page_rows(p, columns))
        spent["add_page"] += time.perf_counter() - clock
        clock = time.perf_counter()
        spent["model_days"] += census.apply(Path(db_path), day, f"bench-{d}", rows, 256)["models"]
        spent["finish_last"] = time.perf_counter() - clock
        spent["finish"] += spent["finish_last"]
    con = db.connect(db_path)
    con.execute("CHECKPOINT")
    spent["wall"] = time.perf_counter() - wall
    spent["free"] = con.execute("PRAGMA database_size").fetchone()[5] * 262144
    for table in TABLES:  # each alone in a fresh file
        for suffix, limit in (("0", " LIMIT 0"), ("", "")):
            con.execute(f"ATTACH '{db_path}.{table}{suffix}' AS c; CREATE TABLE c.t AS FROM {table}{limit}; DETACH c")
        spent[table] = os.path.getsize(f"{db_path}.{table}") - os.path.getsize(f"{db_path}.{table}0")
        spent[table + "_rows"] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    con.close()
    return {**spent, "file": os.path.getsize(db_path)}


def run(worker: str, *args: str) -> dict:
    """One worker in its own interpreter; its result plus its peak RSS, wall and CPU time (its child processes'
    included, os.wait4)."""
    clock = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--worker", worker, *args], stdout=subprocess.PIPE, cwd=ROOT)
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{worker} worker failed:\n{out}")
    result = json.loads(out.strip().splitlines()[-1])
    cpu = usage.ru_utime + usage.ru_stime
    return {**result, "rss": usage.ru_maxrss / 1024, "wall": time.perf_counter() - clock, "cpu": cpu}


def cold_pass(base: str, folder: Path) -> tuple[int, int, float]:
    """Every page of the census listing once from the generating server, kept as files (the read_json baseline
    reads them) with an index the replay server answers from."""
    from llmflation.flows import hub
    from llmflation.flows.settings import Settings

    folder.mkdir(parents=True)
    url = hub.census_url(Settings(source_urls={"huggingface": base}))
    clock, session, size, pages, index = time.perf_counter(), requests.Session(), 0, 0, []
    while url:
        response = session.get(url)
        name, following = f"{pages:05d}.json", response.links.get("next", {}).get("url")
        (folder / name).write_bytes(response.content)
        index.append(f"{target(url)}\t{name}\t{target(following) if following else ''}")
        size, pages, url = size + len(response.content), pages + 1, following
    (folder / "index.tsv").write_text("\n".join(index))
    return pages, size, time.perf_counter() - clock


def target(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=2_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3, help="census and baseline runs, in turns")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="llmflation-census-"))
    (work / "cache").mkdir()
    parent, child = multiprocessing.Pipe()
    generator = multiprocessing.Process(target=serve, args=(args.models, work / "cache", child), daemon=True)
    generator.start()
    base = f"http://127.0.0.1:{parent.recv()}/api/models"
    print(f"synthetic Hub: {args.models:,} models + {NEW_PER_DAY}/day, 30% change daily, 1000 a page")
    index = []
    for d in (0, 1):  # the first census (every model new) and a nightly one (30% changed, 2000 new)
        pages, size, seconds = cold_pass(f"{base}?day={d}", work / f"day{d}")
        print(f"  day {d}: {pages} pages, {size / 1e6:.0f} MB, generated in {seconds:.1f} s")
        for line in (work / f"day{d}" / "index.tsv").read_text().splitlines():
            path, name, following = line.split("\t")
            index.append(f"{path}\tday{d}/{name}\t{following}")
    generator.terminate()
    shutil.rmtree(work / "cache")
    (work / "index.tsv").write_text("\n".join(index))
    parent, child = multiprocessing.Pipe()
    multiprocessing.Process(target=replay, args=(work, child), daemon=True).start()
    base = f"http://127.0.0.1:{parent.recv()}/api/models"
    censuses, baselines = [], []
    for k in range(args.repeat):  # census and baseline in turns, so both see the shared machine's ups and downs
        censuses.append(run("census", str(work / f"census{k}" / "c.duckdb"), f"{base}?day=0", f"{base}?day=1"))
        baselines.append(run("baseline", str(work / f"baseline{k}.duckdb"), str(work / "day0")))
    runs = [
        [c[f"day{d}"]["models"] / c[f"day{d}"]["s"] / (b["models"] / b["s"]) for d in (0, 1)]
        for c, b in zip(censuses, baselines, strict=True)
    ]
    c = sorted(censuses, key=lambda r: r["day1"]["s"])[len(censuses) // 2]  # the median run, for its breakdown
    b = sorted(baselines, key=lambda r: r["s"])[len(baselines) // 2]
    w = run("walk", f"{base}?day=0")
    st = run("storage", str(work / "storage.duckdb"), str(args.models), str(args.days), "0")
    md, pages = st["model_days"], c["day0"]["pages"]
    per_md = st["file"] / md
    st["s"], st["models"] = st["add_page"] + st["finish"], md
    lines = []
    for d, label in ((0, "the first, every model new"), (1, "the next night, 30% changed")):
        r = c[f"day{d}"]
        lines += [
            f"census day {d} ({label}): {r['models']:,} models in {r['s']:.1f} s; "
            + ", ".join(f"{k} {r[k]:.1f} s" for k in PARTS),
            f"  per page: fetch {r['get'] / pages * 1e3:.2f} ms; apply {r['finish']:.1f} s",
        ]
    lines += [
        f"  raw pages archived for both days: {c['archive'] / 1e6:.1f} MB compressed",
        f"  the census's processes used {c['cpu']:.1f} s of CPU for both days in {c['wall']:.1f} s, start-up included:"
        f" {c['cpu'] / c['wall']:.2f} of the machine's {os.cpu_count()} cores on average",
        f"storage: {args.days} days, {md:,} model-days, worker {st['wall']:.0f} s; rows built"
        f" in {st['add_page']:.0f} s, finish {st['finish']:.0f} s (last day {st['finish_last']:.1f} s)",
        f"  file after CHECKPOINT {st['file'] / 1e6:.1f} MB, {st['free'] / 1e6:.1f} MB of it free blocks "
        f"(an empty warehouse: 1.8 MB) = {per_md:.2f} B/model-day",
        *(
            f"  {t}: {st[t + '_rows']:,} rows, {st[t] / 1e6:.1f} MB alone ({st[t] / st[t + '_rows']:.2f} B/row)"
            for t in TABLES
        ),
        f"\n{'stage':<26}{'models':>12}{'seconds':>9}{'models/s':>11}{'peak RSS MB':>12}",
    ]
    census_rss = max(max(r["tree_rss"], r["rss"]) for r in censuses)  # sampled over the process tree; its own peak
    rows = (
        ("census day 0 (first)", c["day0"], census_rss),
        ("census day 1 (nightly)", c["day1"], census_rss),
        ("read_json baseline", b, b["rss"]),
        ("cursor walk alone", w, w["rss"]),
        ("storage stage+finish", st, st["rss"]),
    )
    for name, r, rss in rows:
        lines.append(f"{name:<26}{r['models']:>12,}{r['s']:>9.1f}{r['models'] / r['s']:>11,.0f}{rss:>12.0f}")
    ratios = [statistics.median(r[d] for r in runs) for d in (0, 1)]
    lines.append(
        f"census/baseline in {args.repeat} runs, each against the baseline measured next to it: first census "
        + ", ".join(f"{r[0]:.2f}" for r in runs)
        + "; nightly "
        + ", ".join(f"{r[1]:.2f}" for r in runs)
        + "; the table shows the median run"
    )
    lines.append(
        f"census/baseline, median: first census {ratios[0]:.2f}, nightly {ratios[1]:.2f}; "
        f"peak RSS of the census {census_rss:.0f} MB (target < 600); "
        f"{per_md:.2f} B/model-day at {args.days} days (target <= 3)"
    )
    print("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        sys.path.insert(0, str(ROOT))
        workers = {"census": census_worker, "baseline": baseline_worker, "walk": walk_worker, "storage": storage_worker}
        worker = workers[sys.argv[2]]
        print(json.dumps(worker(*sys.argv[3:]), default=str))
    else:
        main()
