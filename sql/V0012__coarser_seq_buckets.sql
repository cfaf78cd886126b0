-- Level 0 of balance_buckets covers 256 seqs instead of 64 (levels 1 and 2 keep 4,096
-- and 262,144). Each commit upserts about one level-0 row per account per bucket it
-- touches, and at 64 seqs those rows cost the database about a quarter as much as the
-- events themselves, on the serial end of every group; at 256 they cost a quarter of
-- that. A balance at a seq now reads up to 255 events from the log instead of 63, and
-- sums fewer than 16 level-0 buckets instead of 64.
--
-- A 256-seq bucket is exactly four 64-seq ones (bucket b of size n holds seqs
-- b·n+1 ..= (b+1)·n), so the new rows are the old ones summed, and the projection
-- stays what a rebuild from the log gives.
CREATE TEMPORARY TABLE level0 ON COMMIT DROP AS
    SELECT ledger_id, bucket / 4 AS bucket, account, currency,
           sum(debits) AS debits, sum(credits) AS credits
    FROM balance_buckets WHERE level = 0
    GROUP BY ledger_id, bucket / 4, account, currency;
DELETE FROM balance_buckets WHERE level = 0;
INSERT INTO balance_buckets (ledger_id, level, bucket, account, currency, debits, credits)
    SELECT ledger_id, 0, bucket, account, currency, debits, credits FROM level0;
