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
    source     VARCHAR NOT NULL,
    run_id     VARCHAR NOT NULL,
    loaded_at  TIMESTAMPTZ NOT NULL
);

COMMENT ON TABLE raw.index_levels IS 'Official index levels (HSI, HSCEI, HSTECH) at each snapshot.';

COMMENT ON COLUMN raw.index_levels.trade_date IS 'HKEX trading day (Asia/Hong_Kong) of the partition.';
COMMENT ON COLUMN raw.index_levels.snapshot IS 'Snapshot of the trading day: midday (as of 12:00 HKT) or close (after the closing auction, 16:10 HKT; 12:10 on a half day).';
COMMENT ON COLUMN raw.index_levels.index_code IS 'Index: HSI, HSCEI or HSTECH.';
COMMENT ON COLUMN raw.index_levels.prev_close IS 'Previous trading day''s closing level, index points.';
COMMENT ON COLUMN raw.index_levels.open IS 'Opening level of the day, index points.';
COMMENT ON COLUMN raw.index_levels.high IS 'Highest level of the day so far, index points.';
COMMENT ON COLUMN raw.index_levels.low IS 'Lowest level of the day so far, index points.';
COMMENT ON COLUMN raw.index_levels.last IS 'Level at the snapshot, index points.';
COMMENT ON COLUMN raw.index_levels.as_of IS 'Instant the level is as of.';
COMMENT ON COLUMN raw.index_levels.source IS 'Which source produced the row: sample, landing or live:<provider>.';
COMMENT ON COLUMN raw.index_levels.run_id IS 'The Dagster run that wrote the row.';
COMMENT ON COLUMN raw.index_levels.loaded_at IS 'When the row was written to the warehouse.';
