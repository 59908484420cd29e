-- quarantine.index_constituents
-- grain:         one rejected row of one run of ref.index_constituents
-- key:           (trade_date, snapshot, row_number) (unique; checked in validation, no PRIMARY KEY on purpose)
-- time column:   trade_date
-- partition key: (trade_date, snapshot), replaced together with the partition's write

CREATE SCHEMA IF NOT EXISTS quarantine;

CREATE TABLE IF NOT EXISTS quarantine.index_constituents (
    trade_date     DATE NOT NULL,
    snapshot       VARCHAR NOT NULL,
    row_number     BIGINT NOT NULL,
    record         VARCHAR,
    reason         VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,
    run_id         VARCHAR NOT NULL,
    quarantined_at TIMESTAMPTZ NOT NULL
);

COMMENT ON TABLE quarantine.index_constituents IS 'Rows rejected on their way to ref.index_constituents, with the reason; replaced with each run of the partition.';

COMMENT ON COLUMN quarantine.index_constituents.trade_date IS 'Trading day of the run that rejected the row.';
COMMENT ON COLUMN quarantine.index_constituents.snapshot IS 'Snapshot of the run that rejected the row: midday or close.';
COMMENT ON COLUMN quarantine.index_constituents.row_number IS 'Position of the row in the batch the source returned.';
COMMENT ON COLUMN quarantine.index_constituents.record IS 'The row as it came from the source, as JSON.';
COMMENT ON COLUMN quarantine.index_constituents.reason IS 'Why the row was rejected (failed checks).';
COMMENT ON COLUMN quarantine.index_constituents.source IS 'Which source produced the row: sample, landing or live:<provider>.';
COMMENT ON COLUMN quarantine.index_constituents.run_id IS 'The Dagster run that rejected the row.';
COMMENT ON COLUMN quarantine.index_constituents.quarantined_at IS 'When the row was written to quarantine.';
