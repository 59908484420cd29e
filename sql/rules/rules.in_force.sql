-- rules.in_force: true when an effective-dated row (ref.securities, ref.index_constituents) is in force on a date.
-- A version holds from valid_from (inclusive) to valid_to (exclusive); valid_to NULL: still in
-- force. Every mart, view and check that asks "which version held on D" calls this macro, so
-- the rule is written once. It is stored in the lake's catalog (schema rules), so an
-- analyst's plain DuckDB client that attaches the lake has it too:
--   SELECT * FROM ref.securities AS s WHERE rules.in_force(s.valid_from, s.valid_to, DATE '2025-11-21')
CREATE OR REPLACE MACRO rules.in_force(valid_from, valid_to, on_date) AS
    valid_from <= on_date AND (valid_to IS NULL OR valid_to > on_date)
