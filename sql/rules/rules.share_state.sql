-- rules.share_state: the one state of a share at a snapshot, from its quote row: advancer, decliner, flat, untraded or no_prev_close.
-- Read by mart.market_breadth and mart.sector_performance, so their counts cannot drift apart.
-- Arguments: quoted (the share has a row in raw.quotes for the partition), and that row's
-- trading_status, prev_close and last. The first rule that matches wins:
--   untraded       no row in raw.quotes (no_quote)
--   untraded       suspended without a trade: before no_prev_close, as HKEX's file prints no
--                  previous close for a suspended share
--   no_prev_close  no previous close (listing day): never an advancer, decliner or unchanged
--   untraded       no trade this session (last NULL)
--   advancer       last > prev_close;  decliner  last < prev_close;  flat  last = prev_close
CREATE OR REPLACE MACRO rules.share_state(quoted, trading_status, prev_close, last_price) AS
    CASE
        WHEN NOT quoted THEN 'untraded'
        WHEN trading_status = 'suspended' AND last_price IS NULL THEN 'untraded'
        WHEN prev_close IS NULL THEN 'no_prev_close'
        WHEN last_price IS NULL THEN 'untraded'
        WHEN last_price > prev_close THEN 'advancer'
        WHEN last_price < prev_close THEN 'decliner'
        ELSE 'flat'
    END
