-- Lets a writer have two transactions of one ledger in flight: the next one inserts its
-- rows while the one before it commits. The chain check therefore first takes the
-- ledger's chain lock (advisory, transaction-scoped, in the two-key space so it never
-- meets the writers' one-key ledger lock), which the transaction before it holds until
-- it commits; once granted, the check's query sees the rows it links to. Whatever the
-- application does, every event still links to its committed predecessor.
CREATE OR REPLACE FUNCTION chainbook_check_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    PERFORM pg_advisory_xact_lock(1667392107, hashtext(l))
    FROM (SELECT DISTINCT ledger_id AS l FROM new_events ORDER BY 1) AS ledgers;
    SELECT n.ledger_id, n.seq INTO bad
    FROM new_events n
    LEFT JOIN events p ON p.ledger_id = n.ledger_id AND p.seq = n.seq - 1
    WHERE (n.seq = 1 AND n.prev_hash <> repeat('0', 64))
       OR (n.seq > 1 AND (p.hash IS NULL OR p.hash <> n.prev_hash))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'chainbook: event % of ledger % does not link to its predecessor', bad.seq, bad.ledger_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$;
