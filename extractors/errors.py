"""The small error hierarchy shared by fetchers and parsers."""

from __future__ import annotations

from llmflation.extractors.redact import redact


class LlmflationError(Exception):
    """Base of every error llmflation raises on purpose."""


class SourceError(LlmflationError):
    """An error tied to one source and URL; both kept, shown and stored without the URL's credentials."""

    def __init__(self, source: str, url: str, detail: str) -> None:
        self.source = source
        self.url = redact(url)
        self.detail = redact(detail, url)
        super().__init__(f"{source}: {self.detail} ({self.url})")


class FetchError(SourceError):
    """The payload could not be fetched: network, HTTP status, size, truncation or deadline. `status` is the HTTP
    status of a response that was an error, `final_url` where it came from after redirects."""

    def __init__(
        self,
        source: str,
        url: str,
        detail: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        final_url: str | None = None,
    ) -> None:
        super().__init__(source, url, detail)
        self.retryable = retryable
        self.status = status
        self.final_url = redact(final_url) if final_url else None


class ParseError(SourceError):
    """The payload no longer looks as the parser expects."""

    def __init__(self, source: str, url: str, detail: str, snippet: str | bytes = "") -> None:
        if isinstance(snippet, bytes):
            snippet = snippet.decode("utf-8", "replace")
        snippet = " ".join(snippet.split())[:160]
        super().__init__(source, url, f"{detail}; payload starts: {snippet!r}" if snippet else detail)


class UnknownSourceError(LlmflationError):
    """A source name that is not in the registry."""
