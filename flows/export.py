"""`llmflation export DIR`: the public views, and the census as of each day, as Parquet that DuckDB, Polars,
pyarrow, Spark or Trino read as it is, with a manifest of what every file holds.

Layout: DIR/<view>/[source=<source>/][year=<y>/month=<m>/]data.parquet (Hive partitioning: the partition columns
live in the path, not in the file) and DIR/census/year=<y>/month=<m>/day=<date>/data.parquet. A file is replaced
only when its bytes change (DuckDB writes the same rows in the same order to the same bytes), each replacement is
atomic, and manifest.json is written last.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb

from llmflation import __version__
from llmflation.warehouse import db

MANIFEST = "manifest.json"
FORMAT = 1
# the column whose UTC month partitions a view; views not named here are not split by time
TIME_COLUMN = {
    "price_history": "valid_from",
    "current_prices": "valid_from",
    "unit_price_history": "valid_from",
    "offers": "valid_from",
    "price_events": "detected_at",
    "fx_rates": "date",
    "model_downloads": "snapshot_date",
    "family_adoption": "date",
    "base_model_derivatives": "date",
    "adoption_growth": "to_date",
    "open_vs_closed": "day",
}
CENSUS = "census"
_PUBLIC = re.compile(
    r"((?:^--.*\n)+)\s*CREATE\s+(?:OR\s+REPLACE\s+)?(VIEW|MACRO)\s+(\w+)", re.MULTILINE | re.IGNORECASE
)


@dataclass
class Summary:
    """What an export did."""

    out: Path
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    rows: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        datasets = len(self.rows)
        return (
            f"exported {datasets} datasets ({sum(self.rows.values()):,} rows) to {self.out}: "
            f"{self.written} file(s) written, {self.unchanged} unchanged, {self.removed} removed"
        )


def public_views() -> dict[str, str]:
    """Every view of the SQL contract, with the description its definition carries."""
    found = {}
    for statement in db.view_sql():
        for match in _PUBLIC.finditer(statement):
            comment, kind, name = match.groups()
            if kind.upper() == "VIEW" and "Public contract" in comment:
                found[name] = " ".join(line.lstrip("- ").strip() for line in comment.splitlines()).strip()
    return found


def export(
    db_path: Path,
    out: Path,
    since: date | None = None,
    on_dataset: Callable[[str], None] | None = None,
) -> Summary:
    """Write (or bring up to date) the export in out. since: partitions of months before it, and census days
    before it, are left as they are."""
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    previous = _read_manifest(manifest_path)
    summary = Summary(out)
    con = db.connect(db_path, read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("BEGIN TRANSACTION")  # every dataset from the same state of the warehouse
        docs = column_docs(con)
        datasets: dict[str, Any] = {}
        views = public_views()
        for name, description in views.items():
            old = previous.get("datasets", {}).get(name, {})
            datasets[name] = _export_view(con, out, name, description, docs.get(name, {}), old, since, summary)
            if on_dataset:
                on_dataset(name)
        old = previous.get("datasets", {}).get(CENSUS, {})
        datasets[CENSUS] = _export_census(con, out, docs.get(CENSUS, {}), old, since, summary)
        if on_dataset:
            on_dataset(CENSUS)
        as_of = con.execute("SELECT max(finished_at) FROM runs").fetchall()[0][0]
    finally:
        con.close()
    manifest = {
        "format": FORMAT,
        "llmflation": __version__,
        "as_of": as_of.astimezone(UTC).isoformat() if as_of else None,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "read_with": "SELECT * FROM read_parquet('DIR/<dataset>/**/*.parquet', hive_partitioning = true)",
        "datasets": datasets,
    }
    _replace_text(manifest_path, json.dumps(manifest, indent=2, default=str) + "\n")
    summary.rows = {name: dataset["rows"] for name, dataset in datasets.items()}
    return summary


def _export_view(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    name: str,
    description: str,
    docs: dict[str, str],
    old: dict[str, Any],
    since: date | None,
    summary: Summary,
) -> dict[str, Any]:
    columns = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? AND NOT internal "
        "ORDER BY column_index",
        [name],
    ).fetchall()
    names = [column for column, _ in columns]
    keys = ["source"] if "source" in names else []
    time_column = TIME_COLUMN.get(name)
    derived = ""
    if time_column:
        keys += ["year", "month"]
        derived = f", year({_ident(time_column)})::INTEGER AS year, month({_ident(time_column)})::INTEGER AS month"
    where = ""
    kept = []
    if since and time_column:
        first = date(since.year, since.month, 1)
        where = f" WHERE {_ident(time_column)} >= DATE '{first.isoformat()}'"
        kept = [
            entry
            for entry in old.get("files", [])
            if "year" in entry["partition"] and _month(entry["partition"]) < (first.year, first.month)
        ]
    con.execute(f"CREATE OR REPLACE TEMP TABLE export_rows AS SELECT *{derived} FROM {_ident(name)}{where}")
    files = kept + _write_partitions(con, out / name, keys, names, summary, schema_only=not kept)
    _remove_stale(out, old, files, summary)
    con.execute("DROP TABLE export_rows")
    return {
        "description": description,
        "columns": [{"name": c, "type": t, "doc": docs.get(c)} for c, t in columns],
        "partitioned_by": keys if any(entry["partition"] for entry in files) else [],
        "rows": sum(entry["rows"] for entry in files),
        "files": sorted(files, key=lambda entry: entry["path"]),
    }


def _export_census(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    docs: dict[str, str],
    old: dict[str, Any],
    since: date | None,
    summary: Summary,
) -> dict[str, Any]:
    """One file per complete census day; a complete day never changes, so a day already exported is not read."""
    days = [
        row[0]
        for row in con.execute("SELECT day FROM hf_census_days WHERE status = 'complete' ORDER BY day").fetchall()
    ]
    done = {entry["partition"]["day"]: entry for entry in old.get("files", []) if (out / entry["path"]).exists()}
    files = []
    for day in days:
        if day.isoformat() in done:
            files.append(done[day.isoformat()])
            summary.unchanged += 1
            continue
        if since and day < since:
            continue
        partition = {"year": day.year, "month": day.month, "day": day.isoformat()}
        rows = f"SELECT * FROM census_as_of(DATE '{day.isoformat()}') ORDER BY repo_id"  # read once, as it is written
        files.append(_write_file(con, out / CENSUS, partition, rows, summary))
    columns = con.execute("DESCRIBE SELECT * FROM census_as_of(DATE '2000-01-01')").fetchall()
    return {
        "description": "Every model of the full-Hub census as it stood on each complete census day "
        "(census_as_of(day)); the day is the partition.",
        "columns": [{"name": row[0], "type": row[1], "doc": docs.get(row[0])} for row in columns],
        "partitioned_by": ["year", "month", "day"],
        "rows": sum(entry["rows"] for entry in files),
        "files": files,
    }


def _write_partitions(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    keys: list[str],
    columns: list[str],
    summary: Summary,
    schema_only: bool,
) -> list[dict[str, Any]]:
    """One file per partition, without its partition columns (they are in its path); with no partition to write,
    one file of all the columns (schema_only: unless earlier partitions are kept), so that readers still find the
    dataset and its schema."""
    key_list = ", ".join(_ident(key) for key in keys)
    partitions = con.execute(f"SELECT DISTINCT {key_list} FROM export_rows ORDER BY ALL").fetchall() if keys else []
    if not partitions:
        if not schema_only:
            return []
        every = ", ".join(_ident(column) for column in columns)
        return [_write_file(con, folder, {}, f"SELECT {every} FROM export_rows ORDER BY ALL", summary)]
    select = ", ".join(_ident(column) for column in columns if column not in keys)
    files = []
    for values in partitions:
        partition = dict(zip(keys, values, strict=True))
        condition = " AND ".join(
            f"{_ident(key)} IS NULL" if value is None else f"{_ident(key)} = {_literal(value)}"
            for key, value in partition.items()
        )
        rows = f"SELECT {select} FROM export_rows WHERE {condition} ORDER BY ALL"
        files.append(_write_file(con, folder, partition, rows, summary))
    return files


def _write_file(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    partition: dict[str, Any],
    rows: str,
    summary: Summary,
) -> dict[str, Any]:
    """Write one partition's rows (a query with an ORDER BY, so the same rows give the same bytes); keep the file
    there if it holds the same bytes."""
    target = folder.joinpath(*(f"{key}={_path_value(value)}" for key, value in partition.items()), "data.parquet")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(".data.parquet.partial")
    path_sql = str(partial).replace("'", "''")
    con.execute(f"COPY ({rows}) TO '{path_sql}' (FORMAT parquet, COMPRESSION zstd)")
    count = con.execute(f"SELECT count(*) FROM read_parquet('{path_sql}')").fetchall()[0][0]  # from its footer
    digest = _sha256(partial)
    path = target.relative_to(folder.parent).as_posix()
    if target.exists() and _sha256(target) == digest:
        partial.unlink()
        summary.unchanged += 1
    else:
        os.replace(partial, target)
        summary.written += 1
    return {
        "path": path,
        "partition": {key: _json_value(value) for key, value in partition.items()},
        "rows": count,
        "bytes": target.stat().st_size,
        "sha256": digest,
    }


def _remove_stale(out: Path, old: dict[str, Any], files: list[dict[str, Any]], summary: Summary) -> None:
    """Files of partitions that no longer hold rows (a source renamed, a view emptied) leave with them."""
    current = {entry["path"] for entry in files}
    for entry in old.get("files", []):
        if entry["path"] not in current and (out / entry["path"]).exists():
            (out / entry["path"]).unlink()
            summary.removed += 1
            folder = (out / entry["path"]).parent
            while folder != out and not any(folder.iterdir()):
                folder.rmdir()
                folder = folder.parent


def verify(out: Path) -> list[str]:
    """Problems with an export: files missing, or whose sha256 or size differ from the manifest's."""
    manifest = _read_manifest(out / MANIFEST)
    if not manifest:
        return [f"no {MANIFEST} in {out}"]
    problems = []
    for name, dataset in manifest["datasets"].items():
        for entry in dataset["files"]:
            path = out / entry["path"]
            if not path.exists():
                problems.append(f"{name}: {entry['path']} is missing")
            elif _sha256(path) != entry["sha256"]:
                problems.append(f"{name}: {entry['path']} does not match its sha256")
    return problems


def column_docs(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """The meaning of each column of each public view (sql_contract)."""
    docs: dict[str, dict[str, str]] = {}
    for view, column, meaning in con.execute('SELECT view, "column", meaning FROM sql_contract').fetchall():
        docs.setdefault(view, {})[column] = meaning
    return docs


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text())
    except ValueError:
        return {}  # a damaged manifest: every file is checked against what the warehouse holds now
    return manifest if isinstance(manifest, dict) and manifest.get("format") == FORMAT else {}


def _replace_text(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _month(partition: dict[str, Any]) -> tuple[int, int]:
    return int(partition["year"]), int(partition["month"])


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> str:
    return str(int(value)) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"


def _path_value(value: Any) -> str:
    return "__HIVE_DEFAULT_PARTITION__" if value is None else quote(str(value), safe="")


def _json_value(value: Any) -> Any:
    return value if value is None or isinstance(value, int | str) else str(value)
