"""Deadlines for fetches: a moment by which a fetch is over, whatever the server does.

A per-read timeout never ends a read from a server that sends one byte at a time, and urllib3's read(amt) waits
for amt bytes. So a fetch through requests runs under a watch: a timer that, at the deadline, shuts down the sockets
the fetch uses, which makes a blocked read return at once; urllib3's connections enlist with the watch of the fetch
running in their thread, and retries wait no longer than the deadline leaves.

stop_all() ends every fetch at once, as if all their deadlines had passed: an interrupted run stops within a moment
instead of waiting for slow servers.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry


@dataclass(frozen=True)
class Deadline:
    """A moment (time.monotonic()) by which fetches must be over, and its name in the reason of a fetch it ends."""

    at: float
    seconds: float
    name: str = "deadline"

    @classmethod
    def after(cls, seconds: float, name: str = "deadline") -> Deadline:
        return cls(time.monotonic() + seconds, seconds, name)

    def left(self) -> float:
        """Seconds until it passes (negative once it has)."""
        return self.at - time.monotonic()

    @property
    def reason(self) -> str:
        if _stopped.is_set() and self.left() > 0:
            return "interrupted"
        return f"{self.name} of {self.seconds:g} s passed"


def earliest(*deadlines: Deadline | None) -> Deadline | None:
    """The first to pass of the deadlines given (None when none is)."""
    given = [deadline for deadline in deadlines if deadline is not None]
    return min(given, key=lambda deadline: deadline.at) if given else None


def time_left(deadline: Deadline | None) -> float:
    """Seconds left before a deadline (infinite without one, 0 once it has passed): to cut a pause short."""
    return float("inf") if deadline is None else max(deadline.left(), 0.0)


class DeadlinePassed(Exception):
    """Raised inside a fetch whose deadline has passed, or would before the next attempt."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


_fetching = threading.local()  # the deadline and the watch of the fetch running in this thread
_watches: set[Watch] = set()  # the watches of the fetches running now, in every thread
_watches_guard = threading.Lock()
_stopped = threading.Event()


def stop_all() -> None:
    """End every fetch running now, and every fetch started from now on, as if its deadline had passed."""
    _stopped.set()
    with _watches_guard:
        running = list(_watches)
    for watch in running:
        watch.expire()


def pause(seconds: float) -> None:
    """Sleep, but end at once when stop_all() is called (a pause for a rate limit in an interrupted run)."""
    _stopped.wait(max(seconds, 0.0))


def stopped() -> bool:
    """Whether stop_all() was called."""
    return _stopped.is_set()


class Watch:
    """The sockets of one fetch, shut down when its deadline passes: a read blocked on a server that trickles its
    bytes (which a per-read timeout never ends) returns at once."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline
        self.passed = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(deadline.left(), 0.0), self.expire)
        self._timer.daemon = True
        self._timer.start()
        with _watches_guard:
            _watches.add(self)
        if _stopped.is_set():
            self.expire()

    def enlist(self, connection: HTTPConnection) -> None:
        """Watch the socket of a connection the fetch uses (its socket, not the connection: http.client lets go of
        the socket of a response read to the end of the connection); past the deadline, end it and the fetch."""
        sock = connection.sock
        with self._lock:
            self.passed = self.passed or self.deadline.left() <= 0
            if self.passed:
                _shut(sock)
                raise DeadlinePassed(self.deadline.reason)
            if sock is not None and not any(known is sock for known in self._sockets):
                self._sockets.append(sock)

    def expire(self) -> None:
        """End the fetch now: its sockets are shut down, and it fails with its deadline's reason."""
        with self._lock:
            self.passed = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def stop(self) -> None:
        self._timer.cancel()
        with _watches_guard:
            _watches.discard(self)


def _shut(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):  # the descriptor's own, under TLS too: a reader gets end of file at once
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _enlist(connection: HTTPConnection) -> None:
    watch = getattr(_fetching, "watch", None)
    if watch is not None:
        watch.enlist(connection)


class _Watched:
    """A urllib3 connection watched by the fetch using it (a kept-alive one is enlisted again by each request)."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _enlist(self)  # type: ignore[arg-type]

    def request(self, *args: Any, **kwargs: Any) -> None:
        _enlist(self)  # type: ignore[arg-type]
        super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter, with connections a fetch's deadline can end."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS proxies bring connections of their own
            manager.pool_classes_by_scheme = _POOLS
        return manager


class DeadlineRetry(Retry):
    """urllib3's Retry, whose waits between attempts never outlast the deadline of the fetch in this thread."""

    def sleep(self, response: urllib3.BaseHTTPResponse | None = None) -> None:
        deadline = getattr(_fetching, "deadline", None)
        if deadline is None:
            super().sleep(response)
            return
        after = self.get_retry_after(response) if self.respect_retry_after_header and response is not None else None
        wait = after or self.get_backoff_time()
        left = deadline.left()
        if wait < left:
            if _stopped.wait(max(wait, 0.0)):  # stop_all() during the wait: no more attempts
                raise DeadlinePassed(deadline.reason)
            return
        status = response.status if response is not None else None
        before = f"HTTP {status} {response.reason or ''}".rstrip() + "; " if response is not None else ""
        if after and left > 0:  # the server asks for a wait the deadline leaves no room for: fail now, not then
            detail = f"{deadline.name} of {deadline.seconds:g} s would pass before the retry in {wait:g} s"
            raise DeadlinePassed(before + detail, status)
        _stopped.wait(max(left, 0.0))
        raise DeadlinePassed(before + deadline.reason, status)


@contextlib.contextmanager
def bounded(deadline: Deadline, *, watch: bool = True) -> Iterator[Watch | None]:
    """Run a fetch in this thread under a deadline: retries wait no longer than it leaves, and (watch) the sockets
    of urllib3's connections are shut down when it passes. Yields the watch, whose `passed` says whether it did."""
    outer = getattr(_fetching, "deadline", None), getattr(_fetching, "watch", None)
    watching = Watch(deadline) if watch else None
    _fetching.deadline, _fetching.watch = deadline, watching
    try:
        yield watching
    finally:
        if watching is not None:
            watching.stop()
        _fetching.deadline, _fetching.watch = outer
