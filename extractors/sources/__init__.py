"""One module per source: NAME, URL, DESCRIPTION, parse(payload) -> ParseResult."""
