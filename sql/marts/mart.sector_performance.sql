-- mart.sector_performance: market-cap-weighted move, breadth and turnover per HSICS industry.
-- grain:         one industry at one snapshot of one trading day
-- key:           (trade_date, snapshot, industry)
-- time column:   trade_date
-- partition key: (trade_date, snapshot); parameters $trade_dates (DATE[]) and $snapshots
--                (VARCHAR[]): the partitions computed, the i-th of each list making the i-th
--
-- Shares: the 'all' universe of mart.market_breadth (ref.securities in force on trade_date,
-- Main Board and GEM), grouped by ref.securities.industry; a share without an industry is
-- grouped under 'Unclassified', so the counts add up to the 'all' row of mart.market_breadth.
-- States (advancer, decliner, unchanged incl. untraded, no_prev_close): rules.share_state, the
-- one rule mart.market_breadth reads too.
--
-- columns:
--   trade_date, snapshot  the partition;  industry  HSICS industry
--   change_pct            market-cap-weighted change, percent: weights prev_close * issued_shares
--                         over shares with a previous close and issued shares (untraded = 0%);
--                         equals (sum(P_t * IS) / sum(P_t-1 * IS) - 1) * 100
--   advancers, decliners, unchanged, untraded, no_prev_close, total   share counts
--   market_cap            sum(P_t * issued_shares) of the weighted shares, HKD
--   turnover              HKD;  turnover_share_pct  share of the 'all' universe's turnover, percent
--   rank                  1 = best change_pct (ties by industry name; NULL change last)
WITH parts AS (
    SELECT unnest($trade_dates::DATE[]) AS trade_date, unnest($snapshots::VARCHAR[]) AS snapshot
),
shares AS (
    SELECT
        d.trade_date,
        s.symbol,
        coalesce(s.industry, 'Unclassified') AS industry,
        s.issued_shares
    FROM (SELECT DISTINCT trade_date FROM parts) AS d
    JOIN ref.securities AS s ON rules.in_force(s.valid_from, s.valid_to, d.trade_date)
    WHERE s.board IN ('Main Board', 'GEM')
),
quotes AS (
    SELECT q.trade_date, q.snapshot, q.symbol, q.prev_close, q.last, q.turnover, q.trading_status
    FROM raw.quotes AS q
    JOIN parts AS p ON p.trade_date = q.trade_date AND p.snapshot = q.snapshot
    WHERE q.trade_date BETWEEN list_min($trade_dates::DATE[]) AND list_max($trade_dates::DATE[])
),
classified AS (
    SELECT
        p.trade_date,
        p.snapshot,
        s.industry,
        s.symbol,
        s.issued_shares,
        q.prev_close,
        coalesce(q.last, q.prev_close) AS price,
        rules.exact_turnover(q.turnover) AS turnover,  -- summed exactly, in any order
        rules.share_state(q.symbol IS NOT NULL, q.trading_status, q.prev_close, q.last) AS state
    FROM parts AS p
    JOIN shares AS s ON s.trade_date = p.trade_date
    LEFT JOIN quotes AS q
        ON q.trade_date = p.trade_date AND q.snapshot = p.snapshot AND q.symbol = s.symbol
),
industries AS (
    SELECT
        trade_date,
        snapshot,
        industry,
        sum(price * issued_shares) FILTER (WHERE prev_close > 0) AS cap_now,
        sum(prev_close * issued_shares) FILTER (WHERE prev_close > 0) AS cap_prev,
        count(*) FILTER (WHERE state = 'advancer') AS advancers,
        count(*) FILTER (WHERE state = 'decliner') AS decliners,
        count(*) FILTER (WHERE state IN ('flat', 'untraded')) AS unchanged,
        count(*) FILTER (WHERE state = 'untraded') AS untraded,
        count(*) FILTER (WHERE state = 'no_prev_close') AS no_prev_close,
        count(*) AS total,
        sum(turnover)::DOUBLE AS turnover
    FROM classified
    GROUP BY trade_date, snapshot, industry
),
measured AS (
    SELECT
        *,
        (cap_now / nullif(cap_prev, 0) - 1) * 100 AS change_pct,
        turnover * 100 / nullif(sum(turnover) OVER (PARTITION BY trade_date, snapshot), 0)
            AS turnover_share_pct
    FROM industries
)
SELECT
    trade_date,
    snapshot,
    industry,
    change_pct,
    advancers,
    decliners,
    unchanged,
    untraded,
    no_prev_close,
    total,
    cap_now::DOUBLE AS market_cap,
    turnover,
    turnover_share_pct,
    row_number() OVER (
        PARTITION BY trade_date, snapshot ORDER BY change_pct DESC NULLS LAST, industry
    ) AS rank
FROM measured
ORDER BY trade_date, snapshot, rank
