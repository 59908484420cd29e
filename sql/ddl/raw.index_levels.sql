-- raw.index_levels
-- grain:         one index at one snapshot of one trading day
-- key:           (trade_date, snapshot, index_code) (unique; checked in validation, no PRIMARY KEY on purpose)
-- time column:   trade_date (as_of = instant of the snapshot)
-- partition key: (trade_date, snapshot), replaced per partition in one transaction

CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS raw.index_levels (
    trade_date DATE NOT NULL,
    snapshot   VARCHAR NOT NULL,
    index_code VARCHAR NOT NULL,
    prev_close DOUBLE,
    open       DOUBLE,
    high       DOUBLE,
    low        DOUBLE,
    last       DOUBLE,
    as_of      TIMESTAMPTZ,
    {{lineage columns}}
);

COMMENT ON TABLE raw.index_levels IS 'Official index levels (HSI, HSCEI, HSTECH) at each snapshot.';

{{partition comments}}
COMMENT ON COLUMN raw.index_levels.index_code IS 'Index: HSI, HSCEI or HSTECH.';
COMMENT ON COLUMN raw.index_levels.prev_close IS 'Previous trading day''s closing level, index points.';
COMMENT ON COLUMN raw.index_levels.open IS 'Opening level of the day, index points.';
COMMENT ON COLUMN raw.index_levels.high IS 'Highest level of the day so far, index points.';
COMMENT ON COLUMN raw.index_levels.low IS 'Lowest level of the day so far, index points.';
COMMENT ON COLUMN raw.index_levels.last IS 'Level at the snapshot, index points.';
COMMENT ON COLUMN raw.index_levels.as_of IS 'Instant the level is as of.';
{{lineage comments}}
