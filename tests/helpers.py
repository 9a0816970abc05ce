"""Test helpers: the one place that finds the shared real-data fixtures, payload builders, and the CLI runner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmflation.extractors.base import Payload

ROOT = Path(__file__).resolve().parent.parent
OWN_FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_fixtures() -> Path:
    """The real-payload folder: $LLMFLATION_FIXTURES or ../shared/fixtures next to the checkout.

    Tests that need it skip with a reason when it is absent, except under CI=true, where that is a failure.
    """
    folder = Path(os.environ.get("LLMFLATION_FIXTURES") or ROOT.parent / "shared" / "fixtures")
    if not folder.is_dir():
        reason = f"real fixtures not found at {folder} (set LLMFLATION_FIXTURES)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return folder


def real(relative: str) -> Path:
    """Path of one real fixture file (skips or fails as shared_fixtures does)."""
    path = shared_fixtures() / relative
    if not path.is_file():
        pytest.fail(f"real fixture {relative} missing from {path.parent}")
    return path


def real_glob(pattern: str) -> list[Path]:
    """Real fixture files matching a glob under the shared folder, sorted by name."""
    found = sorted(shared_fixtures().glob(pattern))
    if not found:
        pytest.fail(f"no real fixtures match {pattern}")
    return found


def openrouter_body(path: Path) -> bytes:
    """The raw API body {"data": [...]} from a collector's wrapped snapshot (or a raw body)."""
    wrapped = json.loads(path.read_bytes())
    body = wrapped.get("body", wrapped)
    return json.dumps({"data": body["data"]}).encode()


def payload(source: str, content: bytes | str | dict | list, url: str = "http://127.0.0.1/test") -> Payload:
    """A Payload as a fetch would produce it."""
    if isinstance(content, dict | list):
        content = json.dumps(content)
    if isinstance(content, str):
        content = content.encode()
    return Payload(source, url, datetime.now(UTC), 200, content, "application/json")


def ts(text: str) -> datetime:
    """'2025-12-29T18:00' -> aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
    timeout: float = 120,
    embedded: bool = False,
    terminal: bool = False,
    unprivileged: bool = False,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m flows.cli ARGS` in a subprocess, without this shell's LLMFLATION_ settings (embedded: without its
    PREFECT_ ones either, so Prefect runs on the embedded defaults), plus env. terminal: its stderr is a
    pseudo-terminal, and `stderr` is what that terminal showed. unprivileged: as user nobody when the tests run as
    root, whom file modes do not stop. stdin: the text its standard input reads (else none)."""
    environ = _cli_environment(env, embedded)
    command = [sys.executable, "-m", "llmflation", *args]
    if unprivileged and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("running as root, and setpriv (util-linux) is not installed to drop to user nobody")
        command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    if not terminal:
        return subprocess.run(
            command,
            cwd=cwd,
            env=environ,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )
    import pty

    leader, follower = pty.openpty()
    child = subprocess.Popen(
        command, cwd=cwd, env={"COLUMNS": "160", **environ}, stdout=subprocess.PIPE, stderr=follower
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    out, _ = child.communicate(timeout=timeout)
    return subprocess.CompletedProcess(command, child.returncode, out.decode(), shown.decode(errors="replace"))


def cli_process(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
    embedded: bool = False,
    output: Path,
    group: bool = False,
) -> subprocess.Popen[bytes]:
    """`python -m flows.cli ARGS` started in the background as cli() runs it; stdout and stderr go to output. group:
    in a process group (and session) of its own, as a shell runs a command in a terminal, so that a test can signal
    the whole group as Ctrl-C does (os.killpg) without signalling itself."""
    with open(output, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "llmflation", *args],
            cwd=cwd,
            env=_cli_environment(env, embedded),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=group,
        )


def _cli_environment(env: dict[str, str] | None, embedded: bool) -> dict[str, str]:
    dropped = ("LLMFLATION_", "PREFECT_") if embedded else ("LLMFLATION_",)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    environ.update(env or {})
    return environ


def process_running(pid: int) -> bool:
    """True while process pid exists and is not a zombie (a dead process waiting for its parent to reap it)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_until_stopped(pids: list[int], timeout: float = 10) -> list[int]:
    """Wait up to timeout seconds for the processes to stop; returns those still running."""
    import time

    deadline = time.monotonic() + timeout
    while [pid for pid in pids if process_running(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if process_running(pid)]


class TricklingServer:
    """A real HTTP server on loopback that answers every request with its headers at once and then one byte of body
    every `every` seconds (pytest-httpserver sends whole responses); `trickle="headers"` sends the status line and
    headers that way too, `length=False` leaves out Content-Length (a body read to the end of the connection).
    Keeps the head of each request it received."""

    def __init__(self, every: float = 2.0, *, trickle: str = "body", length: bool = True, size: int = 100) -> None:
        import socket
        import threading

        self.every, self.trickle, self.length, self.size = every, trickle, length, size
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        import threading

        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: object) -> None:
        import socket

        assert isinstance(conn, socket.socket)
        with conn:
            try:
                self.requests.append(conn.recv(65536))
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                head += f"Content-Length: {self.size}\r\n".encode() if self.length else b"Connection: close\r\n"
                head += b"\r\n"
                if self.trickle == "headers":
                    self._drip(conn, head)
                else:
                    conn.sendall(head)
                    self._drip(conn, b"[" + b" " * (self.size - 2) + b"]")
            except OSError:  # the client hung up: what a deadline does
                pass

    def _drip(self, conn: object, data: bytes) -> None:
        for index in range(len(data)):
            if self._stop.wait(self.every if index else 0):
                return
            conn.sendall(data[index : index + 1])  # type: ignore[attr-defined]

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=2)

    def __enter__(self) -> TricklingServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def through_prefect(cwd: Path, script: str, timeout: float = 300) -> object:
    """Run `script` in a subprocess whose Prefect is the one `llmflation run` used in cwd (its temporary server, on
    the state in ./data/prefect), with `client`, a synchronous Prefect client, in scope; returns what the script
    printed last, read as JSON."""
    import json
    import textwrap

    from llmflation.flows.settings import Settings, prefect_environment

    environ = _cli_environment({"HOME": str(cwd)}, embedded=True)
    environ.update(prefect_environment(Settings(db=cwd / "data" / "llmflation.duckdb"), environ))
    code = "from prefect.client.orchestration import get_client\nwith get_client(sync_client=True) as client:\n"
    code += textwrap.indent(textwrap.dedent(script), "    ")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=environ, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# The real saved payloads of every stable price source (the official pages and the feeds and resellers saved beside
# them), each loaded at the time it was saved.
OFFICIAL = [
    ("openai", "html/openai_api_pricing_developers.openai.com_2026-08-21.html", "2026-08-21T00:00"),
    ("anthropic", "html/anthropic_pricing_2025-11-13.html", "2025-11-13T00:00"),
    ("google", "html/gemini_api_pricing_2026-09-04.html", "2026-09-04T00:00"),
    ("deepseek", "html/deepseek_pricing_zh-cn_2026-07-17.html", "2026-07-17T00:00"),
    ("aws_bedrock", "bedrock/aws_price_list_bedrock_subset.json", "2026-10-01T00:00"),
]
MARKET = [
    ("ecb", "fx/eurofxref-hist_2026-10-30.zip", "2026-10-30T18:00"),
    *OFFICIAL,
    ("openrouter", "openrouter/openrouter_models_top-weekly_2026-07-17.json", "2026-07-17T18:48"),
    ("hf_providers", "hf/hf_router_v1_models_fixture_genai-prices_2026-07-30.json", "2026-07-30T00:00"),
    ("litellm", "litellm/model_prices_2026-07-24.json", "2026-07-24T00:00"),
    ("models_dev", "models-dev/models_dev_api_2026-05.json.gz", "2026-05-21T00:00"),
    ("genai_prices", "llm-prices/genai-prices_v2_data_2026-08-21.json", "2026-08-21T00:00"),
]
