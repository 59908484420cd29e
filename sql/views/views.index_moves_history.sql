-- views.index_moves_history: HSI, HSCEI and HSTECH moves across days and snapshots.
-- grain:   one index at one (trade_date, snapshot): every loaded partition of mart.index_moves
-- from:    mart.index_moves
-- cost:    reads mart.index_moves only (3 rows per partition)
--
-- columns:
--   trade_date, snapshot   the partition
--   index_code             HSI, HSCEI or HSTECH
--   level                  official level at the snapshot, points
--   prev_close             official previous close, points
--   change_points          level - prev_close
--   change_pct             (level / prev_close - 1) * 100, percent
--   diff_bp                official level against the Hang Seng formula, basis points
--   midday_to_close_pct    at the close: change from that day's midday level, percent; NULL at midday
SELECT
    m.trade_date,
    m.snapshot,
    m.index_code,
    m.level,
    m.prev_close,
    m.change_points,
    m.change_pct,
    m.diff_bp,
    CASE WHEN m.snapshot = 'close' THEN (m.level / nullif(mid.level, 0) - 1) * 100 END
        AS midday_to_close_pct
FROM mart.index_moves AS m
LEFT JOIN mart.index_moves AS mid
    ON mid.trade_date = m.trade_date AND mid.snapshot = 'midday' AND mid.index_code = m.index_code
ORDER BY m.trade_date, CASE m.snapshot WHEN 'midday' THEN 1 ELSE 2 END,
    CASE m.index_code WHEN 'HSI' THEN 1 WHEN 'HSCEI' THEN 2 WHEN 'HSTECH' THEN 3 ELSE 4 END
