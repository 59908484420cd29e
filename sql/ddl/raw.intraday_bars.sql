-- raw.intraday_bars
-- grain:         one bar of one share or index
-- key:           (trade_date, snapshot, symbol, ts) (unique; checked in validation, no PRIMARY KEY on purpose)
-- time column:   ts (bar start, Asia/Hong_Kong)
-- partition key: (trade_date, snapshot), replaced per partition in one transaction

CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS raw.intraday_bars (
    trade_date DATE NOT NULL,
    snapshot   VARCHAR NOT NULL,
    symbol     VARCHAR NOT NULL,
    ts         TIMESTAMPTZ NOT NULL,
    open       DOUBLE,
    high       DOUBLE,
    low        DOUBLE,
    close      DOUBLE,
    volume     BIGINT,
    turnover   DOUBLE,
    {{lineage columns}}
);

COMMENT ON TABLE raw.intraday_bars IS 'One-minute bars of shares and indices. The midday partition holds bars starting 09:30-11:59; the close partition holds 13:00-15:59 and the closing-auction bar stamped 16:00 (on a half day only the auction bar stamped 12:00). Index bars have volume 0 and turnover 0.';

{{partition comments}}
COMMENT ON COLUMN raw.intraday_bars.symbol IS 'HKEX stock code (five digits) or index code (HSI, HSCEI, HSTECH).';
COMMENT ON COLUMN raw.intraday_bars.ts IS 'Bar start.';
COMMENT ON COLUMN raw.intraday_bars.open IS 'First price of the bar, HKD or index points.';
COMMENT ON COLUMN raw.intraday_bars.high IS 'Highest price of the bar.';
COMMENT ON COLUMN raw.intraday_bars.low IS 'Lowest price of the bar.';
COMMENT ON COLUMN raw.intraday_bars.close IS 'Last price of the bar.';
COMMENT ON COLUMN raw.intraday_bars.volume IS 'Shares traded in the bar (0 for indices).';
COMMENT ON COLUMN raw.intraday_bars.turnover IS 'Turnover of the bar, HKD (0 for indices).';
{{lineage comments}}
