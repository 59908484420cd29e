-- raw.quotes
-- grain:         one share at one snapshot of one trading day
-- key:           (trade_date, snapshot, symbol) (unique; checked in validation, no PRIMARY KEY on purpose)
-- time column:   trade_date (as_of = instant of the snapshot)
-- partition key: (trade_date, snapshot), replaced per partition in one transaction

CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS raw.quotes (
    trade_date DATE NOT NULL,
    snapshot   VARCHAR NOT NULL,
    symbol     VARCHAR NOT NULL,
    prev_close DOUBLE,
    open       DOUBLE,
    high       DOUBLE,
    low        DOUBLE,
    last       DOUBLE,
    volume     BIGINT,
    turnover   DOUBLE,
    as_of      TIMESTAMPTZ,
    {{lineage columns}},
    trading_status VARCHAR
);

-- trading_status came after the first lakes: an existing lake gets it here (NULL in the rows
-- it holds, i.e. trading normally, which is what those sources reported), at the end of the
-- table as in a new lake, so both have the same column order.
ALTER TABLE raw.quotes ADD COLUMN IF NOT EXISTS trading_status VARCHAR;

COMMENT ON TABLE raw.quotes IS 'Snapshot quotes of every listed share, cumulative for the day up to the snapshot. Prices in HKD.';

{{partition comments}}
COMMENT ON COLUMN raw.quotes.symbol IS 'HKEX stock code, five digits.';
COMMENT ON COLUMN raw.quotes.prev_close IS 'Previous trading day''s closing price, HKD; NULL on the share''s listing day.';
COMMENT ON COLUMN raw.quotes.open IS 'Opening price of the day, HKD; NULL if untraded.';
COMMENT ON COLUMN raw.quotes.high IS 'Highest price of the day so far, HKD; NULL if untraded.';
COMMENT ON COLUMN raw.quotes.low IS 'Lowest price of the day so far, HKD; NULL if untraded.';
COMMENT ON COLUMN raw.quotes.last IS 'Last traded price at the snapshot, HKD; NULL if untraded.';
COMMENT ON COLUMN raw.quotes.volume IS 'Shares traded in the day so far (0 if untraded).';
COMMENT ON COLUMN raw.quotes.turnover IS 'Turnover of the day so far, HKD.';
COMMENT ON COLUMN raw.quotes.as_of IS 'Instant the quote is as of.';
{{lineage comments}}
COMMENT ON COLUMN raw.quotes.trading_status IS 'NULL when the share trades normally; suspended (suspended all day: no trade, NULL prices, volume 0, counted as unchanged in breadth) or halted (trading halted during the session, HKEX''s TRADING HALTED). Sources without the column load as NULL.';
