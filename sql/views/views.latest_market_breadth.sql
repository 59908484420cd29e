-- views.latest_market_breadth: advancers, decliners and unchanged per universe at the latest loaded snapshot.
-- grain:   one universe (all, main_board, gem, HSI, HSCEI, HSTECH) at the latest
--          (trade_date, snapshot) in mart.market_breadth (its close once loaded, else midday)
-- from:    mart.market_breadth
-- cost:    reads mart.market_breadth only (6 rows per partition)
--
-- columns:
--   trade_date, snapshot  the latest loaded partition
--   universe              all, main_board, gem, HSI, HSCEI or HSTECH
WITH latest AS (
    SELECT trade_date, snapshot
    FROM mart.market_breadth
    ORDER BY trade_date DESC, CASE snapshot WHEN 'close' THEN 0 ELSE 1 END
    LIMIT 1
)
SELECT b.* EXCLUDE (run_id)
FROM mart.market_breadth AS b
JOIN latest AS l ON l.trade_date = b.trade_date AND l.snapshot = b.snapshot
ORDER BY CASE b.universe
    WHEN 'all' THEN 1 WHEN 'main_board' THEN 2 WHEN 'gem' THEN 3
    WHEN 'HSI' THEN 4 WHEN 'HSCEI' THEN 5 WHEN 'HSTECH' THEN 6 ELSE 7 END
