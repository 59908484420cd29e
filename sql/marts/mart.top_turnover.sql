-- mart.top_turnover: the 20 shares with the highest turnover at the snapshot.
-- grain:         one ranked share at one snapshot of one trading day
-- key:           (trade_date, snapshot, rank); symbol is unique within the partition too
-- time column:   trade_date
-- partition key: (trade_date, snapshot); parameters $trade_dates (DATE[]) and $snapshots
--                (VARCHAR[]): the partitions computed, the i-th of each list making the i-th
--
-- Shares: the 'all' universe of mart.market_breadth (Main Board and GEM shares in
-- ref.securities in force on trade_date) with turnover > 0. Ties broken by symbol.
-- Full precision is kept; presentation rounds.
--
-- columns:
--   trade_date, snapshot  the partition
--   rank                  1 = highest turnover
--   symbol, name, board, industry   from ref.securities in force on trade_date
--   last, prev_close      HKD (prev_close NULL on a listing day)
--   change_pct            (last / prev_close - 1) * 100, percent; NULL without prev_close
--   volume                shares traded;  turnover  HKD
WITH parts AS (
    SELECT unnest($trade_dates::DATE[]) AS trade_date, unnest($snapshots::VARCHAR[]) AS snapshot
),
shares AS (
    SELECT d.trade_date, s.symbol, s.name, s.board, s.industry
    FROM (SELECT DISTINCT trade_date FROM parts) AS d
    JOIN ref.securities AS s ON rules.in_force(s.valid_from, s.valid_to, d.trade_date)
    WHERE s.board IN ('Main Board', 'GEM')
)
SELECT
    q.trade_date,
    q.snapshot,
    row_number() OVER (
        PARTITION BY q.trade_date, q.snapshot ORDER BY q.turnover DESC, q.symbol
    ) AS rank,
    q.symbol,
    s.name,
    s.board,
    s.industry,
    q.last,
    q.prev_close,
    (q.last / nullif(q.prev_close, 0) - 1) * 100 AS change_pct,
    q.volume,
    q.turnover
FROM raw.quotes AS q
JOIN parts AS p ON p.trade_date = q.trade_date AND p.snapshot = q.snapshot
JOIN shares AS s ON s.trade_date = q.trade_date AND s.symbol = q.symbol
WHERE q.trade_date BETWEEN list_min($trade_dates::DATE[]) AND list_max($trade_dates::DATE[])
  AND q.turnover > 0
QUALIFY rank <= 20
ORDER BY q.trade_date, q.snapshot, rank
