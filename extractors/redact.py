"""Credentials out of URLs and texts: what llmflation stores, logs or prints never holds a password, key or token.

A source URL may carry them (`https://user:pass@host/...`, `?api_key=...`): the request uses the URL as given,
everything else sees it through `redact`.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

MASK = "***"
# query parameters whose values are credentials: api_key, apikey, access_token, token, key, client_secret, password,
# X-Amz-Signature, auth ...
_SECRET_NAME = r"[^=&#?\s]*(?:key|token|secret|passw|pwd|auth|sig|credential)[^=&#?\s]*"
_SECRET_PARAM = re.compile(rf"(?i)([?&;]{_SECRET_NAME}=)[^&#\s'\"<>]+")
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.\-]*://)[^/?#@\s'\"<>]+@")
_IS_SECRET_NAME = re.compile(rf"(?i){_SECRET_NAME}")


def redact(text: str, *urls: str) -> str:
    """text without credentials: the user and password of every URL in it, the values of query parameters named
    like keys, tokens, secrets or passwords, and, wherever they appear, those of `urls` (the URLs the text is about,
    whose credentials an error message may quote on their own)."""
    for secret in sorted({s for url in urls for s in _credentials(url)}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _USERINFO.sub(rf"\g<1>{MASK}@", text)
    return _SECRET_PARAM.sub(rf"\g<1>{MASK}", text)


def restore(url: str, original: str) -> str:
    """A redacted URL with the credentials of `original` put back, when both name the same host and port (a
    cursor kept on disk redacted, resumed against the configured URL); otherwise url unchanged."""
    mine, theirs = urlsplit(url), urlsplit(original)
    if (mine.scheme, mine.hostname, mine.port) != (theirs.scheme, theirs.hostname, theirs.port):
        return url
    userinfo, _, _ = theirs.netloc.rpartition("@")
    host = mine.netloc.rpartition("@")[2]
    values = dict(piece.split("=", 1) for piece in theirs.query.split("&") if "=" in piece)
    query = "&".join(
        f"{name}={values[name]}" if value == MASK and name in values else piece
        for piece in mine.query.split("&")
        for name, _, value in [piece.partition("=")]
    )
    return mine._replace(netloc=f"{userinfo}@{host}" if userinfo else host, query=query).geturl()


def _credentials(url: str) -> set[str]:
    """The password and the secret query values of a URL, as written and decoded (long enough to be told from
    ordinary words)."""
    try:
        parts = urlsplit(url)
        found = [parts.password or ""]
    except ValueError:
        return set()
    for piece in parts.query.split("&"):
        name, _, value = piece.partition("=")
        if _IS_SECRET_NAME.fullmatch(name):
            found.append(value)
    return {each for value in found for each in (value, unquote(value)) if len(each) >= 4}
