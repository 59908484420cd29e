-- mart.index_attribution: each constituent's weight, move and contribution in index points.
-- grain:         one constituent of one index at one snapshot of one trading day
-- key:           (trade_date, snapshot, index_code, symbol)
-- time column:   trade_date
-- partition key: (trade_date, snapshot); parameters $trade_dates (DATE[]) and $snapshots
--                (VARCHAR[]): the partitions computed, the i-th of each list making the i-th
--
-- Hang Seng arithmetic (method 'formula'): contribution_i = L_t-1 * w_i * r_i with w_i the
-- weight at the previous close. Summed over an index this is exactly
-- mart.index_moves.computed_level - prev_close, and the official change within
-- mart.index_moves.diff_bp.
-- Without weights (method 'feed': a member of the index lacks issued shares, FAF or cap factor,
-- as with the live Hang Seng feed) the formula cannot be applied; the contribution is then the
-- feed's own point contribution from raw.index_contributions (NULL where it has none), and
-- weight is NULL.
--
-- columns:
--   trade_date, snapshot   the partition
--   index_code             HSI, HSCEI or HSTECH
--   symbol, name           constituent (name from ref.securities in force on trade_date)
--   prev_close, last       the share's previous close and last price, HKD (last NULL: untraded)
--   traded                 true if the share traded this session (else held at prev_close)
--   weight                 share of the index at the previous close, a fraction (sums to 1):
--                          prev_close * IS * FAF * CF / sum over members; NULL without prev_close
--                          or without weights (method 'feed')
--   change_pct             (last / prev_close - 1) * 100, percent; 0 when untraded
--   index_prev_close       the index's official previous close, points
--   contribution_points    index_prev_close * weight * change_pct / 100, points (method
--                          'formula'); the feed's published points (method 'feed')
--   method                 'formula' (Hang Seng formula over the weights) or 'feed' (the index
--                          feed's own contributions: the source publishes no weights)
--   drag_rank              1 = the constituent that pulled the index down most (ties by
--                          symbol; no contribution last)
--   lift_rank              1 = the constituent that lifted the index most (ties by symbol;
--                          no contribution last)
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
names AS (
    SELECT p.trade_date, s.symbol, s.name
    FROM (SELECT DISTINCT trade_date FROM parts) AS p
    JOIN ref.securities AS s ON rules.in_force(s.valid_from, s.valid_to, p.trade_date)
),
quotes AS (
    SELECT q.trade_date, q.snapshot, q.symbol, q.prev_close, q.last
    FROM raw.quotes AS q
    JOIN parts AS p ON p.trade_date = q.trade_date AND p.snapshot = q.snapshot
    WHERE q.trade_date BETWEEN list_min($trade_dates::DATE[]) AND list_max($trade_dates::DATE[])
),
levels AS (
    SELECT l.trade_date, l.snapshot, l.index_code, l.prev_close AS index_prev_close
    FROM raw.index_levels AS l
    JOIN parts AS p ON p.trade_date = l.trade_date AND p.snapshot = l.snapshot
    WHERE l.trade_date BETWEEN list_min($trade_dates::DATE[]) AND list_max($trade_dates::DATE[])
),
methods AS (
    SELECT
        trade_date,
        snapshot,
        index_code,
        CASE WHEN count(factor) = count(*) THEN 'formula' ELSE 'feed' END AS method
    FROM cons
    GROUP BY trade_date, snapshot, index_code
),
feed AS (
    SELECT f.trade_date, f.snapshot, f.index_code, f.symbol, f.contribution_points
    FROM raw.index_contributions AS f
    JOIN parts AS p ON p.trade_date = f.trade_date AND p.snapshot = f.snapshot
    WHERE f.trade_date BETWEEN list_min($trade_dates::DATE[]) AND list_max($trade_dates::DATE[])
),
weighted AS (
    SELECT
        c.trade_date,
        c.snapshot,
        c.index_code,
        c.symbol,
        n.name,
        q.prev_close,
        q.last,
        q.last IS NOT NULL AS traded,
        CASE WHEN m.method = 'formula' THEN
            q.prev_close * c.factor / nullif(
                sum(q.prev_close * c.factor)
                    OVER (PARTITION BY c.trade_date, c.snapshot, c.index_code),
                0
            )
        END AS weight,
        (coalesce(q.last, q.prev_close) / nullif(q.prev_close, 0) - 1) * 100 AS change_pct,
        l.index_prev_close,
        m.method,
        fd.contribution_points AS feed_points
    FROM cons AS c
    JOIN methods AS m
        ON m.trade_date = c.trade_date AND m.snapshot = c.snapshot AND m.index_code = c.index_code
    LEFT JOIN quotes AS q
        ON q.trade_date = c.trade_date AND q.snapshot = c.snapshot AND q.symbol = c.symbol
    LEFT JOIN names AS n ON n.trade_date = c.trade_date AND n.symbol = c.symbol
    LEFT JOIN levels AS l
        ON l.trade_date = c.trade_date AND l.snapshot = c.snapshot AND l.index_code = c.index_code
    LEFT JOIN feed AS fd
        ON fd.trade_date = c.trade_date AND fd.snapshot = c.snapshot
        AND fd.index_code = c.index_code AND fd.symbol = c.symbol
),
contributions AS (
    SELECT
        *,
        CASE method
            WHEN 'formula' THEN index_prev_close * weight * change_pct / 100
            ELSE feed_points
        END AS contribution_points
    FROM weighted
)
SELECT
    trade_date,
    snapshot,
    index_code,
    symbol,
    name,
    prev_close,
    last,
    traded,
    weight,
    change_pct,
    index_prev_close,
    contribution_points,
    method,
    row_number() OVER (
        PARTITION BY trade_date, snapshot, index_code
        ORDER BY contribution_points ASC NULLS LAST, symbol
    ) AS drag_rank,
    row_number() OVER (
        PARTITION BY trade_date, snapshot, index_code
        ORDER BY contribution_points DESC NULLS LAST, symbol
    ) AS lift_rank
FROM contributions
ORDER BY trade_date, snapshot, index_code, drag_rank
