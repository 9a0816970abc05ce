"""The small error hierarchy shared by fetchers and parsers."""

from __future__ import annotations


class LlmflationError(Exception):
    """Base of every error llmflation raises on purpose."""


class SourceError(LlmflationError):
    """An error tied to one source and URL."""

    def __init__(self, source: str, url: str, detail: str) -> None:
        self.source = source
        self.url = url
        self.detail = detail
        super().__init__(f"{source}: {detail} ({url})")


class FetchError(SourceError):
    """The payload could not be fetched: network, HTTP status, size or truncation."""

    def __init__(self, source: str, url: str, detail: str, *, retryable: bool = False) -> None:
        super().__init__(source, url, detail)
        self.retryable = retryable


class ParseError(SourceError):
    """The payload no longer looks as the parser expects."""

    def __init__(self, source: str, url: str, detail: str, snippet: str | bytes = "") -> None:
        if isinstance(snippet, bytes):
            snippet = snippet.decode("utf-8", "replace")
        snippet = " ".join(snippet.split())[:160]
        super().__init__(source, url, f"{detail}; payload starts: {snippet!r}" if snippet else detail)


class UnknownSourceError(LlmflationError):
    """A source name that is not in the registry."""
