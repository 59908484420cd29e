-- ref.index_constituents
-- grain:         one constituent of one index per version
-- key:           (index_code, symbol, valid_from) (unique; checked in validation, no PRIMARY KEY on purpose)
-- time column:   valid_from / valid_to (effective dating, valid_to exclusive)
-- partition key: none: upserted by key (index_code, symbol, valid_from)

CREATE SCHEMA IF NOT EXISTS ref;

CREATE TABLE IF NOT EXISTS ref.index_constituents (
    index_code    VARCHAR NOT NULL,
    symbol        VARCHAR NOT NULL,
    issued_shares BIGINT,
    faf           DOUBLE,
    cap_factor    DOUBLE,
    valid_from    DATE NOT NULL,
    valid_to      DATE,
    {{lineage columns}}
);

COMMENT ON TABLE ref.index_constituents IS 'Index membership and weighting factors of HSI, HSCEI and HSTECH, effective-dated. A member on day D has valid_from <= D < coalesce(valid_to, infinity).';

COMMENT ON COLUMN ref.index_constituents.index_code IS 'Index: HSI, HSCEI or HSTECH.';
COMMENT ON COLUMN ref.index_constituents.symbol IS 'HKEX stock code of the constituent, five digits.';
COMMENT ON COLUMN ref.index_constituents.issued_shares IS 'Issued shares used by the index (H-share part only for H-share constituents); NULL where the feed publishes no weights (the Hang Seng feed does not; attribution then uses the feed''s point contributions).';
COMMENT ON COLUMN ref.index_constituents.faf IS 'Free-float adjusted factor, in (0, 1]; NULL where the feed publishes no weights (the Hang Seng feed does not; attribution then uses the feed''s point contributions).';
COMMENT ON COLUMN ref.index_constituents.cap_factor IS 'Cap factor, in (0, 1]: limits the constituent''s weight to 8%; NULL where the feed publishes no weights (the Hang Seng feed does not; attribution then uses the feed''s point contributions).';
COMMENT ON COLUMN ref.index_constituents.valid_from IS 'First day of membership with these factors (inclusive).';
COMMENT ON COLUMN ref.index_constituents.valid_to IS 'Day membership or factors end (exclusive); NULL while current.';
{{lineage comments}}
