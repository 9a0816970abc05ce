"""The one HTTP client: timeouts, a deadline per fetch, an honest User-Agent, retries with backoff that honour
Retry-After; URLs recorded without their credentials."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
import urllib3
from urllib3.util.retry import Retry

from llmflation.extractors.base import Payload
from llmflation.extractors.deadlines import (
    Deadline,
    DeadlinePassed,
    DeadlineRetry,
    Watch,
    WatchedAdapter,
    bounded,
    earliest,
)
from llmflation.extractors.errors import FetchError
from llmflation.extractors.redact import redact

USER_AGENT = "llmflation/0.1 (+https://github.com/llmflation/llmflation; price and adoption tracker)"
RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_BYTES = 64 * 1024 * 1024
DEADLINE_S = 300.0  # one fetch as a whole: connecting, the first byte, the body, and every retry with its wait


class _RedactUrls(logging.Filter):
    """Removes credentials from urllib3's own log lines ("Retrying ... : /models?api_key=...")."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


for _logger in ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry", "urllib3.response"):
    logging.getLogger(_logger).addFilter(_RedactUrls())


def _retry(retries: int, backoff: float, max_retry_after: int) -> Retry:
    """429/5xx, connection errors and read timeouts, retried with exponential backoff, honouring Retry-After."""
    return DeadlineRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        backoff_max=max(backoff * 8, 1.0),
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        retry_after_max=max_retry_after,
        raise_on_status=False,
    )


class Session(requests.Session):
    """A requests.Session with the client's deadlines: `deadline_s` for each fetch through it, and `until`, a
    moment by which every fetch through it ends (a run's deadline)."""

    deadline_s: float = DEADLINE_S
    until: Deadline | None = None


def make_session(
    *,
    retries: int = 3,
    backoff: float = 1.0,
    max_retry_after: int = 120,
    user_agent: str = USER_AGENT,
    deadline_s: float = DEADLINE_S,
    until: Deadline | None = None,
) -> Session:
    """A session that retries 429/5xx, connection errors and read timeouts with exponential backoff, and ends each
    fetch by its deadline."""
    session = Session()
    adapter = WatchedAdapter(max_retries=_retry(retries, backoff, max_retry_after))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    session.deadline_s, session.until = deadline_s, until
    return session


def deadline_of(session: requests.Session) -> Deadline:
    """The deadline of a fetch starting now through this session: its own, or the session's `until` if sooner."""
    own = Deadline.after(getattr(session, "deadline_s", DEADLINE_S))
    return earliest(own, getattr(session, "until", None)) or own


def origin(url: str) -> tuple[str, str | None, int | None]:
    """Scheme, host and port: what a redirect to another host changes."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.hostname, parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())


def fetch(
    session: requests.Session,
    source: str,
    url: str,
    *,
    timeout: float = 30.0,
    max_bytes: int = MAX_BYTES,
    headers: dict[str, str] | None = None,
    other_hosts: bool = True,
) -> Payload:
    """GET url and return the body as a Payload; any failure becomes a FetchError with a clear reason. The fetch is
    over by its deadline (deadline_of) whatever the server does; `timeout` bounds each wait for the server. A
    redirect is followed and recorded (Payload.final_url); to another host, only when other_hosts."""
    try:
        with bounded(deadline_of(session)) as watch:
            assert watch is not None
            return _fetch(session, source, url, timeout, max_bytes, headers, other_hosts, watch)
    except DeadlinePassed as exc:
        raise FetchError(source, url, exc.reason, status=exc.status) from None


def _fetch(
    session: requests.Session,
    source: str,
    url: str,
    timeout: float,
    max_bytes: int,
    headers: dict[str, str] | None,
    other_hosts: bool,
    watch: Watch,
) -> Payload:
    deadline = watch.deadline
    fetched_at = datetime.now(UTC)
    left = deadline.left()
    if left <= 0:
        raise DeadlinePassed(deadline.reason)
    wait = min(timeout, left)
    try:  # the errors of requests quote the URL: none of them is chained to a FetchError
        response = session.get(url, timeout=(min(wait, 10.0), wait), stream=True, headers=headers)
    except requests.exceptions.RequestException as exc:
        if watch.passed or deadline.left() <= 0:
            raise DeadlinePassed(deadline.reason) from None
        if _timed_out(exc):
            raise FetchError(source, url, f"timed out after {timeout:g} s") from None
        raise FetchError(source, url, f"request failed: {_reason(exc)}") from None
    with response:
        final = response.url if response.history else None
        if final and not other_hosts and origin(final) != origin(url):
            raise _other_host(source, url, final, response.status_code)
        if response.status_code >= 400:
            raise _status_error(
                source, url, response.status_code, response.reason, getattr(response.raw, "retries", None), final
            )
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=256 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(source, url, f"response larger than {max_bytes} bytes")
                chunks.append(chunk)
        except requests.exceptions.RequestException as exc:
            if watch.passed:
                raise DeadlinePassed(deadline.reason, response.status_code) from None
            if isinstance(exc, requests.exceptions.Timeout):
                raise FetchError(source, url, f"timed out reading the body after {timeout:g} s") from None
            raise FetchError(source, url, f"body cut short: {_reason(exc)}", retryable=True) from None
        if watch.passed:  # a body without a length ends where the deadline cut it: never taken as whole
            raise DeadlinePassed(deadline.reason, response.status_code)
        return Payload(
            source=source,
            url=redact(url),
            fetched_at=fetched_at,
            status=response.status_code,
            content=b"".join(chunks),
            content_type=response.headers.get("Content-Type", ""),
            links={rel: link["url"] for rel, link in response.links.items() if link.get("url")},
            headers={key.lower(): value for key, value in response.headers.items()},
            final_url=redact(final) if final else None,
        )


def _other_host(source: str, url: str, final: str, status: int) -> FetchError:
    """A redirect to another host, refused where only the host asked may answer."""
    scheme, host, port = origin(final)
    return FetchError(
        source, url, f"redirected to another host ({scheme}://{host}:{port}); refused", status=status, final_url=final
    )


def _status_error(
    source: str, url: str, status: int, reason: str | None, retries: Retry | None, final: str | None = None
) -> FetchError:
    """An HTTP error status, after the client's own retries, as one FetchError: 'HTTP 503 Service Unavailable after
    3 retries'."""
    tries = len(getattr(retries, "history", ()) or ())
    after = f" after {tries} retries" if tries else ""
    return FetchError(source, url, f"HTTP {status} {reason or ''}".rstrip() + after, status=status, final_url=final)


def _timed_out(exc: BaseException) -> bool:
    """Whether a requests/urllib3 exception chain is a timeout (urllib3 wraps them after retries)."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, urllib3.exceptions.NewConnectionError):
            return False  # urllib3 derives it from ConnectTimeoutError, but a refused or unresolved host is not slow
        if isinstance(seen, requests.exceptions.Timeout | urllib3.exceptions.TimeoutError):
            return True
        nested = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = nested or getattr(seen, "reason", None) or seen.__cause__
        if not isinstance(seen, BaseException):
            return False
    return False


def _reason(exc: BaseException) -> str:
    """The innermost message of a requests/urllib3 exception chain, without the noise."""
    inner = exc
    while inner.args and isinstance(inner.args[0], BaseException):
        inner = inner.args[0]
    while isinstance(getattr(inner, "reason", None), BaseException):
        inner = inner.reason  # type: ignore[attr-defined]
    if isinstance(inner, urllib3.exceptions.NameResolutionError):
        return f"cannot resolve host {getattr(inner.conn, 'host', '?')}"
    if isinstance(inner, urllib3.exceptions.NewConnectionError):
        return f"cannot connect to {getattr(inner.conn, 'host', '?')}:{getattr(inner.conn, 'port', '?')}"
    return str(inner)[:200]
