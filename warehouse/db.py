"""Connecting to the warehouse: lock-aware retries, numbered migrations, and the public views."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TypeGuard

import duckdb

from llmflation.extractors.errors import LlmflationError
from llmflation.warehouse import queries

# a migration that changes how price history is derived says so; the segments are then rebuilt after the migrations
REBUILD_MARK = "-- after: rebuild price history"


class WarehouseError(LlmflationError):
    """The warehouse file cannot be used: missing, unreadable, locked or from a newer release."""


class DamagedWarehouse(WarehouseError):
    """The warehouse file or its write-ahead log is damaged: a block fails its checksum, or the file is cut short."""


# DuckDB's own texts, matched from the start of its message (never a word anywhere in it: a checksum error names the
# "block" it failed in). A lock conflict is the one error worth waiting out.
LOCK_CONFLICT = re.compile(r"IO Error: Could not set lock on file ")
DAMAGE = re.compile(
    r"(IO Error: )?(Corrupt database file: |Could not read enough bytes from file "
    r'|Failure while replaying WAL file "[^"]*": Corrupt WAL file: )'
)
NOT_DUCKDB = re.compile(r'IO Error: The file "[^"]*" exists, but it is not a valid DuckDB database file!')
PERMISSION_DENIED = re.compile(r'IO Error: Cannot open file "[^"]*": Permission denied')

# A reader that may read the warehouse and nothing else: no other file, URL or extension, and no setting changed
# afterwards (so none of these can be turned back on); the file is opened read-only, so nothing in it changes.
SANDBOX = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped with this release, in order."""
    folder = resources.files("llmflation.warehouse") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.name, entry.read_text()))
    return sorted(found)


def view_sql() -> list[str]:
    """The statements of the public SQL contract (views, macros, reference tables), in file order."""
    folder = resources.files("llmflation.warehouse") / "views"
    data_dir = str(resources.files("llmflation.warehouse") / "data").replace("'", "''")
    return [
        entry.read_text().replace("{data_dir}", data_dir)
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".sql")
    ]


def sql_file(name: str) -> str:
    """Text of warehouse/sql/<name>.sql."""
    return (resources.files("llmflation.warehouse") / "sql" / f"{name}.sql").read_text()


def connect(
    path: Path | str,
    *,
    read_only: bool = False,
    wait_s: float = 30.0,
    query_wait_s: float | None = None,
    on_wait: Callable[[str], None] | None = None,
    sandboxed: bool = False,
    progress_bar: bool = False,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; a writer migrates it. Waits up to wait_s while another process holds the file; a writer
    held off by open queries (warehouse/queries.py) waits for them up to query_wait_s, telling on_wait which.
    sandboxed: read-only, and the connection reads this file alone, with its configuration locked (DuckDB's
    progress bar on or off first, as progress_bar says)."""
    path = Path(path)
    read_only = read_only or sandboxed
    if str(path) != ":memory:":
        if path.is_dir():
            raise WarehouseError(f"{path} is a directory, not a warehouse file")
        if read_only and not path.exists():
            raise WarehouseError(f"no warehouse at {path}; run `llmflation run` first")
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    delay = 0.05
    announced: set[int] = set()
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=SANDBOX if sandboxed else {})
            break
        except duckdb.Error as exc:
            held_by = queries.open_queries(path) if not read_only and is_lock_conflict(exc) else []
            limit = query_wait_s if held_by and query_wait_s is not None else wait_s
            if is_lock_conflict(exc) and time.monotonic() - started < limit:
                for query in held_by:
                    if query.pid not in announced and on_wait is not None:
                        on_wait(f"waiting for a query to end before writing to {path} {query.describe()}")
                    announced.add(query.pid)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if held_by:
                raise WarehouseError(_held_by_queries(path, held_by, limit)) from exc
            raise explain(path, exc) from exc
    if not read_only:
        try:
            if not _ours_or_empty(con):  # another DuckDB file: never turned into a warehouse
                raise WarehouseError(f"{path} is not an llmflation warehouse (no schema_migrations table)")
            migrate(con)
        except Exception:
            con.close()
            raise
    elif str(path) != ":memory:":
        try:
            ours = con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'schema_migrations'").fetchall()
        except duckdb.Error as exc:
            con.close()
            raise explain(path, exc) from exc
        if not ours:  # another DuckDB file: say so, rather than which of our tables it lacks
            con.close()
            raise WarehouseError(f"{path} is not an llmflation warehouse (no schema_migrations table)")
    if sandboxed:
        con.execute(f"SET enable_progress_bar = {str(progress_bar).lower()}")
        con.execute("SET lock_configuration = true")
    return con


def _ours_or_empty(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the file is an llmflation warehouse (it has schema_migrations) or holds no table at all."""
    ((ours, tables),) = con.execute(
        "SELECT count(*) FILTER (WHERE table_name = 'schema_migrations'), count(*) FROM duckdb_tables() "
        "WHERE database_name = current_database()"
    ).fetchall()
    return ours > 0 or tables == 0


@contextmanager
def using(
    path: Path | str,
    con: duckdb.DuckDBPyConnection | None = None,
    *,
    query_wait_s: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The connection given, or a new one to the warehouse at path (as connect opens it), closed afterwards."""
    if con is not None:
        yield con
        return
    con = connect(path, query_wait_s=query_wait_s, on_wait=on_wait)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, or ROLLBACK on any exception."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply the migrations this file lacks, each in its own transaction; then (re)create the views."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, "
        "applied_at TIMESTAMPTZ DEFAULT current_timestamp)"
    )
    applied = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    shipped = migrations()
    newest = max(version for version, _, _ in shipped)
    if applied and max(applied) > newest:
        raise WarehouseError(
            f"this warehouse has schema version {max(applied)}, newer than this release knows ({newest}); "
            "upgrade llmflation"
        )
    pending = [(version, name, sql) for version, name, sql in shipped if version not in applied]
    # the history is rebuilt once, by this release's code, in the transaction of the last pending migration
    rebuild = any(REBUILD_MARK in sql for _, _, sql in pending)
    for version, name, sql in pending:
        with transaction(con):
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name])
            if rebuild and version == pending[-1][0]:
                from llmflation.warehouse import history  # history reads its SQL through this module

                for source in history.sources_with_history(con):
                    history.rebuild(con, source, history.DEFAULT_REMOVAL_RUNS)
    statements = view_sql()
    data = resources.files("llmflation.warehouse") / "data"
    reference = b"".join(
        (data / name).read_bytes() for name in sorted(p.name for p in data.iterdir() if p.name.endswith(".csv"))
    )
    checksum = hashlib.sha256("\n".join(statements).encode() + reference).hexdigest()
    # the views are recreated when their SQL changed, and when what the file holds is no longer what that SQL made
    # (a view dropped or replaced, a reference table emptied): the stored mark covers both
    names = defined_objects(statements)
    con.execute("CREATE TABLE IF NOT EXISTS schema_views (checksum VARCHAR)")
    stored = con.execute("SELECT checksum FROM schema_views").fetchall()
    if stored != [(f"{checksum} {catalog_fingerprint(con, names)}",)]:
        with transaction(con):
            for statement in statements:
                con.execute(statement)
        with transaction(con):  # what the file holds once they are committed
            con.execute("DELETE FROM schema_views")
            con.execute("INSERT INTO schema_views VALUES (?)", [f"{checksum} {catalog_fingerprint(con, names)}"])
    return newest


DEFINED = re.compile(r"^CREATE OR REPLACE (VIEW|TABLE|MACRO) (\w+)", re.MULTILINE | re.IGNORECASE)


def defined_objects(statements: list[str]) -> list[str]:
    """Names of the views, tables and macros the public SQL defines."""
    return sorted({match.group(2).lower() for sql in statements for match in DEFINED.finditer(sql)})


def catalog_fingerprint(con: duckdb.DuckDBPyConnection, names: list[str]) -> str:
    """A hash of how the file holds the named objects now: each view's SQL, each macro's definition, each table's
    DDL and row count (a missing object is simply absent from it)."""
    found: list[tuple[object, ...]] = con.execute(
        "SELECT 'view', view_name, sql FROM duckdb_views() "
        "WHERE NOT internal AND schema_name = 'main' AND database_name = current_database() "
        "AND lower(view_name) IN (SELECT unnest($names)) "
        "UNION ALL SELECT function_type, function_name, macro_definition || array_to_string(parameters, ',') "
        "FROM duckdb_functions() WHERE NOT internal AND schema_name = 'main' "
        "AND database_name = current_database() AND lower(function_name) IN (SELECT unnest($names)) "
        "UNION ALL SELECT 'table', table_name, sql FROM duckdb_tables() "
        "WHERE schema_name = 'main' AND database_name = current_database() "
        "AND lower(table_name) IN (SELECT unnest($names)) ORDER BY ALL",
        {"names": names},
    ).fetchall()
    for kind, name, _ in list(found):
        if kind == "table":
            found.append(("rows", name, con.execute(f'SELECT count(*) FROM main."{name}"').fetchall()[0][0]))
    return hashlib.sha256(repr(found).encode()).hexdigest()


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The newest migration applied to this file."""
    rows = con.execute("SELECT max(version) FROM schema_migrations").fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _held_by_queries(path: Path, held_by: list[queries.OpenQuery], waited_s: float) -> str:
    oldest = held_by[0]
    waited = f" after waiting {waited_s:g} s" if waited_s else ""
    if len(held_by) == 1:
        return f"a query still holds the warehouse {path}{waited} {oldest.describe()}"
    return f"{len(held_by)} queries still hold the warehouse {path}{waited}; the oldest {oldest.describe()}"


def is_lock_conflict(exc: BaseException) -> TypeGuard[duckdb.IOException]:
    """Whether DuckDB refused the file because another process holds its lock."""
    return isinstance(exc, duckdb.IOException) and LOCK_CONFLICT.match(_first_line(exc)) is not None


def is_damage(exc: BaseException) -> TypeGuard[duckdb.Error]:
    """Whether DuckDB found the warehouse file (or its write-ahead log) damaged, on opening it or in a query. DuckDB 2
    raises a failed checksum as a plain duckdb.Error, earlier releases as an IOException: the text decides."""
    return isinstance(exc, duckdb.Error) and DAMAGE.match(_first_line(exc)) is not None


def explain(path: Path | str, exc: duckdb.Error) -> WarehouseError:
    """The error a user reads when DuckDB cannot use the warehouse at path: damaged, locked, not ours, or other."""
    first = _first_line(exc)
    if is_damage(exc):
        return DamagedWarehouse(
            f"the warehouse {path} is damaged ({first}); restore it from a backup "
            "(`llmflation verify` checks the raw archive, not this file)"
        )
    if is_lock_conflict(exc):
        return WarehouseError(
            f"the warehouse {path} is in use by another process (a run may be loading); try again shortly"
        )
    if NOT_DUCKDB.match(first):
        return WarehouseError(f"{path} is not a DuckDB warehouse file ({first})")
    if PERMISSION_DENIED.match(first):
        return WarehouseError(f"cannot open the warehouse {path}: permission denied ({first})")
    return WarehouseError(f"cannot open the warehouse {path}: {first}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
