-- views.latest_top_turnover: the ten shares with the highest turnover at the latest loaded snapshot.
-- grain:   one ranked share at the latest (trade_date, snapshot) in mart.top_turnover
--          (its close once loaded, else midday); 10 rows, ranks 1 to 10 (the mart keeps 20)
-- from:    mart.top_turnover
-- cost:    reads mart.top_turnover only (20 rows per partition)
--
-- Ties on turnover are broken by symbol (ascending), as in mart.top_turnover.
--
-- columns:
--   trade_date, snapshot  the latest loaded partition
--   rank                  1 = highest turnover
WITH latest AS (
    SELECT trade_date, snapshot
    FROM mart.top_turnover
    ORDER BY trade_date DESC, CASE snapshot WHEN 'close' THEN 0 ELSE 1 END
    LIMIT 1
)
SELECT t.* EXCLUDE (run_id)
FROM mart.top_turnover AS t
JOIN latest AS l ON l.trade_date = t.trade_date AND l.snapshot = t.snapshot
WHERE t.rank <= 10
ORDER BY t.rank
