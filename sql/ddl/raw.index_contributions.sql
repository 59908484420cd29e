-- raw.index_contributions
-- grain:         one constituent of one index at one snapshot of one trading day
-- key:           (trade_date, snapshot, index_code, symbol) (unique; checked in validation, no PRIMARY KEY on purpose)
-- time column:   trade_date
-- partition key: (trade_date, snapshot), replaced per partition in one transaction
--
-- Only sources that publish no weights fill it (the Hang Seng constituent feed, live); it is
-- empty for the others. mart.index_attribution uses these points for an index whose members
-- lack issued shares, free-float or cap factor (method = 'feed').

CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS raw.index_contributions (
    trade_date          DATE NOT NULL,
    snapshot            VARCHAR NOT NULL,
    index_code          VARCHAR NOT NULL,
    symbol              VARCHAR NOT NULL,
    contribution_points DOUBLE,
    {{lineage columns}}
);

COMMENT ON TABLE raw.index_contributions IS 'Index points each constituent added to its index''s move, as the index provider''s feed publishes them (used for attribution where the feed has no weights).';

{{partition comments}}
COMMENT ON COLUMN raw.index_contributions.index_code IS 'Index: HSI, HSCEI or HSTECH.';
COMMENT ON COLUMN raw.index_contributions.symbol IS 'HKEX stock code of the constituent, five digits with leading zeros.';
COMMENT ON COLUMN raw.index_contributions.contribution_points IS 'Index points the constituent added to the day''s move so far (negative: it dragged); NULL where the feed shows a placeholder.';
COMMENT ON COLUMN raw.index_contributions.source IS 'Which source produced the row: live:<provider>.';
{{lineage comments}}
