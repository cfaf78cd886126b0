-- balance_buckets holds only whole level-0 buckets. Until now every commit added its
-- postings to the level-0, level-1 and level-2 rows of the buckets its seqs fall in,
-- about one row per account per level per commit; a balance at a seq reads only whole
-- buckets, so those rows were rewritten with every commit of a bucket for nothing but
-- its last. Now the writer keeps the open level-0 bucket's sums in memory (read back
-- from the log when it starts) and writes the bucket once, when it closes, adding it
-- to levels 1 and 2 (`core::seq_buckets`).
--
-- So a ledger whose head h is inside a level-0 bucket loses that bucket's rows (level
-- 0, buckets from h / 256 on), and its level-1 and level-2 rows that are not yet whole
-- become the sums of the whole level-0 buckets in them: exactly what the writer, or a
-- rebuild from the log, now leaves.
CREATE TEMPORARY TABLE bucket_heads ON COMMIT DROP AS
    SELECT ledger_id, max(seq) AS head FROM events GROUP BY ledger_id;

DELETE FROM balance_buckets b USING bucket_heads h
    WHERE b.ledger_id = h.ledger_id
      AND ((b.level = 0 AND b.bucket >= h.head / 256)
        OR (b.level = 1 AND b.bucket >= h.head / 4096)
        OR (b.level = 2 AND b.bucket >= h.head / 262144));

INSERT INTO balance_buckets (ledger_id, level, bucket, account, currency, debits, credits)
    SELECT b.ledger_id, 1, b.bucket / 16, b.account, b.currency, sum(b.debits), sum(b.credits)
    FROM balance_buckets b JOIN bucket_heads h ON h.ledger_id = b.ledger_id
    WHERE b.level = 0 AND b.bucket / 16 >= h.head / 4096
    GROUP BY b.ledger_id, b.bucket / 16, b.account, b.currency;

INSERT INTO balance_buckets (ledger_id, level, bucket, account, currency, debits, credits)
    SELECT b.ledger_id, 2, b.bucket / 1024, b.account, b.currency, sum(b.debits), sum(b.credits)
    FROM balance_buckets b JOIN bucket_heads h ON h.ledger_id = b.ledger_id
    WHERE b.level = 0 AND b.bucket / 1024 >= h.head / 262144
    GROUP BY b.ledger_id, b.bucket / 1024, b.account, b.currency;
