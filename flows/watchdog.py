"""Stop the servers this process started when it dies, however it dies (SIGKILL included), on Linux and macOS alike.

The process keeps the write end of a pipe to a small watchdog process and tells it which process ids to stop
(`watch`) and which it stopped itself (`forget`). When the process ends, by exiting or by being killed, the kernel
closes the pipe; the watchdog reads its end and stops every process still watched: SIGTERM, then SIGKILL after a
grace period.

Why a pipe rather than Linux's parent-death signal (PR_SET_PDEATHSIG): that signal must be asked for by the child
itself as it starts, which Prefect's temporary server, started by Prefect, does not do; it fires when the thread
that started the child ends, not the process; and macOS has no such signal. A pipe closes on every platform.

Run as a script (`python -I watchdog.py`), this file imports nothing but the standard library.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

GRACE_S = 5.0  # between SIGTERM and SIGKILL

_guard = threading.Lock()
_watched: set[int] = set()
_watchdog: subprocess.Popen[bytes] | None = None


def watch(pid: int) -> None:
    """Have process pid stopped if this process dies before it calls forget(pid)."""
    with _guard:
        _watched.add(pid)
        if _watchdog is not None and _watchdog.poll() is None:
            try:
                _send(_watchdog, f"+{pid}")
                return
            except BrokenPipeError:  # it died meanwhile: a new one hears them all
                pass
        _start()


def forget(pid: int) -> None:
    """Process pid is stopped, or no longer this process's to stop."""
    with _guard:
        if pid in _watched:
            _watched.discard(pid)
            if _watchdog is not None and _watchdog.poll() is None:
                with contextlib.suppress(BrokenPipeError):
                    _send(_watchdog, f"-{pid}")


def _start() -> None:
    global _watchdog
    _watchdog = subprocess.Popen(
        [sys.executable, "-I", os.path.abspath(__file__)],
        stdin=subprocess.PIPE,
        start_new_session=True,  # out of reach of the terminal's Ctrl-C and hang-up, which are for this process
    )
    atexit.register(_close, _watchdog)
    _send(_watchdog, "\n".join(f"+{pid}" for pid in sorted(_watched)))


def _send(watchdog: subprocess.Popen[bytes], lines: str) -> None:
    assert watchdog.stdin is not None
    watchdog.stdin.write(f"{lines}\n".encode())
    watchdog.stdin.flush()


def _close(watchdog: subprocess.Popen[bytes]) -> None:
    """At a normal exit, after the servers' own stops: the watchdog stops what is left, if anything, and exits."""
    if watchdog.stdin is not None and not watchdog.stdin.closed:
        watchdog.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        watchdog.wait(timeout=GRACE_S + 5)


def main() -> None:
    """The watchdog: read the watched ids until the pipe closes, then stop those still watched."""
    watched: set[int] = set()
    for line in sys.stdin.buffer:  # ends when the watching process's end closes: it exited or was killed
        text = line.decode().strip()
        if text[:1] == "+":
            watched.add(int(text[1:]))
        elif text[:1] == "-":
            watched.discard(int(text[1:]))
    stop(watched)


def stop(pids: set[int], grace_s: float = GRACE_S) -> None:
    """SIGTERM each process, then SIGKILL those still alive after grace_s seconds."""
    alive = {pid for pid in pids if _signal(pid, signal.SIGTERM)}
    deadline = time.monotonic() + grace_s
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = {pid for pid in alive if _signal(pid, 0)}
    for pid in alive:
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, number: int) -> bool:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        return False
    except PermissionError:  # not ours (the id was reused): leave it alone
        return False
    return True


if __name__ == "__main__":
    main()
