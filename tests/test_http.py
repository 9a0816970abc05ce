"""The HTTP client against a real local server: retries, Retry-After, timeouts, deadlines, truncation, size cap,
redirects, and URLs without their credentials."""

from __future__ import annotations

import base64
import logging
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from llmflation.extractors import http
from llmflation.extractors.errors import FetchError
from tests.helpers import TricklingServer


def _via_requests(
    url: str, *, retries: int = 3, backoff: float = 1.0, deadline_s: float = http.DEADLINE_S, **kwargs: object
):
    session = http.make_session(retries=retries, backoff=backoff, deadline_s=deadline_s)
    return http.fetch(session, "demo", url, **kwargs)


@pytest.fixture
def get():
    """The one client, as every source and the census use it."""
    return _via_requests


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


@pytest.mark.parametrize(
    "server",
    [dict(trickle="body"), dict(trickle="body", length=False), dict(trickle="headers")],
    ids=["body", "body-without-length", "headers"],
)
def test_a_server_that_trickles_is_cut_off_at_the_deadline(get, server: dict) -> None:
    """One byte every 2 s never trips a 30 s read timeout; the deadline ends the fetch all the same, mid-read."""
    with TricklingServer(every=2.0, **server) as slow:
        started = time.monotonic()
        with pytest.raises(FetchError) as error:
            get(slow.url + "/models", deadline_s=3, timeout=30)
        took = time.monotonic() - started
    assert error.value.detail == "deadline of 3 s passed"
    assert error.value.status == (None if server["trickle"] == "headers" else 200)
    assert 2.9 <= took < 4.5, took


def test_a_deadline_ends_retries_whose_wait_would_outlast_it(httpserver: HTTPServer, get) -> None:
    httpserver.expect_request("/busy").respond_with_data("later", status=503, headers={"Retry-After": "60"})
    started = time.monotonic()
    with pytest.raises(FetchError) as error:
        get(httpserver.url_for("/busy"), retries=3, backoff=0.01, deadline_s=5)
    assert time.monotonic() - started < 2  # no use waiting 60 s to retry a fetch that must be over in 5
    assert error.value.detail == "HTTP 503 SERVICE UNAVAILABLE; deadline of 5 s would pass before the retry in 60 s"
    assert error.value.status == 503 and len(httpserver.log) == 1


def test_a_deadline_bounds_retried_timeouts_as_a_whole(httpserver: HTTPServer, get) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.2)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    started = time.monotonic()
    with pytest.raises(FetchError) as error:  # five attempts of 1 s each would take 5 s
        get(httpserver.url_for("/slow"), retries=4, backoff=0.01, timeout=1, deadline_s=2.5)
    assert error.value.detail == "deadline of 2.5 s passed"
    assert time.monotonic() - started < 3.5


def test_an_error_keeps_its_http_status(httpserver: HTTPServer, get) -> None:
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    with pytest.raises(FetchError) as error:
        get(httpserver.url_for("/gone"))
    assert (error.value.status, error.value.detail) == (404, "HTTP 404 NOT FOUND")


def test_a_redirect_is_followed_and_its_final_url_kept(httpserver: HTTPServer, get) -> None:
    other = httpserver.url_for("/moved").replace("localhost", "127.0.0.1")  # the same server under another host name
    httpserver.expect_request("/listing").respond_with_data("", status=302, headers={"Location": other})
    httpserver.expect_request("/moved").respond_with_data('{"data": []}', content_type="application/json")
    httpserver.expect_request("/here").respond_with_data('{"data": []}', content_type="application/json")
    httpserver.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/here"})
    moved = get(httpserver.url_for("/listing"))
    assert moved.url == httpserver.url_for("/listing") and moved.final_url == other
    assert get(httpserver.url_for("/here")).final_url is None  # not redirected
    assert get(httpserver.url_for("/old"), other_hosts=False).final_url == httpserver.url_for("/here")
    with pytest.raises(FetchError) as error:
        get(httpserver.url_for("/listing"), other_hosts=False)
    port = httpserver.port
    assert error.value.detail == f"redirected to another host (http://127.0.0.1:{port}); refused"
    assert (error.value.status, error.value.final_url) == (200, other)


def test_credentials_in_a_url_are_sent_but_never_kept(httpserver: HTTPServer, get) -> None:
    httpserver.expect_request("/models").respond_with_data('{"data": []}', content_type="application/json")
    httpserver.expect_request("/missing").respond_with_data("no", status=404)
    base = httpserver.url_for("/").replace("http://", "http://user:pa55-word@")
    result = get(base + "models?api_key=k3y-value&limit=5")
    request, _ = httpserver.log[-1]
    assert request.args["api_key"] == "k3y-value"  # the request itself used the URL as given
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"user:pa55-word").decode()
    assert result.url == httpserver.url_for("/models").replace("http://", "http://***@") + "?api_key=***&limit=5"
    with pytest.raises(FetchError) as error:
        get(base + "missing?access_token=k3y-value", retries=0)
    assert "k3y-value" not in str(error.value) and "pa55-word" not in str(error.value)
    assert error.value.url.endswith("/missing?access_token=***") and "://***@" in error.value.url


def test_urllib3_retry_warnings_lose_the_credentials(caplog: pytest.LogCaptureFixture) -> None:
    import socket

    with socket.socket() as probe:  # a port with nothing listening: urllib3 warns before each retry
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with caplog.at_level(logging.DEBUG), pytest.raises(FetchError):
        _via_requests(f"http://127.0.0.1:{port}/x?api_key=k3y-value", retries=1, backoff=0.01)
    assert "Retrying" in caplog.text and "api_key=***" in caplog.text
    assert "k3y-value" not in caplog.text
