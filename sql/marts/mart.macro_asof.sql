-- mart.macro_asof: the latest reading of each macro series already released at the snapshot.
-- grain:         one series at one snapshot of one trading day
-- key:           (trade_date, snapshot, series_id)
-- time column:   as_of (the instant of the snapshot); effective_at of each reading
-- partition key: (trade_date, snapshot); parameters $trade_dates (DATE[]), $snapshots
--                (VARCHAR[]) and $as_ofs (TIMESTAMPTZ[]: each snapshot's instant): the
--                partitions computed, the i-th of each list making the i-th; $trading_days
--                (DATE[]: HKEX trading days covering every released_on, from hk_pipeline.calendar)
--
-- Point in time: a reading counts from effective_at =
--   released_at                                   when the release instant is known, else
--   09:30 Asia/Hong_Kong of the first trading day after released_on
-- (C&SD and HKMA often publish at 16:30 HKT, after the close: a figure known only by its date
-- must not leak into that day's reviews). Only readings with effective_at <= as_of are seen, so
-- a backfill never sees a later release. Where a period was revised (several released_on), the
-- latest revision known at as_of is used, for the current and for the previous period.
--
-- columns:
--   trade_date, snapshot, as_of  the partition and its instant
--   series_id                    unemployment_rate_sa, pmi, fx_reserves, ...
--   period                       reference period YYYY-MM of the latest reading
--   value, unit                  the reading
--   released_on, released_at     its release date and instant (NULL when only the date is known)
--   effective_at                 when the warehouse counts it as known (rule above)
--   previous_period              the period before it (latest earlier period known at as_of)
--   previous_value               that period's value
--   change                       value - previous_value, in unit (NULL without a previous reading)
WITH parts AS (
    SELECT
        unnest($trade_dates::DATE[]) AS trade_date,
        unnest($snapshots::VARCHAR[]) AS snapshot,
        unnest($as_ofs::TIMESTAMPTZ[]) AS as_of
),
days AS (
    SELECT unnest($trading_days::DATE[]) AS day
),
readings AS (
    SELECT
        m.series_id,
        m.period,
        m.value,
        m.unit,
        m.released_on,
        m.released_at,
        coalesce(
            m.released_at, (d.day + TIME '09:30') AT TIME ZONE 'Asia/Hong_Kong'
        ) AS effective_at
    FROM raw.macro_series AS m
    ASOF LEFT JOIN days AS d ON d.day > m.released_on
),
known AS (
    SELECT p.trade_date, p.snapshot, p.as_of, r.*
    FROM parts AS p
    JOIN readings AS r ON r.effective_at <= p.as_of
    QUALIFY row_number() OVER (
        PARTITION BY p.trade_date, p.snapshot, r.series_id, r.period
        ORDER BY r.effective_at DESC, r.released_on DESC
    ) = 1
),
sequenced AS (
    SELECT
        *,
        lead(period) OVER (
            PARTITION BY trade_date, snapshot, series_id ORDER BY period DESC
        ) AS previous_period,
        lead(value) OVER (
            PARTITION BY trade_date, snapshot, series_id ORDER BY period DESC
        ) AS previous_value
    FROM known
    QUALIFY row_number() OVER (
        PARTITION BY trade_date, snapshot, series_id ORDER BY period DESC
    ) = 1
)
SELECT
    trade_date,
    snapshot,
    as_of,
    series_id,
    period,
    value,
    unit,
    released_on,
    released_at,
    effective_at,
    previous_period,
    previous_value,
    value - previous_value AS change
FROM sequenced
ORDER BY trade_date, snapshot, series_id
