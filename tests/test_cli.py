"""The CLI as a user meets it: exact error lines, output formats, documented commands, no prefect on queries."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from pydantic import ValidationError

from llmflation.extractors.base import source_names
from llmflation.flows.cli import app
from llmflation.flows.settings import ConfigError, Settings, prefect_environment
from tests.helpers import ROOT, cli


def test_user_errors_print_one_clear_line(warehouse: Settings, tmp_path: Path) -> None:
    db = str(warehouse.db)
    garbage = tmp_path / "garbage.duckdb"
    garbage.write_text("not a database")
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).execute("CREATE TABLE t (x INT)").close()
    not_ours = f"error: {other} is not an llmflation warehouse (no schema_migrations table)\n"
    cases = [
        (("sql", "selec 1", "--db", db), 'error: SQL error: Parser Error: syntax error at or near "selec"\n'),
        (
            ("sql", "select * from nope", "--db", db),
            "error: SQL error: Catalog Error: Table with name nope does not exist!\n",
        ),
        (
            ("sql", "delete from observations", "--db", db),
            "error: the query may only read the warehouse: DELETE is not a reading statement "
            "(only SELECT, EXPLAIN, CALL, PRAGMA)\n",
        ),
        (
            ("sql", "select 1", "--db", str(tmp_path / "absent.duckdb")),
            f"error: no warehouse at {tmp_path / 'absent.duckdb'}; run `llmflation run` first\n",
        ),
        (
            ("status", "--db", str(garbage)),
            f'error: {garbage} is not a DuckDB warehouse file (IO Error: The file "{garbage}" exists, but it is not '
            "a valid DuckDB database file!)\n",
        ),
        (("status", "--db", str(other)), not_ours),
        (("sql", "select 1", "--db", str(other)), not_ours),
        (("models", "--db", str(other)), not_ours),
        (("status", "--db", str(tmp_path)), f"error: {tmp_path} is a directory, not a warehouse file\n"),
        (("sql", "select 1", "--db", str(tmp_path)), f"error: {tmp_path} is a directory, not a warehouse file\n"),
        (("run", "--db", str(tmp_path)), f"error: {tmp_path} is a directory, not a warehouse file\n"),
        (("run", "--sources", "openrouter", "--db", str(other)), not_ours),
        (("import", "hf-snapshots", str(garbage), "--db", str(other)), not_ours),
        (
            ("run", "--sources", "openrouter,nope", "--db", db),
            f"error: unknown source 'nope'; known sources: {', '.join(source_names())}\n",
        ),
        (
            ("run", "--as-of", "last tuesday", "--db", db),
            "error: --as-of 'last tuesday' is not an ISO 8601 timestamp (for example 2025-12-29T18:00:00Z)\n",
        ),
    ]
    for args, expected in cases:
        done = cli(*args)
        assert (done.returncode, done.stderr, done.stdout) == (1, expected, ""), args
    # a write refused leaves the other file as it was, and nothing beside the directory
    con = duckdb.connect(str(other), read_only=True)
    try:
        assert con.execute("SELECT table_name FROM duckdb_tables()").fetchall() == [("t",)]
    finally:
        con.close()
    assert not tmp_path.with_suffix(".lock").exists()


def test_bad_configuration_is_one_line(warehouse: Settings) -> None:
    done = cli("sources", env={"LLMFLATION_HTTP_TIMEOUT": "soon"})
    assert (done.returncode, done.stderr) == (1, "error: LLMFLATION_HTTP_TIMEOUT='soon' is not a number\n")
    done = cli("sources", env={"LLMFLATION_HTTP_DEADLINE": "0"})
    assert (done.returncode, done.stderr) == (1, "error: LLMFLATION_HTTP_DEADLINE='0' must be more than 0 seconds\n")
    cases = {
        "LLMFLATION_HTTP_RETRIES": ("-1", "LLMFLATION_HTTP_RETRIES='-1' must not be negative"),
        "LLMFLATION_REMOVAL_RUNS": ("2.5", "LLMFLATION_REMOVAL_RUNS='2.5' is not a whole number"),
        "LLMFLATION_RUN_DEADLINE": ("-3", "LLMFLATION_RUN_DEADLINE='-3' must be more than 0 seconds"),
        "LLMFLATION_HF_CENSUS_PAGES_PER_COMMIT": ("0", "LLMFLATION_HF_CENSUS_PAGES_PER_COMMIT='0' must be at least 1"),
        "LLMFLATION_HF_CENSUS_MEMORY_MB": ("32", "LLMFLATION_HF_CENSUS_MEMORY_MB='32' must be at least 64"),
    }
    for name, (value, expected) in cases.items():
        with pytest.raises(ConfigError) as refused:
            Settings.from_env(environ={name: value})
        assert str(refused.value) == expected


def test_settings_take_the_environment_then_llmflation_toml_then_defaults(tmp_path: Path) -> None:
    config = tmp_path / "llmflation.toml"
    config.write_text('http_timeout = 3\ncron = "0 5 * * *"\nhf_authors = ["Qwen"]\n[alerts]\nbackoff_minutes = 1\n')
    environ = {
        "LLMFLATION_CONFIG": str(config),
        "LLMFLATION_HTTP_TIMEOUT": "7",
        "LLMFLATION_HTTP_RETRIES": "",  # empty: the default
        "LLMFLATION_DB": "~/w.duckdb",
        "LLMFLATION_HF_AUTHORS": "google, openai,",
        "LLMFLATION_OPENROUTER_URL": "http://127.0.0.1:9/models",
        "HF_TOKEN": "hf_NeverShown123",
    }
    settings = Settings.from_env(environ=environ)
    assert (settings.http_timeout, settings.http_retries, settings.cron) == (7, 3, "0 5 * * *")
    assert settings.hf_authors == ("google", "openai") and settings.db == Path("~/w.duckdb").expanduser()
    assert settings.url_for("openrouter") == "http://127.0.0.1:9/models" and settings.hf_token == "hf_NeverShown123"
    assert settings.alert_config().backoff_minutes == 1
    assert "hf_NeverShown123" not in repr(settings) and "hf_NeverShown123" not in str(settings)
    with pytest.raises(ValidationError):  # frozen, as one process's configuration should be
        settings.cron = "* * * * *"  # type: ignore[misc]
    assert Settings.from_env(db=tmp_path / "x.duckdb", environ=environ).db == tmp_path / "x.duckdb"  # --db wins
    assert Settings.from_env(environ={"LLMFLATION_CONFIG": str(config)}).hf_authors == ("Qwen",)
    config.write_text('hf_token = "hf_x"\n')  # a secret: from the environment only
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(environ={"LLMFLATION_CONFIG": str(config)})
    known = "alerts, cron, db, export_dir, hf_authors, "
    assert str(refused.value).startswith(f'{config}: unknown key "hf_token" (known: {known}')
    config.write_text('http_timeout = "soon"\n')
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(environ={"LLMFLATION_CONFIG": str(config)})
    assert str(refused.value) == f'{config}: http_timeout: must be a number, not the string "soon"'
    # Settings(...) is its arguments and the defaults, whatever the environment holds
    assert Settings(http_retries=1) == Settings(http_retries=1, http_timeout=30.0)


def test_deadlines_come_from_the_environment() -> None:
    assert (Settings().http_deadline, Settings().run_deadline, Settings().hf_census_deadline) == (300, None, 7200)
    env = {"LLMFLATION_HTTP_DEADLINE": "3", "LLMFLATION_RUN_DEADLINE": "600", "LLMFLATION_HF_CENSUS_DEADLINE": "1.5"}
    settings = Settings.from_env(environ=env)
    assert (settings.http_deadline, settings.run_deadline, settings.hf_census_deadline) == (3, 600, 1.5)
    assert Settings.from_env(environ={}).run_deadline is None


def test_sql_formats(warehouse: Settings) -> None:
    query = "SELECT provider_model_id, metric, usd_per_mtok FROM current_prices ORDER BY metric"
    done = cli("sql", query, "--format", "csv", "--db", str(warehouse.db))
    assert done.stdout == "provider_model_id,metric,usd_per_mtok\nx/a,input,1\nx/a,output,2\n"
    done = cli("sql", query, "--format", "json", "--db", str(warehouse.db))
    assert json.loads(done.stdout) == [
        {"provider_model_id": "x/a", "metric": "input", "usd_per_mtok": 1.0},
        {"provider_model_id": "x/a", "metric": "output", "usd_per_mtok": 2.0},
    ]
    done = cli("sql", query, "--db", str(warehouse.db))
    assert done.returncode == 0 and "x/a" in done.stdout and "usd_per_mtok" in done.stdout


def test_status_and_sources(warehouse: Settings) -> None:
    done = cli("status", "--format", "json", "--db", str(warehouse.db))
    [row] = json.loads(done.stdout)
    assert (row["source"], row["status"], row["rows"], row["reason"]) == ("openrouter", "ok", 2, None)
    done = cli("sources", "--format", "csv", env={"LLMFLATION_LITELLM_URL": "http://127.0.0.1:9/map.json"})
    rows = {line.split(",")[0]: line for line in done.stdout.splitlines()}
    assert rows["source"] == "source,kind,status,url,description,why_experimental"
    assert rows["groq"].startswith("groq,official,experimental,https://groq.com/pricing,")
    listed = {row["source"]: row for row in json.loads(cli("sources", "--format", "json").stdout)}
    assert listed["openrouter"]["why_experimental"] == ""  # a stable source gives no reason
    assert listed["groq"]["why_experimental"] == (
        "no real capture of groq.com/pricing exists to test it against; kept because it gives Groq's own prices, "
        "which take the place of the feeds' claims about Groq (genai-prices, models.dev and LiteLLM price it)"
    )
    assert rows["openrouter"].startswith("openrouter,reseller,stable,https://openrouter.ai/api/v1/models,")
    assert rows["litellm"].startswith("litellm,feed,stable,http://127.0.0.1:9/map.json (overridden),")
    assert rows["ecb"].startswith("ecb,reference,stable,https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip,")
    assert done.stdout.splitlines()[1].startswith("ecb,")  # reference data first


def test_query_commands_never_import_prefect(warehouse: Settings) -> None:
    db = ["--db", str(warehouse.db)]
    for args in (["sql", "select 1", *db], ["status", *db], ["sources"]):
        code = (
            "import sys; from flows.cli import main\n"
            f"sys.argv = ['llmflation', *{args!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('PREFECT' if any(m == 'prefect' or m.startswith('prefect.') for m in sys.modules) else 'CLEAN',"
            " file=sys.stderr)"
        )
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.stderr.strip().splitlines()[-1] == "CLEAN", (args, done.stderr)


def test_every_command_is_documented_in_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    names = sorted(app.commands)
    assert names == [
        "alerts",
        "cost",
        "export",
        "import",
        "models",
        "rebuild",
        "report",
        "run",
        "serve",
        "sources",
        "sql",
        "status",
        "verify",
    ]
    for name in names:
        assert f"llmflation {name}" in readme, f"`llmflation {name}` is not documented in README.md"
    for group in ("alerts", "import"):
        for sub in sorted(app.commands[group].commands):  # type: ignore[attr-defined]
            assert f"llmflation {group} {sub}" in readme, f"`llmflation {group} {sub}` is not documented in README.md"


def test_prefect_state_goes_to_the_data_folder_unless_the_user_configured_prefect(tmp_path: Path) -> None:
    settings = Settings(db=tmp_path / "data" / "w.duckdb")
    home = tmp_path / "home"
    env = prefect_environment(settings, {"HOME": str(home)})
    assert env["PREFECT_HOME"] == str((tmp_path / "data" / "prefect").resolve())
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert prefect_environment(settings, {"HOME": str(home), "PREFECT_API_URL": "http://127.0.0.1:4200/api"}) == {}
    (home / ".prefect").mkdir(parents=True)
    profiles = home / ".prefect" / "profiles.toml"
    profiles.write_text('active = "local"\n[profiles.local]\n')
    assert "PREFECT_HOME" in prefect_environment(settings, {"HOME": str(home)})
    profiles.write_text('active = "local"\n[profiles.local]\nPREFECT_API_URL = "http://127.0.0.1:4200/api"\n')
    assert prefect_environment(settings, {"HOME": str(home)}) == {}


def test_models_lists_the_catalogue_and_the_unmapped_ids(warehouse: Settings) -> None:
    done = cli("models", "--format", "json", "--db", str(warehouse.db))
    models = {row["model_key"]: row for row in json.loads(done.stdout)}
    assert models["openai/gpt-4o"]["family"] == "gpt" and models["openai/gpt-4o"]["open_weights"] is False
    assert models["meta-llama/llama-3-8b-instruct"]["hf_repo"] == "meta-llama/Meta-Llama-3-8B-Instruct"
    done = cli("models", "--unmapped", "--format", "csv", "--db", str(warehouse.db))
    lines = done.stdout.splitlines()
    assert lines[0] == "model_key,family,open_weights,hf_repo,release_date,class,providers,provider_model_ids"
    assert lines[1:] == ["x/a,,,,,,['openrouter'],['x/a']"]


def test_every_source_is_in_the_readme_sources_table() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in source_names():
        assert f"| `{name}` |" in readme, f"source {name} is missing from README's table of sources"


def test_alerts_commands_and_llmflation_toml_mistakes_print_one_clear_line(warehouse: Settings, tmp_path: Path) -> None:
    db = str(warehouse.db)
    assert cli("alerts", "list", "--db", db, cwd=tmp_path).stdout == "no alerts yet\n"
    retry = cli("alerts", "retry", "--db", db, cwd=tmp_path)
    assert (retry.returncode, retry.stdout) == (0, "nothing to retry\n")
    missing = cli("alerts", "test", "nosuch", "--db", db, cwd=tmp_path)
    assert (missing.returncode, missing.stderr) == (
        1,
        "error: no channel 'nosuch' in llmflation.toml (channels: none configured)\n",
    )
    config = tmp_path / "llmflation.toml"
    cases = [
        (
            '[[alerts.rules]]\nname = "r"\nmin_pct = "ten"\n',
            'error: llmflation.toml: alerts.rules.0.min_pct: must be a number, not the string "ten"\n',
        ),
        ("alerts = 7\n", "error: llmflation.toml: alerts: must be a table, not the integer 7\n"),
        ("[alerts]\nchannels = 5\n", "error: llmflation.toml: alerts.channels: must be a table, not the integer 5\n"),
        (
            '[alerts.channels.team]\nurl = "json://127.0.0.1:9/hook"\ndigest = "yes"\n',
            'error: llmflation.toml: alerts.channels.team.digest: must be true or false, not the string "yes"\n',
        ),
        (
            '[[alerts.rules]]\nname = "r"\nmin_pct = true\n',
            "error: llmflation.toml: alerts.rules.0.min_pct: must be a number, not the boolean true\n",
        ),
        (
            '[[alerts.rules]]\nname = "r"\nmin_runs = 2.5\n',
            "error: llmflation.toml: alerts.rules.0.min_runs: must be a whole number, not the number 2.5\n",
        ),
        (
            "[alerts]\n# caf\xe9, saved as Latin-1\n".encode("latin-1"),
            "error: llmflation.toml: not UTF-8 text (byte 0xe9 at offset 14); save it as UTF-8\n",
        ),
        (
            '[[alerts.rules]]\nname = "r"\nevents = ["price_drop"]\n',
            "error: llmflation.toml: alerts.rules.0.events.0: Input should be 'price_cut', 'price_increase', "
            "'new_offer', 'offer_removed', 'new_tier', 'suspected_unit_error', 'source_broken', "
            "'source_disagreement' or 'all_time_low'\n",
        ),
        (
            '[[alerts.rules]]\nname = "r"\nchannels = ["team"]\n',
            "error: llmflation.toml: alerts: Value error, rule 'r' names channel 'team', which [alerts.channels] "
            "lacks\n",
        ),
        (
            '[alerts.channels.team]\nurl = "env:TEAM_HOOK_URL"\n',
            "error: llmflation.toml: channel 'team' reads TEAM_HOOK_URL, which is not set\n",
        ),
        ("[alerts\n", "error: llmflation.toml: Expected ']' at the end of a table declaration (at line 1, column 8)\n"),
        (
            "[alert]\nbackoff_minutes = 1\n",
            'error: llmflation.toml: unknown key "alert" (known: alerts, cron, db, export_dir, hf_authors, '
            "hf_census_deadline, hf_census_memory_mb, hf_census_pages_per_commit, hf_page_size, hf_top_downloads, "
            "hf_top_trending, http_backoff, http_deadline, http_max_retry_after, http_retries, http_timeout, "
            "lock_wait, removal_runs, run_deadline, suspect_ratio, workloads)\n",
        ),
    ]
    for text, expected in cases:
        config.write_bytes(text if isinstance(text, bytes) else text.encode())
        for args in (("alerts", "test", "team"), ("run", "--sources", "openrouter")):  # refused before any run
            done = cli(*args, "--db", db, cwd=tmp_path)
            assert (done.returncode, done.stderr, done.stdout) == (1, expected, ""), (text, args)
    config.write_text('[[alerts.rules]]\nname = "r"\nmin_pct = 5\nopen_weights = true\n')  # an integer is a number
    assert cli("alerts", "test", "console", "--db", db, cwd=tmp_path).returncode == 0
    config.write_text('[alerts.channels.team]\nurl = "env:TEAM_HOOK_URL"\n')
    bad_url = cli("alerts", "test", "team", "--db", db, cwd=tmp_path, env={"TEAM_HOOK_URL": "nonsense://x"})
    assert (bad_url.returncode, bad_url.stderr) == (
        1,
        "error: team: not sent: env:TEAM_HOOK_URL: not a URL Apprise can send to\n",
    )
    named = cli("run", "--db", db, cwd=tmp_path, env={"LLMFLATION_CONFIG": str(tmp_path / "absent.toml")})
    assert (named.returncode, named.stderr) == (
        1,
        f"error: LLMFLATION_CONFIG={str(tmp_path / 'absent.toml')!r}: no such file\n",
    )


def test_the_readme_alert_example_is_a_valid_configuration(tmp_path: Path) -> None:
    (block,) = [
        b for b in re.findall(r"```toml\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL) if "[alerts" in b
    ]
    config = tmp_path / "llmflation.toml"
    config.write_text(block)
    settings = Settings.from_env(environ={"LLMFLATION_CONFIG": str(config)})
    alerts = settings.alert_config(environ={"LLMFLATION_SLACK_URL": "json://127.0.0.1/x"})
    assert list(alerts.channels) == ["team"] and [rule.channels for rule in alerts.rules] == [["team"]]
