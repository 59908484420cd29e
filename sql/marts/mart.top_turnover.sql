-- mart.top_turnover: the 20 shares with the highest turnover at the snapshot.
-- grain:         one ranked share at one snapshot of one trading day
-- key:           (trade_date, snapshot, rank); symbol is unique within the partition too
-- time column:   trade_date
-- partition key: (trade_date, snapshot); parameters $trade_date (DATE), $snapshot (VARCHAR)
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
WITH shares AS (
    SELECT s.symbol, s.name, s.board, s.industry
    FROM ref.securities AS s
    WHERE rules.in_force(s.valid_from, s.valid_to, $trade_date::DATE)
      AND s.board IN ('Main Board', 'GEM')
)
SELECT
    $trade_date::DATE AS trade_date,
    $snapshot::VARCHAR AS snapshot,
    row_number() OVER (ORDER BY q.turnover DESC, q.symbol) AS rank,
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
JOIN shares AS s ON s.symbol = q.symbol
WHERE q.trade_date = $trade_date::DATE
  AND q.snapshot = $snapshot::VARCHAR
  AND q.turnover > 0
QUALIFY rank <= 20
ORDER BY rank
