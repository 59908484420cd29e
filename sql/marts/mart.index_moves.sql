-- mart.index_moves: official index levels at the snapshot, reconciled with the Hang Seng formula.
-- grain:         one index at one snapshot of one trading day
-- key:           (trade_date, snapshot, index_code)
-- time column:   trade_date
-- partition key: (trade_date, snapshot); parameters $trade_dates (DATE[]) and $snapshots
--                (VARCHAR[]): the partitions computed, the i-th of each list making the i-th
--
-- columns:
--   trade_date, snapshot   the partition
--   index_code             HSI, HSCEI or HSTECH (every index with a row in raw.index_levels)
--   level                  official level at the snapshot (raw.index_levels.last), points
--   prev_close             official previous close, points
--   change_points          level - prev_close
--   change_pct             (level / prev_close - 1) * 100, percent
--   open, high, low        the session's open and extremes so far, points
--   computed_level         prev_close * sum(P_t * IS * FAF * CF) / sum(P_t-1 * IS * FAF * CF)
--                          over the constituents in force on trade_date; P_t = quotes.last
--                          (prev_close when untraded), P_t-1 = quotes.prev_close; NULL when a
--                          member lacks issued shares, FAF or cap factor (a feed without
--                          weights): not an error, the formula cannot be applied
--   computed_change_points computed_level - prev_close (what index_attribution adds up to)
--   diff_bp                (level / computed_level - 1) * 1e4, basis points; NULL with
--                          computed_level
--   constituents           members in force on trade_date (ref.index_constituents)
--   constituents_weighted  members with issued shares, FAF and cap factor (all of them, or the
--                          formula is not applied)
--   constituents_priced    members with a previous close in raw.quotes (the formula's terms)
--   constituents_untraded  priced members without a trade this session (held at prev_close)
WITH parts AS (
    SELECT unnest($trade_dates::DATE[]) AS trade_date, unnest($snapshots::VARCHAR[]) AS snapshot
),
cons AS (
    SELECT
        p.trade_date,
        p.snapshot,
        c.index_code,
        c.symbol,
        c.issued_shares * c.faf * c.cap_factor AS factor
    FROM parts AS p
    JOIN ref.index_constituents AS c ON rules.in_force(c.valid_from, c.valid_to, p.trade_date)
),
quotes AS (
    SELECT q.trade_date, q.snapshot, q.symbol, q.prev_close, q.last
    FROM raw.quotes AS q
    JOIN parts AS p ON p.trade_date = q.trade_date AND p.snapshot = q.snapshot
    WHERE q.trade_date BETWEEN list_min($trade_dates::DATE[]) AND list_max($trade_dates::DATE[])
),
formula AS (
    SELECT
        c.trade_date,
        c.snapshot,
        c.index_code,
        count(*) AS constituents,
        count(c.factor) AS constituents_weighted,
        count(q.prev_close) AS constituents_priced,
        count(q.prev_close) FILTER (WHERE q.last IS NULL) AS constituents_untraded,
        sum(coalesce(q.last, q.prev_close) * c.factor) FILTER (WHERE q.prev_close IS NOT NULL)
            AS cap_now,
        sum(q.prev_close * c.factor) AS cap_prev
    FROM cons AS c
    LEFT JOIN quotes AS q
        ON q.trade_date = c.trade_date AND q.snapshot = c.snapshot AND q.symbol = c.symbol
    GROUP BY c.trade_date, c.snapshot, c.index_code
),
levels AS (
    SELECT l.trade_date, l.snapshot, l.index_code, l.prev_close, l.open, l.high, l.low, l.last
    FROM raw.index_levels AS l
    JOIN parts AS p ON p.trade_date = l.trade_date AND p.snapshot = l.snapshot
    WHERE l.trade_date BETWEEN list_min($trade_dates::DATE[]) AND list_max($trade_dates::DATE[])
),
joined AS (
    SELECT
        l.*,
        CASE WHEN f.constituents_weighted = f.constituents
            THEN l.prev_close * f.cap_now / nullif(f.cap_prev, 0)
        END AS computed_level,
        coalesce(f.constituents, 0) AS constituents,
        coalesce(f.constituents_weighted, 0) AS constituents_weighted,
        coalesce(f.constituents_priced, 0) AS constituents_priced,
        coalesce(f.constituents_untraded, 0) AS constituents_untraded
    FROM levels AS l
    LEFT JOIN formula AS f
        ON f.trade_date = l.trade_date AND f.snapshot = l.snapshot AND f.index_code = l.index_code
)
SELECT
    trade_date,
    snapshot,
    index_code,
    last AS level,
    prev_close,
    last - prev_close AS change_points,
    (last / nullif(prev_close, 0) - 1) * 100 AS change_pct,
    open,
    high,
    low,
    computed_level,
    computed_level - prev_close AS computed_change_points,
    (last / nullif(computed_level, 0) - 1) * 1e4 AS diff_bp,
    constituents,
    constituents_weighted,
    constituents_priced,
    constituents_untraded
FROM joined
ORDER BY trade_date, snapshot,
    CASE index_code WHEN 'HSI' THEN 1 WHEN 'HSCEI' THEN 2 WHEN 'HSTECH' THEN 3 ELSE 4 END,
    index_code
