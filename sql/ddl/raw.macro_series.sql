-- raw.macro_series
-- grain:         one release of one period of one series
-- key:           (series_id, period, released_on) (unique; checked in validation, no PRIMARY KEY on purpose)
-- time column:   released_on (released_at when the time is known)
-- partition key: none: upserted by key (series_id, period, released_on)

CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS raw.macro_series (
    series_id   VARCHAR NOT NULL,
    period      VARCHAR NOT NULL,
    value       DOUBLE,
    unit        VARCHAR,
    released_on DATE NOT NULL,
    released_at TIMESTAMPTZ,
    {{lineage columns}}
);

COMMENT ON TABLE raw.macro_series IS 'Macro series that frame the market (unemployment, PMI, FX reserves), point-in-time: one row per release, so a backfill sees only figures released by then.';

COMMENT ON COLUMN raw.macro_series.series_id IS 'Series: unemployment_rate_sa, pmi or fx_reserves.';
COMMENT ON COLUMN raw.macro_series.period IS 'Reference period, YYYY-MM (end month of a 3-month period for unemployment).';
COMMENT ON COLUMN raw.macro_series.value IS 'Published figure, in unit.';
COMMENT ON COLUMN raw.macro_series.unit IS 'Unit of value (percent, index, USD million).';
COMMENT ON COLUMN raw.macro_series.released_on IS 'Date the figure was released (Asia/Hong_Kong).';
COMMENT ON COLUMN raw.macro_series.released_at IS 'Instant of release; NULL when only the date is known.';
{{lineage comments}}
