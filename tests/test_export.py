"""`llmflation export`: the public views and the census as Parquet that DuckDB and pyarrow read back row for row,
a manifest whose hashes verify, and a second export that rewrites only what changed."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow.dataset
import pytest
from pytest_httpserver import HTTPServer

from llmflation.flows import export, hub
from llmflation.flows.settings import Settings
from tests.helpers import ROOT, cli, real_glob
from tests.test_census import CensusHub, _models

CENSUS_DAYS = ("2026-08-01", "2026-08-02")
# views the saved data leaves empty, and why (the test checks that they are, so each reason stays true)
EMPTY = {
    "adoption_growth": "the saved daily Hub snapshots span 8 days, less than its shortest window (30 days)",
    "base_model_derivatives": "the saved Hub snapshots carry no base-model lineage",
    "alert_history": "each source runs once on the saved market: every event is a baseline, none is alerted",
}


@pytest.fixture
def market_with_census(market: Settings, tmp_path: Path, httpserver: HTTPServer) -> Settings:
    """A copy of the saved market's warehouse, plus the saved Hub snapshots and two days of a full-Hub census from a
    local Hub."""
    db = tmp_path / "data" / "llmflation.duckdb"
    db.parent.mkdir(parents=True)
    shutil.copyfile(market.db, db)
    settings = Settings(
        db=db, source_urls={"huggingface": httpserver.url_for("/api/models")}, http_retries=1, http_backoff=0.01
    )
    daily, monthly = real_glob("hf/daily_snapshots_namhyeokwoo/*.json"), real_glob("hf/monthly_downloads_kblab/*.csv")
    assert hub.import_files(settings, [daily[0].parent, monthly[0].parent]).status == "ok"
    for bump, day in enumerate(CENSUS_DAYS):
        httpserver.clear()
        httpserver.expect_request("/api/models").respond_with_handler(CensusHub(_models(1200, bump=bump * 5)))
        assert hub.census(settings, datetime.fromisoformat(day).replace(tzinfo=UTC)).status == "ok"
    return settings


def _files(out: Path) -> dict[str, tuple[int, int]]:
    """Every file of an export, with its inode and modification time: a rewritten file changes both."""
    return {
        p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()
    }


def test_duckdb_and_pyarrow_read_back_exactly_the_views_rows(market_with_census: Settings, tmp_path: Path) -> None:
    out = tmp_path / "export"
    summary = export.export(market_with_census.db, out)
    assert summary.written > 0 and summary.unchanged == 0
    manifest = json.loads((out / "manifest.json").read_text())
    views = export.public_views()
    assert set(manifest["datasets"]) == {*views, "census"}
    con = duckdb.connect(str(market_with_census.db), read_only=True)
    for view in views:
        names = [d[0] for d in con.execute(f"SELECT * FROM {view} LIMIT 0").description]
        columns = ", ".join(f'"{c}"' for c in names)
        count = con.execute(f"SELECT count(*) FROM {view}").fetchall()[0][0]
        assert (count == 0) == (view in EMPTY), f"{view}: {count} rows ({EMPTY.get(view, 'expected some')})"
        files = f"{out}/{view}/**/*.parquet"
        parquet = f"read_parquet('{files}', hive_partitioning = true)"
        assert con.execute(f"SELECT count(*) FROM {parquet}").fetchall()[0][0] == count, view
        for a, b in ((parquet, view), (view, parquet)):
            extra = con.execute(
                f"SELECT count(*) FROM (SELECT {columns} FROM {a} EXCEPT ALL SELECT {columns} FROM {b})"
            )
            assert extra.fetchall() == [(0,)], f"{view}: rows of {a} not in {b}"
        arrow_rows = pyarrow.dataset.dataset(out / view, format="parquet", partitioning="hive").to_table()
        assert arrow_rows.num_rows == count and set(names) <= set(arrow_rows.column_names), view
        assert set(arrow_rows.column_names) - set(names) == set(manifest["datasets"][view]["partitioned_by"]) - {
            "source"
        }
        from_arrow = con.execute(
            f"SELECT count(*) FROM (SELECT {columns} FROM arrow_rows EXCEPT ALL SELECT {columns} FROM {view})"
        )
        assert from_arrow.fetchall() == [(0,)], f"{view}: pyarrow reads rows the view does not hold"
        assert manifest["datasets"][view]["rows"] == count
    for day in CENSUS_DAYS:
        census = f"(SELECT * FROM census_as_of(DATE '{day}'))"
        parquet = (
            f"(SELECT * EXCLUDE (year, month, day) FROM read_parquet('{out}/census/**/*.parquet', "
            f"hive_partitioning = true) WHERE CAST(day AS VARCHAR) = '{day}')"
        )
        assert con.execute(f"SELECT count(*) FROM {census}").fetchall() == [(1200,)]
        for a, b in ((parquet, census), (census, parquet)):
            assert con.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchall() == [(0,)], day
    census = pyarrow.dataset.dataset(out / "census", format="parquet", partitioning="hive").to_table()
    assert census.num_rows == 2400 == manifest["datasets"]["census"]["rows"]
    # partitioned as the manifest says: by source, then the UTC year and month of the view's time column
    assert manifest["datasets"]["price_history"]["partitioned_by"] == ["source", "year", "month"]
    assert (out / "price_history" / "source=openai").is_dir()
    assert sorted(p.name for p in (out / "census" / "year=2026" / "month=8").iterdir()) == [
        f"day={day}" for day in CENSUS_DAYS
    ]


def test_a_second_export_with_nothing_new_rewrites_nothing(market_with_census: Settings, tmp_path: Path) -> None:
    out = tmp_path / "export"
    first = export.export(market_with_census.db, out)
    files = _files(out)
    manifest = json.loads((out / "manifest.json").read_text())
    again = export.export(market_with_census.db, out)
    assert (again.written, again.removed, again.unchanged) == (0, 0, first.written)
    after = _files(out)
    assert {k: v for k, v in after.items() if k != "manifest.json"} == {
        k: v for k, v in files.items() if k != "manifest.json"
    }
    renewed = json.loads((out / "manifest.json").read_text())
    assert renewed["datasets"] == manifest["datasets"]
    # --since: months before it are not read again, and stay in the manifest as they were
    since = export.export(market_with_census.db, out, since=date(2026, 8, 1))
    assert since.written == 0 and since.removed == 0
    assert json.loads((out / "manifest.json").read_text())["datasets"] == manifest["datasets"]
    assert {k: v for k, v in _files(out).items() if k != "manifest.json"} == {
        k: v for k, v in files.items() if k != "manifest.json"
    }


def test_a_new_census_day_writes_its_file_and_leaves_the_others(
    market_with_census: Settings, tmp_path: Path, httpserver: HTTPServer
) -> None:
    out = tmp_path / "export"
    export.export(market_with_census.db, out)
    files = _files(out)
    httpserver.clear()
    httpserver.expect_request("/api/models").respond_with_handler(CensusHub(_models(1300, bump=9)))
    assert hub.census(market_with_census, datetime(2026, 8, 3, tzinfo=UTC)).status == "ok"
    summary = export.export(market_with_census.db, out, since=date(2026, 8, 3))
    written = {k for k, v in _files(out).items() if files.get(k) != v} - {"manifest.json"}
    assert "census/year=2026/month=8/day=2026-08-03/data.parquet" in written
    assert not any(
        path.startswith(("census/", "price_history/", "offers/"))
        for path in written - {"census/year=2026/month=8/day=2026-08-03/data.parquet"}
    )
    assert summary.written == len(written)
    assert export.verify(out) == []


def test_the_manifest_hashes_verify_and_document_every_column(market_with_census: Settings, tmp_path: Path) -> None:
    out = tmp_path / "export"
    export.export(market_with_census.db, out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["as_of"] is not None and manifest["format"] == export.FORMAT
    listed = set()
    for name, dataset in manifest["datasets"].items():
        assert dataset["description"], name
        for column in dataset["columns"]:
            assert column["doc"], f"{name}.{column['name']} has no meaning in the SQL contract"
        for entry in dataset["files"]:
            path = out / entry["path"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
            assert path.stat().st_size == entry["bytes"]
            listed.add(entry["path"])
        assert dataset["rows"] == sum(entry["rows"] for entry in dataset["files"])
    assert listed == {p.relative_to(out).as_posix() for p in out.rglob("*.parquet")}
    assert export.verify(out) == []
    damaged = out / sorted(listed)[0]
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"\0")
    assert export.verify(out) == [f"{damaged.relative_to(out).parts[0]}: {sorted(listed)[0]} does not match its sha256"]
    # the next export puts back the file whose bytes no longer match
    assert export.export(market_with_census.db, out).written == 1 and export.verify(out) == []


def test_the_sql_contract_documents_every_column_of_every_public_view(warehouse: Settings) -> None:
    con = duckdb.connect(str(warehouse.db), read_only=True)
    expected = {
        (view, column)
        for view in export.public_views()
        for column in (d[0] for d in con.execute(f"SELECT * FROM {view} LIMIT 0").description)
    }
    census = {("census", d[0]) for d in con.execute("SELECT * FROM census_as_of(DATE '2026-01-01')").description}
    documented = set(con.execute('SELECT view, "column" FROM sql_contract').fetchall())
    assert documented == expected | census | {("census", "day")}
    with open(ROOT / "warehouse" / "data" / "contract.csv", newline="") as handle:
        assert all(row["meaning"].strip() for row in csv.DictReader(handle))


def test_the_cli_exports_and_says_what_it_wrote(market_with_census: Settings, tmp_path: Path) -> None:
    env = {"LLMFLATION_DB": str(market_with_census.db)}
    out = tmp_path / "export"
    first = cli("export", str(out), env=env)
    assert first.returncode == 0, first.stderr
    datasets = len(export.public_views()) + 1
    assert first.stdout.startswith(f"exported {datasets} datasets (") and ", 0 unchanged, 0 removed" in first.stdout
    again = cli("export", str(out), "--since", "2026-08-01", env=env)
    assert again.returncode == 0 and ": 0 file(s) written," in again.stdout
    wrong = cli("export", str(out), "--since", "last week", env=env)
    assert wrong.returncode == 1
    assert wrong.stderr == (
        "error: --since 'last week' is not an ISO 8601 timestamp (for example 2025-12-29T18:00:00Z)\n"
    )
