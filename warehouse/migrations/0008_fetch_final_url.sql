-- Where a fetch was answered from after redirects (NULL when it was not redirected); like url, without credentials.
ALTER TABLE fetches ADD COLUMN final_url VARCHAR;
