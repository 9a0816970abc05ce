"""The HTTP client against a real local server: retries, Retry-After, timeouts, truncation, size cap."""

from __future__ import annotations

import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from extractors import http
from extractors.errors import FetchError


def _via_requests(url: str, *, retries: int = 3, backoff: float = 1.0, **kwargs: object):
    return http.fetch(http.make_session(retries=retries, backoff=backoff), "demo", url, **kwargs)


def _via_curl(url: str, *, retries: int = 3, backoff: float = 1.0, **kwargs: object):
    client = http.CurlClient(retries=retries, backoff=backoff)
    try:
        return client.get("demo", url, **kwargs)
    finally:
        client.close()


@pytest.fixture(params=[_via_requests, _via_curl], ids=["requests", "curl"])
def get(request: pytest.FixtureRequest):
    """Both clients, the everyday one (requests) and the census's walk (libcurl): one policy, one set of reasons."""
    return request.param


def test_fetch_returns_payload_with_sha_and_user_agent(httpserver: HTTPServer, get) -> None:
    httpserver.expect_request("/models").respond_with_data(
        '{"data": []}', content_type="application/json", headers={"Link": '</models?cursor=2>; rel="next"'}
    )
    result = get(httpserver.url_for("/models"))
    assert result.content_type == "application/json" and result.links == {"next": "/models?cursor=2"}
    assert result.status == 200 and result.content == b'{"data": []}'
    assert len(result.sha256) == 64 and result.fetched_at.tzinfo is not None
    request, _ = httpserver.log[0]
    assert request.headers["User-Agent"].startswith("llmflation/")


def test_429_with_retry_after_is_honoured(httpserver: HTTPServer, get) -> None:
    seen: list[float] = []

    def handler(request: Request) -> Response:
        seen.append(time.monotonic())
        if len(seen) == 1:
            return Response("slow down", status=429, headers={"Retry-After": "1"})
        return Response('{"ok": 1}', content_type="application/json")

    httpserver.expect_request("/r").respond_with_handler(handler)
    result = get(httpserver.url_for("/r"), retries=2, backoff=0.01)
    assert result.content == b'{"ok": 1}'
    assert len(seen) == 2
    # the client waited for the server's Retry-After, not its own 0.01 s backoff
    assert seen[1] - seen[0] >= 0.9


def test_500_is_retried_then_reported(httpserver: HTTPServer, get) -> None:
    httpserver.expect_request("/boom").respond_with_data("oops", status=500)
    with pytest.raises(FetchError) as error:
        get(httpserver.url_for("/boom"), retries=2, backoff=0.01)
    assert error.value.detail == "HTTP 500 INTERNAL SERVER ERROR after 2 retries"
    assert len(httpserver.log) == 3


def test_404_is_not_retried(httpserver: HTTPServer, get) -> None:
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    with pytest.raises(FetchError, match="HTTP 404"):
        get(httpserver.url_for("/gone"), retries=3, backoff=0.01)
    assert len(httpserver.log) == 1


def test_timeout_is_reported(httpserver: HTTPServer, get) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.5)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(FetchError) as error:
        get(httpserver.url_for("/slow"), retries=0, timeout=0.3)
    assert "timed out" in error.value.detail or "Read timed out" in error.value.detail


def test_body_shorter_than_content_length_is_retryable(httpserver: HTTPServer, get) -> None:
    def cut(request: Request) -> Response:
        response = Response(b'{"data": [', content_type="application/json")
        response.headers["Content-Length"] = "5000"
        return response

    httpserver.expect_request("/cut").respond_with_handler(cut)
    with pytest.raises(FetchError) as error:
        get(httpserver.url_for("/cut"), retries=0, timeout=2)
    assert error.value.retryable
    assert "cut short" in error.value.detail


def test_size_cap(httpserver: HTTPServer, get) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    with pytest.raises(FetchError, match="larger than 1000 bytes"):
        get(httpserver.url_for("/big"), max_bytes=1000)


def test_unreachable_hosts_are_not_called_timeouts(get) -> None:
    import socket

    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError) as error:
        get(f"http://127.0.0.1:{port}/x", retries=0)
    assert error.value.detail == f"request failed: cannot connect to 127.0.0.1:{port}"
