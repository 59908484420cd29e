-- mart.index_attribution: each constituent's weight, move and contribution in index points.
-- grain:         one constituent of one index at one snapshot of one trading day
-- key:           (trade_date, snapshot, index_code, symbol)
-- time column:   trade_date
-- partition key: (trade_date, snapshot); parameters $trade_date (DATE), $snapshot (VARCHAR)
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
WITH cons AS (
    SELECT c.index_code, c.symbol, c.issued_shares * c.faf * c.cap_factor AS factor
    FROM ref.index_constituents AS c
    WHERE rules.in_force(c.valid_from, c.valid_to, $trade_date::DATE)
),
names AS (
    SELECT s.symbol, s.name
    FROM ref.securities AS s
    WHERE rules.in_force(s.valid_from, s.valid_to, $trade_date::DATE)
),
quotes AS (
    SELECT q.symbol, q.prev_close, q.last
    FROM raw.quotes AS q
    WHERE q.trade_date = $trade_date::DATE AND q.snapshot = $snapshot::VARCHAR
),
levels AS (
    SELECT l.index_code, l.prev_close AS index_prev_close
    FROM raw.index_levels AS l
    WHERE l.trade_date = $trade_date::DATE AND l.snapshot = $snapshot::VARCHAR
),
methods AS (
    SELECT index_code, CASE WHEN count(factor) = count(*) THEN 'formula' ELSE 'feed' END AS method
    FROM cons
    GROUP BY index_code
),
feed AS (
    SELECT f.index_code, f.symbol, f.contribution_points
    FROM raw.index_contributions AS f
    WHERE f.trade_date = $trade_date::DATE AND f.snapshot = $snapshot::VARCHAR
),
weighted AS (
    SELECT
        c.index_code,
        c.symbol,
        n.name,
        q.prev_close,
        q.last,
        q.last IS NOT NULL AS traded,
        CASE WHEN m.method = 'formula' THEN
            q.prev_close * c.factor
                / nullif(sum(q.prev_close * c.factor) OVER (PARTITION BY c.index_code), 0)
        END AS weight,
        (coalesce(q.last, q.prev_close) / nullif(q.prev_close, 0) - 1) * 100 AS change_pct,
        l.index_prev_close,
        m.method,
        fd.contribution_points AS feed_points
    FROM cons AS c
    JOIN methods AS m ON m.index_code = c.index_code
    LEFT JOIN quotes AS q ON q.symbol = c.symbol
    LEFT JOIN names AS n ON n.symbol = c.symbol
    LEFT JOIN levels AS l ON l.index_code = c.index_code
    LEFT JOIN feed AS fd ON fd.index_code = c.index_code AND fd.symbol = c.symbol
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
    $trade_date::DATE AS trade_date,
    $snapshot::VARCHAR AS snapshot,
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
        PARTITION BY index_code ORDER BY contribution_points ASC NULLS LAST, symbol
    ) AS drag_rank,
    row_number() OVER (
        PARTITION BY index_code ORDER BY contribution_points DESC NULLS LAST, symbol
    ) AS lift_rank
FROM contributions
ORDER BY index_code, drag_rank
