-- rules.exact_turnover: a turnover as an exact decimal (HKD to a tenth of a cent, NULL as 0), for sums.
-- A DOUBLE sum depends on the order the rows are read (file layout, threads), so two identical
-- lakes could differ in the last bits. Turnover is a price (3 decimals) times shares, so
-- DECIMAL(38, 3) holds it exactly and its sums do not depend on the order. Read by
-- mart.market_breadth and mart.sector_performance.
CREATE OR REPLACE MACRO rules.exact_turnover(turnover) AS
    coalesce(turnover, 0)::DECIMAL(38, 3)
