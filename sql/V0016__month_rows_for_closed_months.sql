-- Month rows of balance_periods only for closed months. Until now every commit added
-- its postings to a day row and to a month row; a balance at a date reads whole months
-- from the month rows, so the month rows of the current month were rewritten with
-- every commit, a third of the upserts of a group of single entries, for reads that
-- could as well sum that month's few day rows.
--
-- Now each ledger has a bound in period_bounds: the first month that is still open,
-- the month of the latest recorded_at in its log (UTC). Months before the bound have
-- their month rows; months from the bound on have day rows only, and a read sums the
-- day rows there. When a commit records an event in a later month, the writer first
-- writes the month rows of the months it closes, each the sum of that month's day rows,
-- and moves the bound (`writer::reporting`); a rebuild from the log leaves the same.
CREATE TABLE period_bounds (
    ledger_id text NOT NULL PRIMARY KEY,
    open_from date NOT NULL
);

REVOKE ALL ON period_bounds FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON period_bounds TO chainbook_app;

INSERT INTO period_bounds (ledger_id, open_from)
    SELECT ledger_id, date_trunc('month', max(recorded_at) AT TIME ZONE 'UTC')::date
    FROM events GROUP BY ledger_id;

DELETE FROM balance_periods p USING period_bounds b
    WHERE p.ledger_id = b.ledger_id AND p.kind = 'M' AND p.period >= b.open_from;
