-- quarantine.index_contributions
-- grain:         one rejected row of one run of raw.index_contributions
-- key:           (trade_date, snapshot, row_number) (unique; checked in validation, no PRIMARY KEY on purpose)
-- time column:   trade_date
-- partition key: (trade_date, snapshot), replaced together with the partition's write

CREATE SCHEMA IF NOT EXISTS quarantine;

CREATE TABLE IF NOT EXISTS quarantine.index_contributions (
    trade_date     DATE NOT NULL,
    snapshot       VARCHAR NOT NULL,
    row_number     BIGINT NOT NULL,
    record         VARCHAR,
    reason         VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,
    run_id         VARCHAR NOT NULL,
    quarantined_at TIMESTAMPTZ NOT NULL
);

COMMENT ON TABLE quarantine.index_contributions IS 'Rows rejected on their way to raw.index_contributions, with the reason; replaced with each run of the partition.';

COMMENT ON COLUMN quarantine.index_contributions.trade_date IS 'Trading day of the run that rejected the row.';
COMMENT ON COLUMN quarantine.index_contributions.snapshot IS 'Snapshot of the run that rejected the row: midday or close.';
COMMENT ON COLUMN quarantine.index_contributions.row_number IS 'Position of the row in the batch the source returned.';
COMMENT ON COLUMN quarantine.index_contributions.record IS 'The row as it came from the source, as JSON.';
COMMENT ON COLUMN quarantine.index_contributions.reason IS 'Why the row was rejected (failed checks).';
COMMENT ON COLUMN quarantine.index_contributions.source IS 'Which source produced the row: sample, landing or live:<provider>.';
COMMENT ON COLUMN quarantine.index_contributions.run_id IS 'The Dagster run that rejected the row.';
COMMENT ON COLUMN quarantine.index_contributions.quarantined_at IS 'When the row was written to quarantine.';
