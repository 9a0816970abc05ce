"""A damaged warehouse, a held lock and a read-only data folder, as DuckDB and the OS really report them: each is told
apart by its exception and text, and a user reads one line at once (only a lock conflict is waited for)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from pytest_httpserver import HTTPServer

from llmflation.flows.pipeline import run_prices
from llmflation.flows.settings import Settings
from llmflation.warehouse.db import DamagedWarehouse, WarehouseError, connect, is_damage, is_lock_conflict
from tests.helpers import cli, openrouter_body, payload, real, ts
from tests.ledger_helpers import run_once

BODY = "openrouter/openrouter_models_2025-12-29.json"
ADVICE = "restore it from a backup (`llmflation verify` checks the raw archive, not this file)"


def _warehouse(folder: Path) -> Settings:
    """A real warehouse: one run of OpenRouter's real model list through the pipeline, closed."""
    settings = Settings(db=folder / "data" / "llmflation.duckdb")
    fetched = payload("openrouter", openrouter_body(real(BODY)))
    assert run_once(settings, "openrouter", fetched, ts("2025-12-29T18:00")).status == "ok"
    return settings


def _overwrite_block(db: Path, block_query: str) -> None:
    """Overwrite 8 KB in the middle of one storage block (the last the query names) with garbage, as a failing disk
    or a stray write would."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        block = max(row[0] for row in con.execute(block_query).fetchall())
        block_size = con.execute("SELECT block_size FROM pragma_database_size()").fetchall()[0][0]
    finally:
        con.close()
    with db.open("r+b") as handle:  # three 4 KB headers, then the blocks
        handle.seek(3 * 4096 + block * block_size + block_size // 2)
        handle.write(os.urandom(8192))


METADATA = "SELECT block_id FROM pragma_metadata_info()"  # the catalogue: every open reads it


def _blocks_of(table: str) -> str:
    return f"SELECT DISTINCT block_id FROM pragma_storage_info('{table}') WHERE block_id >= 0"


def test_a_damaged_warehouse_says_so_at_once_in_one_line(tmp_path: Path) -> None:
    db = _warehouse(tmp_path).db
    _overwrite_block(db, METADATA)
    with pytest.raises(duckdb.Error) as opened:  # DuckDB really finds it damaged
        duckdb.connect(str(db), read_only=True)
    assert str(opened.value).startswith("Corrupt database file: computed checksum ")
    assert "in block at location" in str(opened.value)  # a word that holds "lock": never a reason to wait
    expected = f"error: the warehouse {db} is damaged ({opened.value}); {ADVICE}\n"
    for args in (("status",), ("sql", "SELECT provider, count(*) FROM current_prices GROUP BY ALL"), ("run",)):
        started = time.monotonic()
        done = cli(*args, "--db", str(db), cwd=tmp_path)
        assert (done.returncode, done.stderr, done.stdout) == (1, expected, ""), args
        assert time.monotonic() - started < 5, args


def test_damage_in_a_table_is_named_by_whatever_reads_it(tmp_path: Path, httpserver: HTTPServer) -> None:
    settings = _warehouse(tmp_path)
    _overwrite_block(settings.db, _blocks_of("source_runs"))
    con = duckdb.connect(str(settings.db), read_only=True)  # the file opens; reading that table fails
    try:
        with pytest.raises(duckdb.Error) as read:
            con.execute("SELECT * FROM source_runs").fetchall()
    finally:
        con.close()
    assert str(read.value).startswith("Corrupt database file: computed checksum ")
    message = f"the warehouse {settings.db} is damaged ({read.value}); {ADVICE}"
    for args in (("status",), ("sql", "SELECT * FROM source_runs")):
        started = time.monotonic()
        done = cli(*args, "--db", str(settings.db), cwd=tmp_path)
        assert (done.returncode, done.stderr, done.stdout) == (1, f"error: {message}\n", ""), args
        assert time.monotonic() - started < 5, args
    # a run stops there too: the file's fault, not recorded as a source's failure
    httpserver.expect_request("/api/v1/models").respond_with_data(openrouter_body(real(BODY)))
    live = settings.model_copy(update={"source_urls": {"openrouter": httpserver.url_for("/api/v1/models")}})
    with pytest.raises(DamagedWarehouse) as stopped:
        run_prices(live, ["openrouter"], ts("2025-12-30T18:00"))
    assert str(stopped.value) == message


def test_only_a_lock_conflict_is_waited_for(tmp_path: Path) -> None:
    db = _warehouse(tmp_path).db
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print(1, flush=True); time.sleep(60)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "1"
        started = time.monotonic()
        with pytest.raises(WarehouseError) as locked:
            connect(db, read_only=True, wait_s=1)
        assert time.monotonic() - started >= 1  # waited for the other process
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout:
            holder.stdout.close()
    cause = locked.value.__cause__
    assert isinstance(cause, duckdb.IOException) and str(cause).startswith('IO Error: Could not set lock on file "')
    assert is_lock_conflict(cause) and not is_damage(cause)
    assert str(locked.value) == (
        f"the warehouse {db} is in use by another process (a run may be loading); try again shortly"
    )

    damaged, cut = tmp_path / "damaged.duckdb", tmp_path / "cut.duckdb"
    shutil.copy(db, damaged)
    _overwrite_block(damaged, METADATA)
    shutil.copy(db, cut)
    with cut.open("r+b") as handle:  # a copy that stopped halfway
        handle.truncate(cut.stat().st_size // 2)
    for path, text in (
        (damaged, "Corrupt database file: computed checksum "),
        (cut, f'IO Error: Could not read enough bytes from file "{cut}": attempted to read '),
    ):
        started = time.monotonic()
        with pytest.raises(DamagedWarehouse) as caught:
            connect(path, read_only=True, wait_s=30)
        assert time.monotonic() - started < 5, path  # never retried
        assert str(caught.value.__cause__).startswith(text) and not is_lock_conflict(caught.value.__cause__)


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder outside pytest's own (which only its owner may enter), so that user nobody can reach it too."""
    folder = Path(tempfile.mkdtemp(prefix="llmflation-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(folder)


def test_a_read_only_data_folder_and_an_unreadable_warehouse_are_one_line(shared_folder: Path) -> None:
    settings = _warehouse(shared_folder)
    settings.data_dir.chmod(0o555)
    done = cli("run", "--sources", "openrouter", "--db", str(settings.db), cwd=shared_folder, unprivileged=True)
    assert (done.returncode, done.stderr, done.stdout) == (
        1,
        f"error: cannot write to the data folder {settings.data_dir}: the run lock {settings.lock_path} cannot be "
        "created (Permission denied)\n",
        "",
    )
    below = settings.data_dir / "new" / "llmflation.duckdb"
    done = cli("run", "--sources", "openrouter", "--db", str(below), cwd=shared_folder, unprivileged=True)
    assert (done.returncode, done.stderr) == (
        1,
        f"error: cannot create the data folder {below.parent} (Permission denied)\n",
    )
    # reading needs no writing: queries still answer
    done = cli("sql", "SELECT count(*) AS runs FROM runs", "-f", "csv", "--db", str(settings.db), unprivileged=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, "runs\n1\n", "")
    settings.db.chmod(0)  # unless the file itself may not be read
    done = cli("status", "--db", str(settings.db), unprivileged=True)
    assert (done.returncode, done.stderr) == (
        1,
        f"error: cannot open the warehouse {settings.db}: permission denied "
        f'(IO Error: Cannot open file "{settings.db}": Permission denied)\n',
    )
