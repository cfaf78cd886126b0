-- balance_buckets holds only whole buckets, at every level. Until now a level-1 or
-- level-2 row gained each level-0 bucket as it closed, so the commit that closed a
-- level-0 bucket also upserted a row of each larger level (rows the commits after it
-- update again, and wait for while it is in flight). Now the writer keeps the open
-- level-1 and level-2 sums in memory beside the open level-0 bucket (read back from the
-- whole buckets below them when it starts) and writes each bucket once, as a new row,
-- when its last seq is appended (`core::seq_buckets`). A balance at a seq reads whole
-- buckets only, so no reader ever read the rows this drops.
--
-- So a ledger whose head h is inside a level-1 or level-2 bucket loses that bucket's
-- row: exactly what the writer, or a rebuild from the log, now leaves. Each
-- ledger's head is read through the primary key, not by scanning the log.
CREATE TEMPORARY TABLE bucket_heads ON COMMIT DROP AS
    SELECT l.ledger_id,
           (SELECT max(e.seq) FROM events e WHERE e.ledger_id = l.ledger_id) AS head
    FROM ledgers l;

DELETE FROM balance_buckets b USING bucket_heads h
    WHERE b.ledger_id = h.ledger_id
      AND ((b.level = 1 AND b.bucket >= h.head / 4096)
        OR (b.level = 2 AND b.bucket >= h.head / 262144));
