-- What a source states about a listed model (models.dev's open_weights and release_date), beside what the identity
-- rules make of its id; the catalogue's fallback where no curated value exists.
ALTER TABLE model_identities ADD COLUMN stated_open_weights BOOLEAN;
ALTER TABLE model_identities ADD COLUMN release_date DATE;
