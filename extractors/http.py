"""The one HTTP client: timeouts, a deadline per fetch, an honest User-Agent, retries with backoff that honour
Retry-After; URLs recorded without their credentials."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
import urllib3
from requests.utils import parse_header_links
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


class CurlClient:
    """The same client policy as make_session (retries with backoff that honour Retry-After, timeouts, deadlines,
    the User-Agent, the FetchError reasons), with the HTTP done by libcurl: for long sequential walks such as the
    full-Hub census, two thousand requests in a row, where urllib3 spends half a millisecond of Python on each (about a
    third of that re-encoding the URL character by character) and libcurl a sixth of that. One connection, kept
    alive."""

    def __init__(
        self,
        *,
        retries: int = 3,
        backoff: float = 1.0,
        max_retry_after: int = 120,
        user_agent: str = USER_AGENT,
        deadline_s: float = DEADLINE_S,
        until: Deadline | None = None,
    ) -> None:
        import certifi
        import pycurl

        self.retry = _retry(retries, backoff, max_retry_after)
        self.deadline_s, self.until = deadline_s, until
        self.curl = pycurl.Curl()
        self.curl.setopt(pycurl.USERAGENT, user_agent)
        self.curl.setopt(pycurl.NOSIGNAL, 1)
        self.curl.setopt(pycurl.FOLLOWLOCATION, 1)
        self.curl.setopt(pycurl.MAXREDIRS, 5)
        self.curl.setopt(pycurl.CAINFO, certifi.where())  # the same CA bundle as requests, wherever libcurl was built

    def close(self) -> None:
        self.curl.close()

    def get(
        self,
        source: str,
        url: str,
        *,
        timeout: float = 30.0,
        max_bytes: int = MAX_BYTES,
        headers: dict[str, str] | None = None,
        other_hosts: bool = True,
    ) -> Payload:
        """fetch() through libcurl: the same Payload, and the same FetchError reasons. `timeout` bounds each attempt
        as a whole (connecting: at most 10 s of it), the deadline all of them and their waits."""
        own = Deadline.after(self.deadline_s)
        deadline = earliest(own, self.until) or own
        try:
            with bounded(deadline, watch=False):
                return self._get(source, url, timeout, max_bytes, headers, other_hosts, deadline)
        except DeadlinePassed as exc:
            raise FetchError(source, url, exc.reason, status=exc.status) from None

    def _get(
        self,
        source: str,
        url: str,
        timeout: float,
        max_bytes: int,
        headers: dict[str, str] | None,
        other_hosts: bool,
        deadline: Deadline,
    ) -> Payload:
        import pycurl

        curl, retry = self.curl, self.retry
        curl.setopt(pycurl.HTTPHEADER, [f"{key}: {value}" for key, value in (headers or {}).items()])
        while True:
            left = deadline.left()
            if left <= 0.001:
                raise DeadlinePassed(deadline.reason)
            attempt = min(timeout, left)  # libcurl ends the whole transfer at its TIMEOUT, however the bytes come
            curl.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(min(attempt, 10.0) * 1000)))
            curl.setopt(pycurl.TIMEOUT_MS, max(1, int(attempt * 1000)))
            fetched_at, body, head = datetime.now(UTC), bytearray(), []

            def write(chunk: bytes, body: bytearray = body) -> int | None:
                body.extend(chunk)
                return 0 if len(body) > max_bytes else None  # 0 makes libcurl stop the transfer

            curl.setopt(pycurl.URL, url)
            curl.setopt(pycurl.WRITEFUNCTION, write)
            curl.setopt(pycurl.HEADERFUNCTION, head.append)
            try:
                curl.perform()
            except pycurl.error as exc:
                if len(body) > max_bytes:
                    raise FetchError(source, url, f"response larger than {max_bytes} bytes") from None
                if exc.args[0] == pycurl.E_OPERATION_TIMEDOUT and attempt < timeout:
                    raise DeadlinePassed(deadline.reason, _last_response(head)[0] or None) from None
                error = _curl_error(url, timeout, *exc.args)
                try:
                    retry = retry.increment("GET", url, error=error)
                except urllib3.exceptions.HTTPError:
                    raise FetchError(source, url, error.detail, retryable=error.retryable) from None
                retry.sleep()
                continue
            status, reason, response_headers = _last_response(head)
            final = curl.getinfo(pycurl.EFFECTIVE_URL) if curl.getinfo(pycurl.REDIRECT_COUNT) else None
            if final and not other_hosts and origin(final) != origin(url):
                raise _other_host(source, url, final, status)
            if retry.is_retry("GET", status, has_retry_after="retry-after" in response_headers):
                response = urllib3.HTTPResponse(
                    b"", headers=response_headers, status=status, reason=reason, preload_content=False
                )
                try:
                    retry = retry.increment("GET", url, response=response)
                except urllib3.exceptions.MaxRetryError:
                    raise _status_error(source, url, status, reason, retry, final) from None
                retry.sleep(response)
                continue
            if status >= 400:
                raise _status_error(source, url, status, reason, retry, final)
            link = response_headers.get("link")
            links = {item["rel"]: item["url"] for item in parse_header_links(link) if item.get("rel")} if link else {}
            return Payload(
                source=source,
                url=redact(url),
                fetched_at=fetched_at,
                status=status,
                content=bytes(body),
                content_type=response_headers.get("content-type", ""),
                links=links,
                headers=response_headers,
                final_url=redact(final) if final else None,
            )


class _CurlError(Exception):
    """A libcurl error worded as ours; each subclass is also the urllib3 error its Retry counts it as."""

    def __init__(self, detail: str, *, retryable: bool = False) -> None:
        super().__init__(detail)
        self.detail, self.retryable = detail, retryable


class _CurlReadError(_CurlError, urllib3.exceptions.ProtocolError):
    """Retried as a read error."""


class _CurlConnectError(_CurlError, urllib3.exceptions.ConnectTimeoutError):
    """Retried as a connect error."""


class _CurlOtherError(_CurlError, urllib3.exceptions.HTTPError):
    """Retried as another error."""


def _curl_error(url: str, timeout: float, code: int, message: str) -> _CurlError:
    import pycurl

    where = urllib3.util.parse_url(url)
    port = where.port or (443 if where.scheme == "https" else 80)
    if code == pycurl.E_OPERATION_TIMEDOUT:
        return _CurlReadError(f"timed out after {timeout:g} s")
    if code in (pycurl.E_PARTIAL_FILE, pycurl.E_RECV_ERROR, pycurl.E_GOT_NOTHING):
        return _CurlReadError(f"body cut short: {message}", retryable=True)
    if code == pycurl.E_COULDNT_CONNECT:
        return _CurlConnectError(f"request failed: cannot connect to {where.host}:{port}")
    if code == pycurl.E_COULDNT_RESOLVE_HOST:
        return _CurlConnectError(f"request failed: cannot resolve host {where.host}")
    return _CurlOtherError(f"request failed: {message}")


def _last_response(head: list[bytes]) -> tuple[int, str, dict[str, str]]:
    """Status, reason and headers (names in lower case) of the last response in libcurl's header lines (a redirect
    or an interim response comes before it)."""
    status, reason, headers = 0, "", {}
    for raw in head:
        line = raw.decode("iso-8859-1").rstrip("\r\n")
        if line.startswith("HTTP/"):
            parts = line.split(" ", 2)
            status, reason, headers = int(parts[1]), parts[2] if len(parts) > 2 else "", {}
        elif ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    return status, reason, headers


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
