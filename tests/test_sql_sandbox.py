"""`llmflation sql` reads the warehouse and nothing else, in real processes on real warehouses: each way out is
refused with one line and leaves every file and view as it was, every README query still runs, and a writer
restores a public view that was dropped behind its back."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from llmflation.flows.settings import Settings
from llmflation.warehouse import db as warehouse_db
from tests.helpers import ROOT, cli

ONLY_READS = "error: the query may only read the warehouse: "
NOT_READING = " is not a reading statement (only SELECT, EXPLAIN, CALL, PRAGMA)\n"
NO_FILES = " - file system operations are disabled by configuration\n"
CHAIN = (
    "ATTACH '/tmp/x.duckdb' AS o (READ_WRITE); USE o; DETACH llmflation; "
    "ATTACH 'data/llmflation.duckdb' AS wh (READ_WRITE); DROP VIEW wh.main.price_history CASCADE"
)


def _catalog(db: Path) -> list[tuple[str, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT 'view', view_name, sql FROM duckdb_views() WHERE NOT internal UNION ALL "
            "SELECT function_type, function_name, macro_definition FROM duckdb_functions() WHERE NOT internal "
            "UNION ALL SELECT 'table', table_name, sql FROM duckdb_tables() ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


def test_each_way_out_of_the_warehouse_is_one_line_and_changes_nothing(warehouse: Settings, tmp_path: Path) -> None:
    target = tmp_path / "copied.csv"
    cases = [
        (f"COPY (SELECT 42) TO '{target}'", f"{ONLY_READS}COPY{NOT_READING}"),
        (f"EXPLAIN ANALYZE COPY (SELECT 42) TO '{target}'", f"{ONLY_READS}COPY{NOT_READING}"),
        (
            "SELECT * FROM read_csv('/etc/passwd')",
            f'{ONLY_READS}Permission Error: Cannot access file "/etc/passwd"{NO_FILES}',
        ),
        (
            "SELECT content FROM read_text('/etc/hostname')",
            f'{ONLY_READS}Permission Error: Cannot access file "/etc/hostname"{NO_FILES}',
        ),
        ("SELECT * FROM glob('/etc/*')", f'{ONLY_READS}Permission Error: Cannot access file "/etc/*"{NO_FILES}'),
        (
            f"SELECT * FROM read_csv('{warehouse.data_dir}/../*.csv')",
            f'{ONLY_READS}Permission Error: Cannot access file "{warehouse.data_dir}/../*.csv"{NO_FILES}',
        ),
        (CHAIN, f"{ONLY_READS}ATTACH{NOT_READING}"),
        ("SELECT 1; USE temp; DETACH llmflation", f"{ONLY_READS}USE{NOT_READING}"),
        ("DETACH llmflation", f"{ONLY_READS}DETACH{NOT_READING}"),
        ("INSTALL httpfs", f"{ONLY_READS}INSTALL{NOT_READING}"),
        ("LOAD httpfs", f"{ONLY_READS}LOAD{NOT_READING}"),
        ("SET enable_external_access = true", f"{ONLY_READS}SET{NOT_READING}"),
        ("RESET lock_configuration", f"{ONLY_READS}RESET{NOT_READING}"),
        ("PRAGMA threads = 1", f"{ONLY_READS}SET{NOT_READING}"),
        ("/* a comment first */\nDROP VIEW price_history", f"{ONLY_READS}DROP{NOT_READING}"),
        ("WITH t AS (SELECT 1) INSERT INTO runs SELECT * FROM t", f"{ONLY_READS}INSERT{NOT_READING}"),
        (
            "CALL pragma_version(); SELECT current_setting('lock_configuration') AS locked",
            None,  # reading statements run: the configuration is locked
        ),
    ]
    before = _catalog(warehouse.db)
    files = _files(tmp_path)
    for query, expected in cases:
        done = cli("sql", query, "--format", "csv", "--db", str(warehouse.db), cwd=tmp_path)
        if expected is None:
            assert (done.returncode, done.stdout, done.stderr) == (0, "locked\nTrue\n", "")
            continue
        assert (done.returncode, done.stderr, done.stdout) == (1, expected, ""), query
        assert not target.exists() and not Path("/tmp/x.duckdb").exists(), query
        assert _files(tmp_path) == files, query
    assert _catalog(warehouse.db) == before
    done = cli("sql", "SELECT count(*) AS prices FROM price_history", "-f", "csv", "--db", str(warehouse.db))
    assert done.stdout == "prices\n2\n"


def test_a_query_comes_from_stdin_or_a_file(warehouse: Settings, tmp_path: Path) -> None:
    db = ["--db", str(warehouse.db), "--format", "csv"]
    query = "SELECT metric, usd_per_mtok\nFROM current_prices -- one line\nORDER BY metric"
    expected = "metric,usd_per_mtok\ninput,1\noutput,2\n"
    assert cli("sql", "-", *db, stdin=query).stdout == expected
    (tmp_path / "q.sql").write_text(query + ";\n")
    assert cli("sql", "--file", str(tmp_path / "q.sql"), *db).stdout == expected
    (tmp_path / "latin.sql").write_bytes("SELECT 'café'".encode("latin-1"))
    cases = [
        (("sql", *db), "error: give a query: QUERY, - to read it from standard input, or --file PATH\n"),
        (
            ("sql", "SELECT 1", "--file", str(tmp_path / "q.sql"), *db),
            "error: give the query as QUERY or with --file, not both\n",
        ),
        (
            ("sql", "--file", str(tmp_path / "absent.sql"), *db),
            f"error: cannot read the query from {tmp_path / 'absent.sql'}: No such file or directory\n",
        ),
        (
            ("sql", "--file", str(tmp_path / "latin.sql"), *db),
            f"error: cannot read the query from {tmp_path / 'latin.sql'}: not UTF-8 text\n",
        ),
        (("sql", "-", *db), "error: the query is empty\n"),
    ]
    for args, error in cases:
        done = cli(*args, stdin="  \n")
        assert (done.returncode, done.stderr, done.stdout) == (1, error, ""), args


def test_a_writer_restores_a_view_or_macro_dropped_or_changed_behind_its_back(warehouse: Settings) -> None:
    before = _catalog(warehouse.db)
    con = duckdb.connect(str(warehouse.db))
    con.execute("DROP VIEW price_history CASCADE")
    con.execute("DROP MACRO TABLE census_as_of")
    con.execute("CREATE OR REPLACE VIEW current_prices AS SELECT 1 AS nothing")
    con.execute("DROP TABLE model_catalogue")
    con.close()
    done = cli("sql", "SELECT count(*) FROM price_history", "--db", str(warehouse.db))
    assert (done.returncode, done.stderr) == (
        1,
        "error: SQL error: Catalog Error: Table with name price_history does not exist!\n",
    )
    warehouse_db.connect(warehouse.db).close()  # the next writer: a run, an import, a report
    assert _catalog(warehouse.db) == before
    done = cli("sql", "SELECT count(*) AS prices FROM current_prices", "-f", "csv", "--db", str(warehouse.db))
    assert (done.returncode, done.stdout) == (0, "prices\n2\n")


def _readme_queries() -> list[str]:
    """The queries of the README and of the documents in docs/."""
    readme = "\n".join(path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    commands = re.findall(r'llmflation sql "([^"]+)"', readme)
    blocks = re.findall(r"```sql\n(.*?)```", readme, re.DOTALL)
    return [query for query in commands if query != "QUERY"] + blocks


def test_every_readme_query_and_every_public_view_works_in_the_sandbox(market: Settings) -> None:
    queries = _readme_queries()
    assert len(queries) >= 8
    for query in queries:
        done = cli("sql", query, "--format", "csv", "--db", str(market.db))
        assert (done.returncode, done.stderr) == (0, ""), query
        if "downloads_30d >" not in query:  # the saved market holds no Hub snapshots
            assert len(done.stdout.splitlines()) > 1, (query, done.stdout)
    con = duckdb.connect(str(market.db), read_only=True)
    views = [n for (n,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()]
    con.close()
    assert {"current_prices", "price_history", "offers", "models", "price_events", "source_health"} <= set(views)
    every = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{name}") AS "{name}"' for name in views)
    done = cli("sql", every, "--format", "json", "--db", str(market.db))
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
