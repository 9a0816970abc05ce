"""The raw archive is verified against raw_documents: damaged documents are found, and restored by a fetch that brings
the same bytes again (a nightly run, or `llmflation verify --repair`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from llmflation.extractors.base import Payload
from llmflation.flows.pipeline import run_prices
from llmflation.flows.settings import Settings
from llmflation.warehouse import archive, evidence
from tests.helpers import ROOT, cli, openrouter_body, real, ts

SNAPSHOTS = [
    ("openrouter/openrouter_models_2025-12-29.json", "2025-12-29T18:00"),
    ("openrouter/openrouter_models_2026-04-20.json", "2026-04-20T08:00"),
]


def _serve(server: HTTPServer, body: bytes) -> str:
    server.clear()
    server.expect_request("/api/v1/models").respond_with_data(body)
    return server.url_for("/api/v1/models")


def _two_runs(settings: Settings, server: HTTPServer) -> list[Payload]:
    """Two real runs of OpenRouter, each fetching another real model list from a local server; their payloads."""
    bodies = []
    for name, at in SNAPSHOTS:
        body = openrouter_body(real(name))
        live = settings.model_copy(update={"source_urls": {"openrouter": _serve(server, body)}})
        assert run_prices(live, ["openrouter"], ts(at)).status == "ok"
        bodies.append(Payload("openrouter", "", ts(at), 200, body))
    return bodies


def test_verify_names_a_truncated_and_a_replaced_document_and_repair_restores_the_one_fetched_again(
    settings: Settings, httpserver: HTTPServer
) -> None:
    first, second = _two_runs(settings, httpserver)
    data, db = settings.data_dir, str(settings.db)
    cut, replaced = archive.raw_path(first.sha256), archive.raw_path(second.sha256)
    shutil.copy(data / cut, data / replaced)  # another document's file under this one's name
    whole = (data / cut).read_bytes()
    (data / cut).write_bytes(whole[: len(whole) // 3])  # a copy that stopped a third of the way
    readable = len(zlib.decompressobj(wbits=31).decompress(whole[: len(whole) // 3]))
    found = {
        cut: f"{cut}: truncated ({readable} of {len(first.content)} bytes)",
        replaced: f"{replaced}: mismatched (its {len(first.content)} bytes hash to {first.sha256})",
    }
    lines = [found[path] for path in sorted(found)]  # in path order

    done = cli("verify", "--db", db)
    assert (done.returncode, done.stderr) == (1, "")
    assert done.stdout == "".join(f"{line}\n" for line in lines) + (
        "2 raw documents checked: 0 intact, 1 truncated, 1 mismatched\n"
    )

    # OpenRouter serves the first model list again; the second is gone from the source for good
    url = _serve(httpserver, first.content)
    repaired = cli("verify", "--repair", "--db", db, env={"LLMFLATION_OPENROUTER_URL": url})
    assert (repaired.returncode, repaired.stderr) == (1, "")
    assert repaired.stdout == "".join(f"{line}\n" for line in lines) + (
        f"{cut}: restored from a new fetch of openrouter\n"
        "2 raw documents checked: 0 intact, 1 truncated, 1 mismatched; 1 restored, 1 still damaged\n"
    )
    assert archive.read(data, cut) == first.content

    again = cli("verify", "--db", db)
    assert (again.returncode, again.stdout) == (
        1,
        f"{found[replaced]}\n2 raw documents checked: 1 intact, 1 mismatched\n",
    )
    failed = cli(
        "verify",
        "--repair",
        "--db",
        db,
        env={"LLMFLATION_OPENROUTER_URL": "http://127.0.0.1:9/gone", "LLMFLATION_HTTP_RETRIES": "0"},
    )
    assert (failed.returncode, failed.stdout) == (
        1,
        f"{found[replaced]}\nopenrouter: not fetched again (request failed: cannot connect to 127.0.0.1:9)\n"
        "2 raw documents checked: 1 intact, 1 mismatched; 0 restored, 1 still damaged\n",
    )


def test_a_later_fetch_of_the_same_document_rewrites_its_damaged_copy(
    settings: Settings, httpserver: HTTPServer
) -> None:
    first, second = _two_runs(settings, httpserver)
    data = settings.data_dir
    path = data / archive.raw_path(first.sha256)
    path.write_bytes(b"\x1f\x8b" + os.urandom(500))  # overwritten with garbage
    assert str(archive.check(data, archive.raw_path(first.sha256), first.sha256, len(first.content))).startswith(
        "mismatched (not readable: Error -3 while decompressing data: "
    )
    live = settings.model_copy(update={"source_urls": {"openrouter": _serve(httpserver, first.content)}})
    assert run_prices(live, ["openrouter"], ts("2026-05-01T00:00")).status == "ok"  # the source serves it again
    assert archive.read(data, archive.raw_path(first.sha256)) == first.content
    assert evidence.verify(settings.db, data).summary() == "2 raw documents checked: all intact"
    # an intact copy is left as it is
    inode = path.stat().st_ino
    assert run_prices(live, ["openrouter"], ts("2026-05-02T00:00")).status == "ok"
    assert path.stat().st_ino == inode
    # a document that went missing is written again the same way
    (data / archive.raw_path(second.sha256)).unlink()
    assert evidence.verify(settings.db, data).summary() == "2 raw documents checked: 1 intact, 1 missing"
    live = settings.model_copy(update={"source_urls": {"openrouter": _serve(httpserver, second.content)}})
    assert run_prices(live, ["openrouter"], ts("2026-05-03T00:00")).status == "ok"
    assert evidence.verify(settings.db, data).summary() == "2 raw documents checked: all intact"


def test_pack_members_are_checked_in_place(tmp_path: Path) -> None:
    pack = archive.Pack(tmp_path, "raw/census/2026-08-02/000000-a.zst")
    pages = [b'[{"id": "a/b", "downloads": 1}]' * 400, b'[{"id": "c/d"}]']
    members = [pack.add(page) for page in pages]
    pack.close()
    shas = [Payload("census", "", ts("2026-08-02T00:00"), 200, page).sha256 for page in pages]
    assert [archive.check(tmp_path, m, s, len(p)) for m, s, p in zip(members, shas, pages, strict=True)] == [None, None]
    packed = tmp_path / "raw/census/2026-08-02/000000-a.zst"
    packed.write_bytes(packed.read_bytes()[:-4])  # the last frame cut short
    assert archive.check(tmp_path, members[0], shas[0], len(pages[0])) is None
    damage = archive.check(tmp_path, members[1], shas[1], len(pages[1]))
    assert damage is not None and damage.kind == "truncated" and str(damage).endswith(f" of {len(pages[1])} bytes)")
    assert str(archive.check(tmp_path, members[1], shas[1], None)).startswith("mismatched (cut short after ")
    packed.unlink()
    assert str(archive.check(tmp_path, members[0], shas[0], len(pages[0]))) == "missing"


def test_a_long_verification_shows_progress_on_a_terminal_only(settings: Settings, httpserver: HTTPServer) -> None:
    _two_runs(settings, httpserver)
    shown = cli("verify", "--db", str(settings.db), terminal=True)
    assert shown.returncode == 0, shown.stderr
    assert "verifying the raw archive" in shown.stderr and "2/2" in shown.stderr and "documents" in shown.stderr
    piped = cli("verify", "--db", str(settings.db))
    assert (piped.returncode, piped.stdout, piped.stderr) == (0, "2 raw documents checked: all intact\n", "")


@pytest.mark.e2e
def test_the_weekly_verification_flow_fails_naming_what_is_damaged(
    settings: Settings, httpserver: HTTPServer, tmp_path: Path
) -> None:
    first, _ = _two_runs(settings, httpserver)
    (settings.data_dir / archive.raw_path(first.sha256)).unlink()
    script = (
        "import sys\n"
        "from flows.verify import verify_archive\n"
        "state = verify_archive(db=sys.argv[1], return_state=True)\n"
        "print('STATE', state.type.value, state.message)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LLMFLATION_"))}
    env.update(HOME=str(tmp_path), PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    done = subprocess.run(
        [sys.executable, "-c", script, str(settings.db)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    output = done.stdout + done.stderr
    assert f"{archive.raw_path(first.sha256)}: missing" in output, output
    assert (
        "STATE FAILED Flow run encountered an exception: RuntimeError: 2 raw documents checked: 1 intact, 1 missing"
        in (done.stdout)
    ), output
