-- A census in progress lives in the warehouse: its hf_census_days row (status 'fetching') holds the cursor,
-- next_url, and what has been staged so far, and hf_census_pages names each staged page (an archived raw page,
-- by sha256) in listing order. A day counts for nothing until its row says 'complete'.
CREATE TABLE hf_census_pages (
    day     DATE NOT NULL,
    page    INTEGER NOT NULL,      -- its place in the day's listing, from 0
    sha256  VARCHAR NOT NULL       -- its raw page, in raw_documents
);
