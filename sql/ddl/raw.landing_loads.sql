-- raw.landing_loads
-- grain:         one landing file one asset of one partition run loaded
-- key:           (trade_date, snapshot, kind, path)
-- time column:   trade_date (loaded_at = when the load committed)
-- partition key: (trade_date, snapshot, kind), replaced with the load of that kind's table in
--                the same transaction, so the record always describes the rows in the table

CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS raw.landing_loads (
    trade_date DATE NOT NULL,
    snapshot   VARCHAR NOT NULL,
    kind       VARCHAR NOT NULL,
    path       VARCHAR NOT NULL,
    sha256     VARCHAR NOT NULL,
    size       BIGINT NOT NULL,
    run_id     VARCHAR NOT NULL,
    loaded_at  TIMESTAMPTZ NOT NULL
);

COMMENT ON TABLE raw.landing_loads IS 'Which landing files (by checksum) each partition''s load read: the provenance of every row with source = landing. The files stay where they were dropped; the checksum proves which bytes were loaded.';

COMMENT ON COLUMN raw.landing_loads.trade_date IS 'HKEX trading day (Asia/Hong_Kong) of the partition that loaded the file.';
COMMENT ON COLUMN raw.landing_loads.snapshot IS 'Snapshot of the partition that loaded the file: midday or close.';
COMMENT ON COLUMN raw.landing_loads.kind IS 'Landing folder the file came from, which is also the table it fed: securities, index_constituents, quotes, index_levels, intraday_bars or macro_series.';
COMMENT ON COLUMN raw.landing_loads.path IS 'Path of the file relative to the landing folder, e.g. quotes/2025-11-21_midday.csv.';
COMMENT ON COLUMN raw.landing_loads.sha256 IS 'SHA-256 (hex) of the bytes parsed.';
COMMENT ON COLUMN raw.landing_loads.size IS 'Size of the file in bytes.';
COMMENT ON COLUMN raw.landing_loads.run_id IS 'The Dagster run that loaded the file.';
COMMENT ON COLUMN raw.landing_loads.loaded_at IS 'When the load was written to the warehouse.';
