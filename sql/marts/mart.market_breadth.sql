-- mart.market_breadth: advancers, decliners and unchanged shares per universe, with turnover.
-- grain:         one universe at one snapshot of one trading day
-- key:           (trade_date, snapshot, universe)
-- time column:   trade_date
-- partition key: (trade_date, snapshot); parameters $trade_dates (DATE[]) and $snapshots
--                (VARCHAR[]): the partitions computed, the i-th of each list making the i-th
--
-- Universes (all point in time on trade_date: valid_from <= D < coalesce(valid_to, infinity)):
--   all          every share in ref.securities in force with board 'Main Board' or 'GEM'
--                (equities only: the securities master holds no warrants, CBBCs, ETFs, debt)
--   main_board   those on the Main Board;  gem  those on GEM
--   HSI, HSCEI, HSTECH  the members of each index in ref.index_constituents
-- Every universe always has a row (zeros when empty).
--
-- Each share falls in exactly one state (rules.share_state, sql/rules/rules.share_state.sql,
-- the rule mart.sector_performance reads too), in this order:
--   no_prev_close  quote row with no previous close (listing day): counted apart, never
--                  in advancers/decliners/unchanged, never divided by
--   untraded       no trade this session: last IS NULL, or no row in raw.quotes at all
--                  (no_quote); counted in `unchanged` as the reviews do, and shown apart
--   advancer       last > prev_close;  decliner  last < prev_close;  flat  last = prev_close
-- Suspended shares (raw.quotes.trading_status = 'suspended' or 'halted') stay in the
-- universe: with no trade they are `untraded` (so `unchanged`), a halted share that traded
-- before its halt is classified by its last price; both are also counted in `suspended`.
-- A source without the column reports NULL (trading normally): its suspended shares are
-- counted only as untraded.
--
-- columns:
--   trade_date, snapshot  the partition
--   universe              one of six, each point in time on trade_date: all (every Main Board
--                         and GEM share in ref.securities), main_board, gem, and the members
--                         of the HSI, the HSCEI and the HSTECH in ref.index_constituents
--   advancers             shares whose last is above prev_close
--   decliners             shares whose last is below prev_close
--   unchanged             flat + untraded
--   untraded              shares without a trade this session (included in unchanged)
--   no_quote              shares of the universe absent from raw.quotes (included in untraded)
--   no_prev_close         listing-day shares (not in advancers/decliners/unchanged)
--   suspended             shares suspended or halted (trading_status set); also counted in
--                         their price state (untraded, so unchanged, when they did not trade)
--   total                 advancers + decliners + unchanged + no_prev_close
--   ad_ratio              advancers / decliners; NULL when there are no decliners
--   up_turnover           turnover of advancers, HKD
--   down_turnover         turnover of decliners, HKD
--   total_turnover        turnover of the whole universe (every state), HKD
WITH parts AS (
    SELECT unnest($trade_dates::DATE[]) AS trade_date, unnest($snapshots::VARCHAR[]) AS snapshot
),
days AS (
    SELECT DISTINCT trade_date FROM parts
),
shares AS (
    SELECT d.trade_date, s.symbol, s.board
    FROM days AS d
    JOIN ref.securities AS s ON rules.in_force(s.valid_from, s.valid_to, d.trade_date)
    WHERE s.board IN ('Main Board', 'GEM')
),
members AS (
    SELECT DISTINCT d.trade_date, c.index_code, c.symbol
    FROM days AS d
    JOIN ref.index_constituents AS c ON rules.in_force(c.valid_from, c.valid_to, d.trade_date)
),
universes(universe, ord) AS (
    VALUES ('all', 1), ('main_board', 2), ('gem', 3), ('HSI', 4), ('HSCEI', 5), ('HSTECH', 6)
),
membership AS (
    SELECT trade_date, 'all' AS universe, symbol FROM shares
    UNION ALL
    SELECT trade_date, CASE board WHEN 'Main Board' THEN 'main_board' ELSE 'gem' END, symbol
    FROM shares
    UNION ALL
    SELECT trade_date, index_code, symbol FROM members
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
        m.universe,
        m.symbol,
        q.symbol IS NULL AS no_quote,
        q.trading_status IS NOT NULL AS suspended,
        rules.exact_turnover(q.turnover) AS turnover,  -- summed exactly, in any order
        rules.share_state(q.symbol IS NOT NULL, q.trading_status, q.prev_close, q.last) AS state
    FROM parts AS p
    JOIN membership AS m ON m.trade_date = p.trade_date
    LEFT JOIN quotes AS q
        ON q.trade_date = p.trade_date AND q.snapshot = p.snapshot AND q.symbol = m.symbol
),
counts AS (
    SELECT
        p.trade_date,
        p.snapshot,
        u.universe,
        u.ord,
        count(c.symbol) FILTER (WHERE c.state = 'advancer') AS advancers,
        count(c.symbol) FILTER (WHERE c.state = 'decliner') AS decliners,
        count(c.symbol) FILTER (WHERE c.state IN ('flat', 'untraded')) AS unchanged,
        count(c.symbol) FILTER (WHERE c.state = 'untraded') AS untraded,
        count(c.symbol) FILTER (WHERE c.no_quote) AS no_quote,
        count(c.symbol) FILTER (WHERE c.state = 'no_prev_close') AS no_prev_close,
        count(c.symbol) FILTER (WHERE c.suspended) AS suspended,
        count(c.symbol) AS total,
        coalesce(sum(c.turnover) FILTER (WHERE c.state = 'advancer'), 0) AS up_turnover,
        coalesce(sum(c.turnover) FILTER (WHERE c.state = 'decliner'), 0) AS down_turnover,
        coalesce(sum(c.turnover), 0) AS total_turnover
    FROM parts AS p
    CROSS JOIN universes AS u
    LEFT JOIN classified AS c
        ON c.trade_date = p.trade_date AND c.snapshot = p.snapshot AND c.universe = u.universe
    GROUP BY p.trade_date, p.snapshot, u.universe, u.ord
)
SELECT
    trade_date,
    snapshot,
    universe,
    advancers,
    decliners,
    unchanged,
    untraded,
    no_quote,
    no_prev_close,
    suspended,
    total,
    advancers::DOUBLE / nullif(decliners, 0) AS ad_ratio,
    up_turnover::DOUBLE AS up_turnover,
    down_turnover::DOUBLE AS down_turnover,
    total_turnover::DOUBLE AS total_turnover
FROM counts
ORDER BY trade_date, snapshot, ord
