-- ref.securities
-- grain:         one version of one listed share
-- key:           (symbol, valid_from) (unique; checked in validation, no PRIMARY KEY on purpose)
-- time column:   valid_from / valid_to (effective dating, valid_to exclusive)
-- partition key: none: upserted by key (symbol, valid_from)

CREATE SCHEMA IF NOT EXISTS ref;

CREATE TABLE IF NOT EXISTS ref.securities (
    symbol        VARCHAR NOT NULL,
    name          VARCHAR,
    board         VARCHAR,
    industry      VARCHAR,
    board_lot     INTEGER,
    issued_shares BIGINT,
    currency      VARCHAR,
    listed_on     DATE,
    valid_from    DATE NOT NULL,
    valid_to      DATE,
    {{lineage columns}}
);

COMMENT ON TABLE ref.securities IS 'Securities master: every listed share (Main Board and GEM equities), effective-dated. One row per symbol per version; the row valid on day D has valid_from <= D < coalesce(valid_to, infinity).';

COMMENT ON COLUMN ref.securities.symbol IS 'HKEX stock code, five digits with leading zeros (00700).';
COMMENT ON COLUMN ref.securities.name IS 'Name of the security as listed by HKEX.';
COMMENT ON COLUMN ref.securities.board IS 'Listing board: Main Board or GEM.';
COMMENT ON COLUMN ref.securities.industry IS 'Hang Seng Industry Classification (HSICS) industry, one of 12; NULL where the source does not classify the share (the HKEX list does not), shown as Unclassified in the marts.';
COMMENT ON COLUMN ref.securities.board_lot IS 'Board lot: shares per trading unit, set per issuer.';
COMMENT ON COLUMN ref.securities.issued_shares IS 'Issued shares (count); NULL where the source does not publish the count (the HKEX list does not).';
COMMENT ON COLUMN ref.securities.currency IS 'Trading currency, ISO 4217 code (HKD; CNY for RMB counters).';
COMMENT ON COLUMN ref.securities.listed_on IS 'Listing date; NULL where the source does not know it.';
COMMENT ON COLUMN ref.securities.valid_from IS 'First day this version is effective (inclusive).';
COMMENT ON COLUMN ref.securities.valid_to IS 'Day this version stops being effective (exclusive); NULL while current.';
{{lineage comments}}
