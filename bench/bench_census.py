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
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("LLMFLATION_FIXTURES") or ROOT.parent / "shared" / "fixtures")
PAGE, NEW_PER_DAY, CHANGED, SEED, SAMPLE = 1000, 2000, 300, 20260807, 20_000
DAY0, T0 = date(2026, 1, 1), 1_609_459_200  # first census day; createdAt from 2021-01-01
LICENSES = ("apache-2.0", "mit", "other", "cc-by-4.0", "llama3.1", "gemma", "openrail")
RELATIONS = ("finetune", "quantized", "adapter", "merge")
PARTS = ("fetch", "parse_counters", "add_page", "finish")
TABLES = ("hf_census_changes", "hf_census_state", "hf_census_models")
STAGES = ("census HTTP, no archive", "read_json baseline", "census archive=True", "storage add+finish")


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


def census_worker(db_path: str, base: str, archive: str) -> dict:
    """flows.hub.run_census into a fresh warehouse, with the time spent in its parts."""
    from extractors import http
    from extractors.hub import huggingface
    from flows import hub
    from flows.settings import Settings
    from warehouse import census, load

    spent: Counter[str] = Counter()
    parts = ((http, "fetch"), (huggingface, "parse_counters"), (load, "archive_payload"), (census, "add_page"))
    for module, name in (*parts, (census, "finish")):
        setattr(module, name, timed(getattr(module, name), name, spent))
    settings, clock = Settings(db=Path(db_path), source_urls={"huggingface": base}), time.perf_counter()
    result = hub.run_census(settings, DAY0, "bench", archive=archive == "1")
    raw = sum(p.stat().st_size for p in (settings.data_dir / "raw").rglob("*.gz"))
    return {"s": time.perf_counter() - clock, "models": result["models"], "archive": raw, **spent}


def timed(func, name: str, spent: Counter):
    def wrapper(*args, **kwargs):
        clock, result = time.perf_counter(), func(*args, **kwargs)
        spent[name] += time.perf_counter() - clock
        return result

    return wrapper


def baseline_worker(db_path: str, folder: str) -> dict:
    import duckdb

    con, clock = duckdb.connect(db_path), time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_json('{folder}/*.json')")
    return {"s": time.perf_counter() - clock, "models": con.execute("SELECT count(*) FROM t").fetchone()[0]}


def storage_worker(db_path: str, n: str, days: str, step: str) -> dict:
    """`days` daily censuses through census.start/add_page/finish, rows generated in-process (no HTTP)."""
    from warehouse import census, db

    synth, con, spent, wall = Synth(int(n)), db.connect(db_path), Counter(), time.perf_counter()
    dl, at, lk = (array("q", bytes(8 * synth.total(int(days) - 1))) for _ in range(3))
    for d in range(int(days)):
        day, total, known, batch = DAY0 + timedelta(d), synth.total(d), synth.total(d - 1) if d else 0, []
        census.start(con, day, f"bench-{d}", "synthetic")
        for p in range(-(-total // PAGE)):
            lo, hi, fresh = p * PAGE, min(total, (p + 1) * PAGE), synth.counts(p) if p * PAGE + PAGE > known else []
            for i in range(max(lo, known), hi):
                dl[i], at[i], lk[i] = fresh[i - lo]
            for j, extra, like in synth.changes(p, d) if d else ():
                if lo + j < hi:
                    dl[lo + j], at[lo + j], lk[lo + j] = dl[lo + j] + extra, at[lo + j] + extra, lk[lo + j] + like
            batch += [(repo_id(i), dl[i], at[i], lk[i]) for i in range(lo, hi)]
            if len(batch) >= int(step) or hi == total:
                clock = time.perf_counter()
                census.add_page(con, day, batch, None if hi == total else f"synthetic?cursor={hi}")
                spent["add_page"], batch = spent["add_page"] + time.perf_counter() - clock, []
        clock = time.perf_counter()
        spent["model_days"] += census.finish(con, day)["models"]
        spent["finish_last"] = time.perf_counter() - clock
        spent["finish"] += spent["finish_last"]
    con.execute("CHECKPOINT")
    spent["wall"] = time.perf_counter() - wall
    spent["pages"] = con.execute("SELECT sum(pages) FROM hf_census_days").fetchone()[0]
    spent["free"] = con.execute("PRAGMA database_size").fetchone()[5] * 262144
    for table in TABLES:  # each alone in a fresh file
        for suffix, limit in (("0", " LIMIT 0"), ("", "")):
            con.execute(f"ATTACH '{db_path}.{table}{suffix}' AS c; CREATE TABLE c.t AS FROM {table}{limit}; DETACH c")
        spent[table] = os.path.getsize(f"{db_path}.{table}") - os.path.getsize(f"{db_path}.{table}0")
        spent[table + "_rows"] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    con.close()
    return {**spent, "file": os.path.getsize(db_path)}


def run(worker: str, *args: str) -> dict:
    """One worker in its own interpreter; its result plus its peak RSS (os.wait4)."""
    proc = subprocess.Popen([sys.executable, __file__, "--worker", worker, *args], stdout=subprocess.PIPE, cwd=ROOT)
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{worker} worker failed:\n{out}")
    return {**json.loads(out.strip().splitlines()[-1]), "rss": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=2_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--storage-page", type=int, default=10_000, help="rows per add_page call in the storage part")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="llmflation-census-"))
    (work / "cache").mkdir(), (work / "pages").mkdir()
    parent, child = multiprocessing.Pipe()
    multiprocessing.Process(target=serve, args=(args.models, work / "cache", child), daemon=True).start()
    base = f"http://127.0.0.1:{parent.recv()}/api/models"
    from flows import hub
    from flows.settings import Settings

    url = hub.census_url(Settings(source_urls={"huggingface": base}))
    print(f"synthetic Hub: {args.models:,} models + {NEW_PER_DAY}/day, 30% change daily; census asks {url}")
    clock, session, size, pages = time.perf_counter(), requests.Session(), 0, 0
    while url:  # every page once, cold (the server generates it), kept as files for the read_json baseline
        response = session.get(url)
        (work / "pages" / f"{pages:05d}.json").write_bytes(response.content)
        size, pages, url = size + len(response.content), pages + 1, response.links.get("next", {}).get("url")
    print(f"fetch only, cold server: {pages} pages, {size / 1e6:.0f} MB in {time.perf_counter() - clock:.1f} s")
    c = run("census", str(work / "census" / "c.duckdb"), base, "0")  # warm server: pages come from its cache
    b = run("baseline", str(work / "baseline.duckdb"), str(work / "pages"))
    a = run("census", str(work / "sample" / "c.duckdb"), f"{base}?n={SAMPLE}", "1")
    st = run("storage", str(work / "storage.duckdb"), str(args.models), str(args.days), str(args.storage_page))
    md, arch = st["model_days"], a["archive"] / a["models"]
    ratio, per_md = c["models"] / c["s"] / (b["models"] / b["s"]), st["file"] / md
    st["s"], st["models"] = st["add_page"] + st["finish"], md
    lines = [
        "census run_census(archive=False), 1000/page: " + ", ".join(f"{k} {c[k]:.1f} s" for k in PARTS),
        "  per page: " + ", ".join(f"{k} {c[k] / pages * 1e3:.1f} ms" for k in PARTS[:3]),
        f"archive=True, {a['models']:,} models: archive_payload {a['archive_payload'] / a['models'] * 1e6:.1f} ms/page,"
        f" {arch:.0f} B/model gzipped, ~{arch * args.models / 1e6:.0f} MB a day at {args.models:,} models",
        f"storage: {args.days} days, {md:,} model-days, worker {st['wall']:.0f} s; add_page of {args.storage_page} rows"
        f" {st['add_page'] / st['pages'] * 1e3:.0f} ms each ({st['add_page']:.0f} s), finish {st['finish']:.0f} s "
        f"(last day {st['finish_last']:.1f} s)",
        f"  file after CHECKPOINT {st['file'] / 1e6:.1f} MB, {st['free'] / 1e6:.1f} MB of it free blocks "
        f"(an empty warehouse: 1.8 MB) = {per_md:.2f} B/model-day",
        *(
            f"  {t}: {st[t + '_rows']:,} rows, {st[t] / 1e6:.1f} MB alone ({st[t] / st[t + '_rows']:.2f} B/row)"
            for t in TABLES
        ),
        f"\n{'stage':<24}{'models':>12}{'seconds':>9}{'models/s':>11}{'peak RSS MB':>12}",
    ]
    for name, r in zip(STAGES, (c, b, a, st), strict=True):
        lines.append(f"{name:<24}{r['models']:>12,}{r['s']:>9.1f}{r['models'] / r['s']:>11,.0f}{r['rss']:>12.0f}")
    lines.append(
        f"census/baseline {ratio:.2f} (target >= 0.5); {per_md:.2f} B/model-day (target <= 3); "
        f"hf_census_changes {st['hf_census_changes_rows']:,} rows, {st['hf_census_changes'] / 1e6:.1f} MB"
    )
    print("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        sys.path.insert(0, str(ROOT))
        worker = {"census": census_worker, "baseline": baseline_worker, "storage": storage_worker}[sys.argv[2]]
        print(json.dumps(worker(*sys.argv[3:])))
    else:
        main()
