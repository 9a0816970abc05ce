-- What the incremental history fold needs of a segment besides its validity (warehouse/history.py): the start the
-- source stated, the end it stated, the end its own series gives it (the next value, or removal), and whether it
-- is the latest segment of its series. The segments are then rebuilt from the observations.
-- after: rebuild price history
ALTER TABLE price_segments ADD COLUMN stated_from TIMESTAMPTZ;
ALTER TABLE price_segments ADD COLUMN stated_to TIMESTAMPTZ;
ALTER TABLE price_segments ADD COLUMN series_to TIMESTAMPTZ;
ALTER TABLE price_segments ADD COLUMN series_end VARCHAR;
ALTER TABLE price_segments ADD COLUMN latest BOOLEAN DEFAULT false;
-- The models whose events a run's detection recomputes (filled and emptied inside the run's transaction).
CREATE TABLE event_scope (model_key VARCHAR NOT NULL);
-- An event the history no longer shows (a replay out of order put an earlier price between its two sides) is
-- withdrawn, not deleted: its row and deliveries stay, price_events leaves it out.
ALTER TABLE events ADD COLUMN withdrawn_at TIMESTAMPTZ;
-- How many times the event's offer changed in the 30 days before it (flapping), for rules and readers.
ALTER TABLE events ADD COLUMN changes_30d INTEGER;
-- false: a price 100x or more away from the other offers of its model and metric (or, with none, from its own
-- previous value): held out of every derived view and of price alerts (warehouse/history.py judges it).
ALTER TABLE price_segments ADD COLUMN plausible BOOLEAN DEFAULT true;
-- whether the event's price was plausible when it was last judged
ALTER TABLE events ADD COLUMN plausible BOOLEAN;
-- what a price was judged against: the median of the other offers in force when it started, and their sources
-- (NULL when there were none and it was judged against its own previous value)
ALTER TABLE price_segments ADD COLUMN judged_median DECIMAL(38, 18);
ALTER TABLE price_segments ADD COLUMN judged_sources VARCHAR[];
