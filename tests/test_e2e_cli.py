"""End to end: `llmflation run` on the embedded defaults (ephemeral Prefect API), replaying real snapshots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from llmflation.flows import export
from llmflation.flows.pipeline import run_prices
from llmflation.flows.settings import Settings
from tests.helpers import ROOT, TricklingServer, cli, openrouter_body, real, ts
from tests.ledger_helpers import query

pytestmark = pytest.mark.e2e
NOISE = ("Traceback", "database is locked", "telemetry", "Error", "WARNING")


def test_first_runs_replay_cleanly_through_prefect(httpserver: HTTPServer, tmp_path: Path) -> None:
    snapshots = [
        ("openrouter/openrouter_models_2025-12-29.json", "2025-12-29T18:00:00Z"),
        ("openrouter/openrouter_models_2026-04-20.json", "2026-04-20T08:00:00Z"),
    ]
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "LLMFLATION_OPENROUTER_URL": httpserver.url_for("/api/v1/models"),
        "LLMFLATION_EXPORT_DIR": str(tmp_path / "export"),  # each run brings the export up to date after it
    }
    for name, as_of in snapshots:
        httpserver.clear()
        httpserver.expect_request("/api/v1/models").respond_with_data(openrouter_body(real(name)))
        done = cli(
            "run", "--sources", "openrouter", "--as-of", as_of, env=env, cwd=tmp_path, timeout=300, embedded=True
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output
        assert not [word for word in NOISE if word in output], output
        assert "openrouter: ok" in output and f"as of {as_of[:10]}" in output
        assert f"to {tmp_path / 'export'}: " in output
    # Prefect's state lives in llmflation's data folder, never in ~/.prefect
    assert (tmp_path / "data" / "prefect").is_dir()
    assert not (home / ".prefect").exists()

    # The flow wrote exactly what the plain pipeline writes for the same replay (itself checked against a diff).
    via_cli = Settings(db=tmp_path / "data" / "llmflation.duckdb")
    direct = Settings(db=tmp_path / "direct" / "llmflation.duckdb")
    for name, as_of in snapshots:
        httpserver.clear()
        httpserver.expect_request("/api/v1/models").respond_with_data(openrouter_body(real(name)))
        urls = {"openrouter": httpserver.url_for("/api/v1/models")}
        assert (
            run_prices(direct.model_copy(update={"source_urls": urls}), ["openrouter"], ts(as_of[:16])).status == "ok"
        )
    columns = (
        "provider, provider_model_id, metric, unit, tier, amount, valid_from, valid_to, last_seen_at, "
        "missing_runs, end_reason"
    )
    sql = f"SELECT {columns} FROM price_segments ORDER BY ALL"
    assert query(via_cli, sql) == query(direct, sql)
    assert len(query(via_cli, sql)) > 1000
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    assert manifest["datasets"]["price_history"]["rows"] == query(via_cli, "SELECT count(*) FROM price_history")[0][0]
    assert export.verify(tmp_path / "export") == []


def test_secrets_appear_in_no_log_line_no_output_and_no_file(httpserver: HTTPServer, tmp_path: Path) -> None:
    """A webhook token, an SMTP password and HF_TOKEN through a run whose deliveries fail (errors are where URLs
    leak), then every alerts command: none of them in any output, log line, or file under the data folder."""
    import socket

    with socket.socket() as probe:  # ports where nothing listens: both channels fail and keep their errors
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    hook_token, smtp_password, hf_token = "wh-T0ken-5a6b7c8d9e", "Smtp-Pa55-q8w7e6", "hf_SecretValue0123456789"
    secrets = (hook_token, smtp_password, hf_token)
    (tmp_path / "llmflation.toml").write_text(
        '[alerts]\nbackoff_minutes = 0\n[alerts.channels.hook]\nurl = "env:HOOK_URL"\ndigest = false\n'
        '[alerts.channels.mail]\nurl = "env:MAIL_URL"\n'
        '[[alerts.rules]]\nname = "cuts"\nevents = ["price_cut"]\nmin_pct = 10\n'
        'channels = ["hook", "mail", "console"]\n'
    )
    env = dict(
        HOME=str(tmp_path),
        HF_TOKEN=hf_token,
        HOOK_URL=f"json://127.0.0.1:{dead}/hooks/{hook_token}",
        MAIL_URL=f"mailto://alerts:{smtp_password}@127.0.0.1:{dead}?from=a@example.org&to=b@example.org",
        LLMFLATION_OPENROUTER_URL=httpserver.url_for("/api/v1/models"),
        LLMFLATION_HTTP_RETRIES="0",
    )
    first = Settings(
        db=tmp_path / "data" / "llmflation.duckdb", source_urls={"openrouter": env["LLMFLATION_OPENROUTER_URL"]}
    )
    httpserver.expect_request("/api/v1/models").respond_with_data(
        openrouter_body(real("openrouter/openrouter_models_2025-12-29.json"))
    )
    assert run_prices(first, ["openrouter"], ts("2025-12-29T18:00")).status == "ok"  # the baseline run
    httpserver.clear()
    httpserver.expect_request("/api/v1/models").respond_with_data(
        openrouter_body(real("openrouter/openrouter_models_2026-04-20.json"))
    )
    outputs = []
    for args in (
        ["run", "--sources", "openrouter", "--as-of", "2026-04-20T08:00:00Z"],
        ["alerts", "list"],
        ["alerts", "retry"],
        ["alerts", "test", "hook"],
        ["alerts", "test", "mail"],
        ["--debug", "alerts", "test", "hook"],
        ["status"],
    ):
        done = cli(*args, env=env, cwd=tmp_path, timeout=300, embedded=True)
        outputs.append((args, done.returncode, done.stdout + done.stderr))
    run_output = outputs[0][2]
    assert "console [sent] price cut:" in run_output and "hook [pending: " in run_output, run_output
    assert outputs[3][1] == 1 and outputs[3][2].startswith("error: hook: not sent: "), outputs[3]
    for args, _, output in outputs:
        assert not [s for s in secrets if s in output], (args, output)
    assert query(first, "SELECT DISTINCT channel, status FROM alert_deliveries ORDER BY ALL") == [
        ("console", "sent"),
        ("hook", "pending"),
        ("mail", "pending"),
    ]
    errors = query(first, "SELECT DISTINCT last_error FROM alert_deliveries WHERE status = 'pending'")
    assert errors and all(error for (error,) in errors)
    for path in (tmp_path / "data").rglob("*"):  # the warehouse, Prefect's database and logs, raw documents
        if path.is_file():
            content = path.read_bytes()
            if path.suffix == ".gz":
                import gzip

                content = gzip.decompress(content)
            leaked = [s for s in secrets if s.encode() in content]
            assert not leaked, (path, leaked)


def test_a_channel_url_can_come_from_a_prefect_secret_block(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/hook/from-a-block", method="POST").respond_with_data("ok")
    script = (
        "from prefect.testing.utilities import prefect_test_harness\n"
        "from prefect.blocks.system import Secret\n"
        "from flows import alerts\n"
        "from flows.alert_config import Channel\n"
        "from flows.settings import Settings\n"
        "with prefect_test_harness(server_startup_timeout=90):\n"
        f"    Secret(value='json://127.0.0.1:{httpserver.port}/hook/from-a-block').save('hook-url')\n"
        "    error = alerts.send(Settings(), Channel(ref='prefect-secret:hook-url'), 'title', 'from a block')\n"
        "print('RESULT', error)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LLMFLATION_"))}
    env.update(HOME=str(tmp_path), PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert "RESULT None" in done.stdout, done.stdout + done.stderr
    ((request, _),) = httpserver.log
    assert request.get_json()["message"] == "from a block"


def test_a_run_shows_its_sources_progress_on_a_terminal_and_none_in_a_pipe(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/api/v1/models").respond_with_data(
        openrouter_body(real("openrouter/openrouter_models_2025-12-29.json"))
    )
    httpserver.expect_request("/litellm.json").respond_with_data(
        real("litellm/model_prices_2025-02-06.json").read_bytes()
    )
    env = {
        "HOME": str(tmp_path),
        "LLMFLATION_OPENROUTER_URL": httpserver.url_for("/api/v1/models"),
        "LLMFLATION_LITELLM_URL": httpserver.url_for("/litellm.json"),
    }
    args = ("run", "--sources", "openrouter,litellm", "--as-of", "2026-01-01T00:00:00Z")
    shown = cli(*args, env=env, cwd=tmp_path, timeout=300, embedded=True, terminal=True)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "prices" in shown.stderr and "2/2" in shown.stderr and "sources" in shown.stderr, shown.stderr
    assert "openrouter: ok" in shown.stderr and "Traceback" not in shown.stderr
    piped = cli(*args, env=env, cwd=tmp_path, timeout=300, embedded=True)
    assert piped.returncode == 0 and "2/2" not in piped.stderr and "━" not in piped.stderr, piped.stderr


def test_a_source_that_trickles_fails_by_its_deadline_and_the_others_load(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """A server that sends its headers, then a byte every 2 s, keeps no run (and its lock) beyond the deadline."""
    httpserver.expect_request("/litellm.json").respond_with_data(
        real("litellm/model_prices_2025-02-06.json").read_bytes()
    )
    with TricklingServer(every=2.0) as slow:
        env = {
            "HOME": str(tmp_path),
            "COLUMNS": "200",  # the table of the run unwrapped
            "LLMFLATION_HTTP_DEADLINE": "3",
            "LLMFLATION_OPENROUTER_URL": slow.url + "/api/v1/models",
            "LLMFLATION_LITELLM_URL": httpserver.url_for("/litellm.json"),
        }
        started = time.monotonic()
        done = cli(
            "run", "--sources", "openrouter,litellm", "--as-of", "2026-01-01T00:00:00Z", env=env, cwd=tmp_path,
            timeout=300, embedded=True,
        )  # fmt: skip
        took = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "partial" in done.stdout, output
    assert "fetch failed: deadline of 3 s passed" in done.stdout, output
    settings = Settings(db=tmp_path / "data" / "llmflation.duckdb")
    assert query(settings, "SELECT source, status, error FROM source_runs ORDER BY source") == [
        ("litellm", "ok", None),
        ("openrouter", "failed", "fetch failed: deadline of 3 s passed"),
    ]
    assert query(settings, "SELECT http_status, error FROM fetches WHERE source = 'openrouter'") == [
        (200, "deadline of 3 s passed")
    ]
    ((span,),) = query(settings, "SELECT epoch(finished_at - started_at) FROM runs")
    assert span < 3 + 10, span  # the run, from its start in the ledger to its close
    assert took < 3 + 120, took  # the whole command, Prefect's start and stop included


def test_a_run_deadline_ends_every_fetch_of_the_run(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/litellm.json").respond_with_data(
        real("litellm/model_prices_2025-02-06.json").read_bytes()
    )
    with TricklingServer(every=2.0) as slow:
        settings = Settings(
            db=tmp_path / "data" / "llmflation.duckdb",
            run_deadline=3,
            source_urls={"openrouter": slow.url + "/api/v1/models", "litellm": httpserver.url_for("/litellm.json")},
        )
        started = time.monotonic()
        summary = run_prices(settings, ["openrouter", "litellm"], ts("2026-01-01T00:00"))
        took = time.monotonic() - started
    assert summary.status == "partial"
    assert [(o.source, o.status, o.error) for o in summary.outcomes] == [
        ("openrouter", "failed", "fetch failed: run deadline of 3 s passed"),
        ("litellm", "ok", None),
    ]
    assert took < 3 + 10, took


def test_credentials_in_source_urls_are_used_but_never_shown_or_stored(httpserver: HTTPServer, tmp_path: Path) -> None:
    """`user:secret@`, `?api_key=secret` and a token in URL overrides, through a run with a source that loads, one
    that gets a 404 and one that cannot connect (urllib3 logs its retries), then `status` and `sources`: the server
    gets the credentials, and no output, log line or file under the data folder (warehouse, raw archive, Prefect's
    database and logs) holds them."""
    import socket

    import duckdb

    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    httpserver.expect_request("/api/v1/models").respond_with_data(
        openrouter_body(real("openrouter/openrouter_models_2025-12-29.json"))
    )
    httpserver.expect_request("/missing").respond_with_data("gone", status=404)
    token = "Tk-5a6b7c8d9e"  # a word found nowhere else: Prefect's own block catalogue spells "secret" by itself
    base = httpserver.url_for("/").replace("http://", "http://user:secret@")
    env = {
        "HOME": str(tmp_path),
        "LLMFLATION_OPENROUTER_URL": f"{base}api/v1/models?api_key=secret&access_token={token}",
        "LLMFLATION_LITELLM_URL": f"{base}missing?api_key=secret&limit=5&access_token={token}",
        "LLMFLATION_GENAI_PRICES_URL": f"http://user:secret@127.0.0.1:{dead}/data.json?token=secret&access_token={token}",
        "LLMFLATION_HTTP_RETRIES": "1",
        "LLMFLATION_HTTP_BACKOFF": "0.01",
    }
    outputs = []
    for args in (["run", "--sources", "openrouter,litellm,genai_prices"], ["status"], ["sources", "--format", "csv"]):
        done = cli(*args, env=env, cwd=tmp_path, timeout=300, embedded=True)
        outputs.append((args, done.returncode, done.stdout + done.stderr))
    assert outputs[0][1] == 1 and "openrouter" in outputs[0][2] and "HTTP 404" in outputs[0][2], outputs[0]
    assert "Retrying" in outputs[0][2], outputs[0]  # urllib3's warning, about the source that cannot connect
    for args, _, output in outputs:
        assert "secret" not in output and token not in output, (args, output)
    assert "http://***@localhost" in outputs[2][2] and "api_key=***" in outputs[2][2], outputs[2]
    request = next(r for r, _ in httpserver.log if r.path == "/api/v1/models")  # the request used the URL as given
    assert request.args["api_key"] == "secret" and request.authorization.password == "secret"
    assert request.args["access_token"] == token

    settings = Settings(db=tmp_path / "data" / "llmflation.duckdb")
    assert query(settings, "SELECT source, status FROM source_runs ORDER BY source") == [
        ("genai_prices", "failed"),
        ("litellm", "failed"),
        ("openrouter", "ok"),
    ]
    port = httpserver.port
    assert query(settings, "SELECT source, url, http_status FROM fetches ORDER BY source") == [
        ("genai_prices", f"http://***@127.0.0.1:{dead}/data.json?token=***&access_token=***", None),
        ("litellm", f"http://***@localhost:{port}/missing?api_key=***&limit=5&access_token=***", 404),
        ("openrouter", f"http://***@localhost:{port}/api/v1/models?api_key=***&access_token=***", 200),
    ]
    con = duckdb.connect(str(settings.db))
    con.execute("CHECKPOINT")  # everything in the WAL is in the file itself
    con.close()
    searched = []
    for path in (tmp_path / "data").rglob("*"):  # the warehouse, raw documents, Prefect's database and logs
        if path.is_file():
            content = path.read_bytes()
            if path.suffix == ".gz":
                import gzip

                content = gzip.decompress(content)
            assert token.encode() not in content and b":secret@" not in content and b"=secret" not in content, path
            if not path.name.startswith("prefect.db"):
                assert b"secret" not in content, path
            searched.append(path.relative_to(tmp_path / "data").as_posix())
    assert "llmflation.duckdb" in searched and "prefect/prefect.db" in searched, searched
    assert any(name.startswith("raw/") for name in searched), searched


def test_a_listing_served_after_a_redirect_to_another_host_is_recorded(httpserver: HTTPServer, tmp_path: Path) -> None:
    moved = httpserver.url_for("/mirror/litellm.json").replace("localhost", "127.0.0.1")  # another host name
    httpserver.expect_request("/litellm.json").respond_with_data("", status=302, headers={"Location": moved})
    httpserver.expect_request("/mirror/litellm.json").respond_with_data(
        real("litellm/model_prices_2025-02-06.json").read_bytes()
    )
    settings = Settings(
        db=tmp_path / "data" / "llmflation.duckdb", source_urls={"litellm": httpserver.url_for("/litellm.json")}
    )
    assert run_prices(settings, ["litellm"], ts("2026-01-01T00:00")).status == "ok"
    assert query(settings, "SELECT url, final_url, http_status FROM fetches") == [
        (httpserver.url_for("/litellm.json"), moved, 200)
    ]
    ((notes,),) = query(settings, "SELECT notes FROM source_runs")
    assert notes.endswith(f"served by another host after a redirect: {moved}"), notes


def test_a_price_in_yuan_gets_its_dollar_value_from_the_ecb_rates_of_its_day(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """The ECB's real history and DeepSeek's real Chinese page (CNY), served locally, through `llmflation run`: the
    deepseek-v4-flash input price of 2026-07-17 in dollars at that day's cross rate through the euro."""
    zipped = real("fx/eurofxref-hist_2026-10-30.zip").read_bytes()
    httpserver.expect_request("/stats/eurofxref/eurofxref-hist.zip").respond_with_data(
        zipped, content_type="application/zip"
    )
    httpserver.expect_request("/zh-cn/quick_start/pricing").respond_with_data(
        real("html/deepseek_pricing_zh-cn_2026-07-17.html").read_bytes(), content_type="text/html; charset=utf-8"
    )
    env = {
        "HOME": str(tmp_path),
        "LLMFLATION_ECB_URL": httpserver.url_for("/stats/eurofxref/eurofxref-hist.zip"),
        "LLMFLATION_DEEPSEEK_URL": httpserver.url_for("/zh-cn/quick_start/pricing"),
    }
    done = cli(
        "run", "--sources", "ecb,deepseek", "--as-of", "2026-07-17T12:00:00Z", env=env, cwd=tmp_path, timeout=300,
        embedded=True,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert not [word for word in NOISE if word in output], output
    assert "ecb: ok, 7126 days, 221702 rates parsed, 0 rejected, 221702 loaded" in output, output
    assert "deepseek: ok, 2 models, 6 rows parsed" in output, output
    settings = Settings(db=tmp_path / "data" / "llmflation.duckdb")
    assert query(settings, "SELECT source, kind, status, applied FROM source_runs ORDER BY source") == [
        ("deepseek", "official", "ok", True),
        ("ecb", "reference", "ok", True),
    ]
    assert query(settings, "SELECT url, http_status, bytes FROM fetches WHERE source = 'ecb'") == [
        (env["LLMFLATION_ECB_URL"], 200, len(zipped))
    ]
    rates = "SELECT currency, units_per_eur FROM fx_rates_observed WHERE date = '2026-07-17' ORDER BY currency"
    assert ("CNY", Decimal("7.7501")) in query(settings, rates) and ("USD", Decimal("1.1435")) in query(settings, rates)
    ((cny, usd),) = query(
        settings,
        "SELECT price_per_mtok, usd_per_mtok FROM price_history WHERE provider_model_id = 'deepseek-v4-flash' "
        "AND metric = 'input' AND currency = 'CNY'",
    )
    with localcontext() as exact:
        exact.prec = 60
        expected = (cny * Decimal("1.1435") / Decimal("7.7501")).quantize(Decimal("1e-18"), rounding=ROUND_HALF_UP)
    assert cny == Decimal("1")
    assert usd == expected == Decimal("0.147546483271183598")


def test_prefect_keeps_out_of_home_and_sends_no_telemetry_unless_the_user_configured_it(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """A run on a terminal, outside CI (where Prefect would stay quiet on its own), and `alerts test` of a channel
    whose Prefect Secret block does not exist: Prefect's state stays in the data folder, with no telemetry notice."""
    httpserver.expect_request("/api/v1/models").respond_with_json(
        {"data": [{"id": "x/a", "pricing": {"prompt": "0.000001", "completion": "0.000002"}}]}
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "CI": "", "LLMFLATION_OPENROUTER_URL": httpserver.url_for("/api/v1/models")}
    shown = cli("run", "--sources", "openrouter", env=env, cwd=tmp_path, timeout=300, embedded=True, terminal=True)
    assert shown.returncode == 0 and "openrouter: ok" in shown.stderr, shown.stdout + shown.stderr
    assert "anonymous usage data" not in shown.stderr and "DO_NOT_TRACK" not in shown.stderr, shown.stderr
    (tmp_path / "llmflation.toml").write_text('[alerts.channels.team]\nurl = "prefect-secret:nosuch-block"\n')
    missing = cli("alerts", "test", "team", env=env, cwd=tmp_path, timeout=300, embedded=True)
    assert (missing.returncode, missing.stderr, missing.stdout) == (
        1,
        "error: team: not sent: prefect-secret:nosuch-block: no Prefect Secret block named 'nosuch-block'\n",
        "",
    )
    assert (tmp_path / "data" / "prefect" / "prefect.db").is_file()
    assert not (home / ".prefect").exists()
    assert not (tmp_path / "data" / "prefect" / ".sdk_telemetry" / "notice_shown").exists()
