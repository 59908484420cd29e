-- views.daily_close_history: each share's closing quote, day by day, with its name and industry.
-- grain:   one share on one trading day (the close snapshot of raw.quotes; days whose close
--          is not loaded yet are absent)
-- from:    raw.quotes, ref.securities
-- cost:    scans the close partitions of raw.quotes; filter on symbol and trade_date
--
-- columns:
--   trade_date   HKEX trading day
--   symbol       HKEX stock code, five digits
--   name         name of the share in force on trade_date (ref.securities)
--   industry     HSICS industry in force on trade_date
--   prev_close   previous trading day's close, HKD
--   open, high, low   the day's open and extremes, HKD; NULL if untraded
--   close        the day's last traded price (raw.quotes.last at the close), HKD; NULL if untraded
--   change_pct   (close / prev_close - 1) * 100, percent; NULL if untraded or no previous close
--   volume       shares traded in the day
--   turnover     turnover of the day, HKD
SELECT
    q.trade_date,
    q.symbol,
    s.name,
    s.industry,
    q.prev_close,
    q.open,
    q.high,
    q.low,
    q.last AS close,
    (q.last / nullif(q.prev_close, 0) - 1) * 100 AS change_pct,
    q.volume,
    q.turnover
FROM raw.quotes AS q
LEFT JOIN ref.securities AS s
    ON s.symbol = q.symbol
    AND rules.in_force(s.valid_from, s.valid_to, q.trade_date)
WHERE q.snapshot = 'close'
ORDER BY q.trade_date, q.symbol
