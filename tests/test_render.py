"""What the command line prints, through its one renderer, in real processes: readable tables that never cut a
value, exact decimals in json, every format, a closed pipe, --version, and -q / -v on a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from llmflation import __version__
from llmflation.extractors.base import listed_sources
from llmflation.flows.settings import Settings
from tests.helpers import ROOT, cli, openrouter_body, real

EXACT = "SELECT 0.000000000000000001::DECIMAL(38,18) AS a, 12345678901234567.5::DECIMAL(38,18) AS b"


def test_json_writes_decimals_exactly_as_numbers(warehouse: Settings) -> None:
    done = cli("sql", EXACT, "--format", "json", "--db", str(warehouse.db))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == '[\n {\n  "a": 0.000000000000000001,\n  "b": 12345678901234567.5\n }\n]\n'
    assert json.loads(done.stdout, parse_float=Decimal) == [
        {"a": Decimal("0.000000000000000001"), "b": Decimal("12345678901234567.5")}
    ]
    done = cli("sql", EXACT, "--format", "ndjson", "--db", str(warehouse.db))
    assert done.stdout == '{"a": 0.000000000000000001, "b": 12345678901234567.5}\n'


def test_every_format_of_one_result(warehouse: Settings) -> None:
    sql = (
        "SELECT 10.000000000000000000::DECIMAL(38,18) AS ten, 0.150000000000000000::DECIMAL(38,18) AS p, "
        "'a|b' AS s, NULL AS n, [1.50::DECIMAL(10,2)] AS l UNION ALL "
        "SELECT 0::DECIMAL(38,18), 123.4, 'long text, line' || chr(10) || 'two', NULL, []"
    )
    expected = {
        "table": (
            "ten      p  s                     n     l\n"
            "---  -----  --------------------  ----  -----\n"
            " 10   0.15  a|b                   NULL  [1.5]\n"
            "  0  123.4  long text, line\\ntwo  NULL  []\n"
        ),
        "csv": "ten,p,s,n,l\n10,0.15,a|b,,[Decimal('1.50')]\n0,123.4,\"long text, line\ntwo\",,[]\n",
        "json": (
            '[\n {\n  "ten": 10,\n  "p": 0.15,\n  "s": "a|b",\n  "n": null,\n  "l": [\n   1.5\n  ]\n },\n'
            ' {\n  "ten": 0,\n  "p": 123.4,\n  "s": "long text, line\\ntwo",\n  "n": null,\n  "l": []\n }\n]\n'
        ),
        "ndjson": (
            '{"ten": 10, "p": 0.15, "s": "a|b", "n": null, "l": [1.5]}\n'
            '{"ten": 0, "p": 123.4, "s": "long text, line\\ntwo", "n": null, "l": []}\n'
        ),
        "markdown": (
            "| ten | p | s | n | l |\n|---|---|---|---|---|\n| 10 | 0.15 | a\\|b | NULL | [1.5] |\n"
            "| 0 | 123.4 | long text, line\\ntwo | NULL | [] |\n"
        ),
    }
    for fmt, text in expected.items():
        done = cli("sql", sql, "--format", fmt, "--db", str(warehouse.db))
        assert (done.returncode, done.stderr, done.stdout) == (0, "", text), fmt


def test_every_listing_is_one_plain_table_that_never_cuts_a_url(warehouse: Settings) -> None:
    done = cli("sources", env={"COLUMNS": "120"})
    assert done.returncode == 0, done.stderr
    header, rule, *rows = done.stdout.splitlines()
    assert header.split() == ["source", "kind", "status", "url", "description", "why_experimental"]
    assert set(rule) == {"-", " "}
    shown = {row.split()[0]: row for row in rows}
    for module in listed_sources():
        assert module.URL in shown[module.NAME], module.NAME  # whole, however wide the line
    done = cli("status", "--db", str(warehouse.db))
    header, rule, row = done.stdout.splitlines()
    assert header.split() == [
        "source", "status", "last_run_at", "last_observed_at", "rows", "loaded", "rejected", "hours_since_ok",
        "reason",
    ]  # fmt: skip
    assert set(rule) == {"-", " "} and row.split()[:2] == ["openrouter", "ok"] and row.endswith("NULL")
    done = cli("models", "--unmapped", "--db", str(warehouse.db))
    assert (
        done.stdout.splitlines()[2]
        == "x/a        NULL    NULL          NULL     NULL          NULL   [openrouter]  [x/a]"
    )
    assert cli("alerts", "list", "--format", "json", "--db", str(warehouse.db)).stdout == "[]\n"


def _piped(command: str, folder: Path) -> tuple[str, str]:
    """`command | head -1` in a shell: (what head printed, llmflation's exit status and stderr)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LLMFLATION_")}
    errors = folder / "stderr.txt"
    script = f"cd {ROOT} && {command} 2>{errors} | head -1; echo status=${{PIPESTATUS[0]}}; cat {errors}"
    done = subprocess.run(["bash", "-c", script], env=environ, capture_output=True, text=True, timeout=120)
    first, rest = done.stdout.split("\n", 1)
    return first, rest


def test_a_reader_that_goes_away_ends_the_command_with_status_0(warehouse: Settings, tmp_path: Path) -> None:
    llmflation = f"{sys.executable} -m llmflation"
    db = f"--db {warehouse.db}"
    first, rest = _piped(f"{llmflation} models {db}", tmp_path)
    assert first.split()[:3] == ["model_key", "family", "open_weights"] and rest == "status=0\n"
    for fmt in ("csv", "ndjson", "table", "markdown"):
        first, rest = _piped(f"{llmflation} sql 'SELECT range AS i FROM range(3000000)' -f {fmt} {db}", tmp_path)
        assert rest in ("status=0\n", "status=0\nshowing the first 10000 rows; --format csv or json writes them all\n")
        assert first.strip() in ("i", "| i |", '{"i": 0}'), fmt


def test_version() -> None:
    done = cli("--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"llmflation {__version__}\n", "")
    done = cli("-q", "-v", "sources")
    assert (done.returncode, done.stderr) == (1, "error: --quiet and --verbose contradict each other; give one\n")


@pytest.mark.e2e
def test_quiet_and_verbose_runs(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/api/v1/models").respond_with_data(
        openrouter_body(real("openrouter/openrouter_models_2025-12-29.json"))
    )
    env = {"HOME": str(tmp_path), "LLMFLATION_OPENROUTER_URL": httpserver.url_for("/api/v1/models")}
    runs = {}
    for flags in ((), ("-v",), ("-q",)):
        done = cli(*flags, "run", "--sources", "openrouter", env=env, cwd=tmp_path, timeout=300, embedded=True)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.splitlines()[3].split()[:2] == ["openrouter", "ok"], done.stdout
        runs[flags] = done.stderr
    default, verbose, quiet = runs[()], runs[("-v",)], runs[("-q",)]
    assert "openrouter: ok, 353 models" in default and "Finished in state Completed()" not in default, default
    assert "openrouter: ok, 353 models" in verbose and "Finished in state Completed()" in verbose, verbose
    assert "Beginning flow run" in verbose and "Beginning flow run" not in default
    assert quiet == ""
