-- Projections for reporting: the exchange rates published in the chain, and balance
-- changes summed per period and per seq range, so a balance at any date or seq is a
-- handful of index reads, not a replay. Sums are of deltas, so the rows do not depend
-- on how events were grouped into commits: a rebuild gives the same rows.

CREATE TABLE rates (
    ledger_id      text    NOT NULL,
    base           text    NOT NULL,
    quote          text    NOT NULL,
    effective_date date    NOT NULL,
    seq            bigint  NOT NULL,
    rate           numeric NOT NULL CHECK (rate > 0),
    PRIMARY KEY (ledger_id, base, quote, effective_date, seq)
);

-- Debits and credits per account and currency moved by entries effective in a period:
-- `kind` 'D' is one day starting at `period`, 'M' the calendar month starting there.
CREATE TABLE balance_periods (
    ledger_id text     NOT NULL,
    kind      char(1)  NOT NULL CHECK (kind IN ('D', 'M')),
    period    date     NOT NULL,
    account   text     NOT NULL,
    currency  text     NOT NULL,
    debits    numeric  NOT NULL,
    credits   numeric  NOT NULL,
    PRIMARY KEY (ledger_id, kind, period, account, currency)
);

-- The same per range of seqs: a bucket of level 0 covers 64 seqs, of level 1 4,096,
-- of level 2 262,144 (bucket b of a level of size n holds seqs b·n+1 ..= (b+1)·n).
CREATE TABLE balance_buckets (
    ledger_id text     NOT NULL,
    level     smallint NOT NULL CHECK (level IN (0, 1, 2)),
    bucket    bigint   NOT NULL,
    account   text     NOT NULL,
    currency  text     NOT NULL,
    debits    numeric  NOT NULL,
    credits   numeric  NOT NULL,
    PRIMARY KEY (ledger_id, level, bucket, account, currency)
);

REVOKE ALL ON rates, balance_periods, balance_buckets FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON rates, balance_periods, balance_buckets TO chainbook_app;
