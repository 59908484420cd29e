-- views.latest_index_moves: HSI, HSCEI and HSTECH moves at the latest loaded snapshot.
-- grain:   one index at the latest (trade_date, snapshot) in mart.index_moves
--          (the latest day; its close once loaded, else its midday)
-- from:    mart.index_moves
-- cost:    reads mart.index_moves only (3 rows per partition)
--
-- columns:
--   trade_date, snapshot   the latest loaded partition
--   index_code             HSI, HSCEI or HSTECH
--   level                  official level at the snapshot, points
--   prev_close             official previous close, points
--   change_points          level - prev_close
--   change_pct             (level / prev_close - 1) * 100, percent
--   diff_bp                official level against the Hang Seng formula, basis points
--   loaded_at              when the pipeline wrote the row
WITH latest AS (
    SELECT trade_date, snapshot
    FROM mart.index_moves
    ORDER BY trade_date DESC, CASE snapshot WHEN 'close' THEN 0 ELSE 1 END
    LIMIT 1
)
SELECT m.trade_date, m.snapshot, m.index_code, m.level, m.prev_close, m.change_points,
    m.change_pct, m.diff_bp, m.loaded_at
FROM mart.index_moves AS m
JOIN latest AS l ON l.trade_date = m.trade_date AND l.snapshot = m.snapshot
ORDER BY CASE m.index_code WHEN 'HSI' THEN 1 WHEN 'HSCEI' THEN 2 WHEN 'HSTECH' THEN 3 ELSE 4 END
