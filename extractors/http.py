"""The one HTTP client: timeouts, an honest User-Agent, retries with backoff that honour Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.utils import parse_header_links
from urllib3.util.retry import Retry

from extractors.base import Payload
from extractors.errors import FetchError

USER_AGENT = "llmflation/0.1 (+https://github.com/llmflation/llmflation; price and adoption tracker)"
RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_BYTES = 64 * 1024 * 1024


def _retry(retries: int, backoff: float, max_retry_after: int) -> Retry:
    """429/5xx, connection errors and read timeouts, retried with exponential backoff, honouring Retry-After."""
    return Retry(
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


def make_session(
    *,
    retries: int = 3,
    backoff: float = 1.0,
    max_retry_after: int = 120,
    user_agent: str = USER_AGENT,
) -> requests.Session:
    """A session that retries 429/5xx, connection errors and read timeouts with exponential backoff."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=_retry(retries, backoff, max_retry_after))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    return session


def make_pool(
    *,
    retries: int = 3,
    backoff: float = 1.0,
    max_retry_after: int = 120,
    user_agent: str = USER_AGENT,
) -> urllib3.PoolManager:
    """The same client policy as make_session, without requests' per-call overhead (about 1 ms a request): for
    long sequential walks such as the full-Hub census."""
    return urllib3.PoolManager(
        retries=_retry(retries, backoff, max_retry_after), headers={"User-Agent": user_agent}, maxsize=2
    )


def fetch_fast(
    pool: urllib3.PoolManager,
    source: str,
    url: str,
    *,
    timeout: float = 30.0,
    max_bytes: int = MAX_BYTES,
    headers: dict[str, str] | None = None,
) -> Payload:
    """fetch() through a urllib3 pool: the same Payload, and the same FetchError reasons."""
    fetched_at = datetime.now(UTC)
    request_headers = {**pool.headers, **(headers or {})}
    try:
        response = pool.request(
            "GET",
            url,
            headers=request_headers,
            timeout=urllib3.Timeout(connect=min(timeout, 10.0), read=timeout),
            preload_content=True,
        )
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.DecodeError) as exc:
        raise FetchError(source, url, f"body cut short: {_reason(exc)}", retryable=True) from exc
    except urllib3.exceptions.HTTPError as exc:
        if _timed_out(exc):
            raise FetchError(source, url, f"timed out after {timeout:g} s") from exc
        raise FetchError(source, url, f"request failed: {_reason(exc)}") from exc
    if response.status >= 400:
        raise _status_error(source, url, response.status, response.reason, response.retries)
    if len(response.data) > max_bytes:
        raise FetchError(source, url, f"response larger than {max_bytes} bytes")
    link = response.headers.get("Link")
    links = {item["rel"]: item["url"] for item in parse_header_links(link) if item.get("rel")} if link else {}
    return Payload(
        source=source,
        url=url,
        fetched_at=fetched_at,
        status=response.status,
        content=response.data,
        content_type=response.headers.get("Content-Type", ""),
        links=links,
        headers={key.lower(): value for key, value in response.headers.items()},
    )


def fetch(
    session: requests.Session,
    source: str,
    url: str,
    *,
    timeout: float = 30.0,
    max_bytes: int = MAX_BYTES,
    headers: dict[str, str] | None = None,
) -> Payload:
    """GET url and return the body as a Payload; any failure becomes a FetchError with a clear reason."""
    fetched_at = datetime.now(UTC)
    try:
        response = session.get(url, timeout=(min(timeout, 10.0), timeout), stream=True, headers=headers)
    except requests.exceptions.RequestException as exc:
        if _timed_out(exc):
            raise FetchError(source, url, f"timed out after {timeout:g} s") from exc
        raise FetchError(source, url, f"request failed: {_reason(exc)}") from exc
    with response:
        if response.status_code >= 400:
            raise _status_error(
                source, url, response.status_code, response.reason, getattr(response.raw, "retries", None)
            )
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=256 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(source, url, f"response larger than {max_bytes} bytes")
                chunks.append(chunk)
        except requests.exceptions.Timeout as exc:
            raise FetchError(source, url, f"timed out reading the body after {timeout:g} s") from exc
        except requests.exceptions.RequestException as exc:
            raise FetchError(source, url, f"body cut short: {_reason(exc)}", retryable=True) from exc
        return Payload(
            source=source,
            url=url,
            fetched_at=fetched_at,
            status=response.status_code,
            content=b"".join(chunks),
            content_type=response.headers.get("Content-Type", ""),
            links={rel: link["url"] for rel, link in response.links.items() if link.get("url")},
            headers={key.lower(): value for key, value in response.headers.items()},
        )


def _status_error(source: str, url: str, status: int, reason: str | None, retries: Retry | None) -> FetchError:
    """An HTTP error status, after the client's own retries, as one FetchError: 'HTTP 503 Service Unavailable after
    3 retries'."""
    tries = len(getattr(retries, "history", ()) or ())
    after = f" after {tries} retries" if tries else ""
    return FetchError(source, url, f"HTTP {status} {reason or ''}".rstrip() + after)


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
