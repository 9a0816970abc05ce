-- What a price was judged against: other offers, its previous value, or (a first price with neither) the prices
-- its provider started in the same run. The segments are then rebuilt and judged again.
-- after: rebuild price history
ALTER TABLE price_segments ADD COLUMN judged_against VARCHAR;
