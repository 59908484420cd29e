-- mart.top_movers: the 20 biggest gainers and losers at the snapshot, and the 20 of each above the liquidity floor.
-- grain:         one ranked share per direction at one snapshot of one trading day
-- key:           (trade_date, snapshot, direction, rank)
-- time column:   trade_date
-- partition key: (trade_date, snapshot); parameters $trade_dates (DATE[]) and $snapshots
--                (VARCHAR[]): the partitions computed, the i-th of each list making the i-th
--
-- Shares: the 'all' universe of mart.market_breadth that traded this session (last not NULL)
-- and have a previous close (listing-day shares have no change to rank). Gainers have
-- change_pct > 0, losers < 0, so a day with fewer than 20 risers lists fewer gainers.
-- Ties broken by higher turnover, then symbol.
--
-- Liquidity floor: a market review prints movers that traded at least HKD 10 million by the
-- snapshot (`liquid`); below it a few board lots of a penny share move its price by a tenth
-- and fill the raw list. The floor is this warehouse's choice, not an HKEX rule. A row is
-- kept when it is in the raw top 20 (rank <= 20) or in the top 20 above the floor
-- (liquid_rank <= 20), so `WHERE rank <= 20` is the unfiltered list and
-- `WHERE liquid_rank <= 20 ORDER BY liquid_rank` the one a review prints.
--
-- columns:
--   trade_date, snapshot  the partition
--   direction             'gainer' or 'loser'
--   rank                  1 = biggest move in that direction among all shares
--   liquid                turnover >= HKD 10 million at the snapshot (the liquidity floor)
--   liquid_rank           1 = biggest move in that direction among liquid shares; NULL if not liquid
--   symbol, name          from ref.securities in force on trade_date
--   last, prev_close      HKD
--   change_pct            (last / prev_close - 1) * 100, percent
--   turnover              HKD
WITH parts AS (
    SELECT unnest($trade_dates::DATE[]) AS trade_date, unnest($snapshots::VARCHAR[]) AS snapshot
),
shares AS (
    SELECT d.trade_date, s.symbol, s.name
    FROM (SELECT DISTINCT trade_date FROM parts) AS d
    JOIN ref.securities AS s ON rules.in_force(s.valid_from, s.valid_to, d.trade_date)
    WHERE s.board IN ('Main Board', 'GEM')
),
moves AS (
    SELECT
        q.trade_date,
        q.snapshot,
        q.symbol,
        s.name,
        q.last,
        q.prev_close,
        (q.last / q.prev_close - 1) * 100 AS change_pct,
        coalesce(q.turnover, 0)::DOUBLE AS turnover,
        coalesce(q.turnover, 0) >= 10000000 AS liquid
    FROM raw.quotes AS q
    JOIN parts AS p ON p.trade_date = q.trade_date AND p.snapshot = q.snapshot
    JOIN shares AS s ON s.trade_date = q.trade_date AND s.symbol = q.symbol
    WHERE q.trade_date BETWEEN list_min($trade_dates::DATE[]) AND list_max($trade_dates::DATE[])
      AND q.last IS NOT NULL
      AND q.prev_close > 0
),
ranked AS (
    SELECT
        'gainer' AS direction,
        row_number() OVER (
            PARTITION BY trade_date, snapshot ORDER BY change_pct DESC, turnover DESC, symbol
        ) AS rank,
        CASE WHEN liquid THEN row_number() OVER (
            PARTITION BY trade_date, snapshot, liquid
            ORDER BY change_pct DESC, turnover DESC, symbol
        ) END AS liquid_rank,
        *
    FROM moves
    WHERE change_pct > 0
    QUALIFY rank <= 20 OR liquid_rank <= 20
    UNION ALL
    SELECT
        'loser' AS direction,
        row_number() OVER (
            PARTITION BY trade_date, snapshot ORDER BY change_pct ASC, turnover DESC, symbol
        ) AS rank,
        CASE WHEN liquid THEN row_number() OVER (
            PARTITION BY trade_date, snapshot, liquid
            ORDER BY change_pct ASC, turnover DESC, symbol
        ) END AS liquid_rank,
        *
    FROM moves
    WHERE change_pct < 0
    QUALIFY rank <= 20 OR liquid_rank <= 20
)
SELECT
    trade_date,
    snapshot,
    direction,
    rank,
    symbol,
    name,
    last,
    prev_close,
    change_pct,
    turnover,
    liquid,
    liquid_rank
FROM ranked
ORDER BY trade_date, snapshot, direction, rank
