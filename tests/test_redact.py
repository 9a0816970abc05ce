"""Credentials out of URLs and texts: one helper for errors, logs, records and output."""

from __future__ import annotations

import pytest

from llmflation.extractors.errors import FetchError, ParseError
from llmflation.extractors.redact import redact, restore


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("https://user:pa55@host.example/v1/models", "https://***@host.example/v1/models"),
        ("https://token@host.example/x", "https://***@host.example/x"),
        ("http://h:8080/p?api_key=abcd&limit=5", "http://h:8080/p?api_key=***&limit=5"),
        ("http://h/p?limit=5&apikey=abcd&access_token=t0k3n#top", "http://h/p?limit=5&apikey=***&access_token=***#top"),
        ("http://h/p?key=1&client_secret=2&password=3&X-Amz-Signature=4", "http://h/p?key=***&client_secret=***"
         "&password=***&X-Amz-Signature=***"),
        ("https://huggingface.co/api/models?limit=1000&expand[]=downloads&cursor=eyJfaWQiOjF9",
         "https://huggingface.co/api/models?limit=1000&expand[]=downloads&cursor=eyJfaWQiOjF9"),
        ("Retrying after x: /v1/models?token=abcd (see https://u:p@h/)", "Retrying after x: /v1/models?token=*** "
         "(see https://***@h/)"),
    ],
)  # fmt: skip
def test_redact_removes_userinfo_and_secret_query_values(given: str, shown: str) -> None:
    assert redact(given) == shown


def test_redact_also_removes_the_credentials_of_the_url_a_text_is_about() -> None:
    url = "https://user:Pa%2455word@h/p?api_key=k3y-value"
    assert redact("login refused for Pa$55word, key k3y-value", url) == "login refused for ***, key ***"


def test_restore_puts_back_the_configured_credentials_on_the_same_host_only() -> None:
    configured = "https://user:pa55@hub.example/api/models?api_key=k3y&limit=1000"
    cursor = "https://***@hub.example/api/models?api_key=***&limit=1000&cursor=abc"
    assert restore(cursor, configured) == "https://user:pa55@hub.example/api/models?api_key=k3y&limit=1000&cursor=abc"
    assert restore("https://other.example/x?api_key=***", configured) == "https://other.example/x?api_key=***"
    assert restore(redact(configured), configured) == configured


def test_errors_keep_and_show_urls_without_credentials() -> None:
    url = "http://user:pa55-word@127.0.0.1:9/models?api_key=k3y-value"
    for error in (
        FetchError("demo", url, "request failed: k3y-value rejected", status=401, final_url=url),
        ParseError("demo", url, "not JSON"),
    ):
        assert "pa55-word" not in str(error) and "k3y-value" not in str(error)
        assert error.url == "http://***@127.0.0.1:9/models?api_key=***"
    assert error.detail == "not JSON"
