-- Lets a writer have two transactions of one ledger in flight, both storing their rows
-- at once. A transaction that appends events up to seq n holds the link lock of
-- (ledger, n) until it commits; the chain check of the transaction whose first event is
-- n + 1 waits for that lock first (shared), then checks, and so sees the rows it links
-- to. Whatever the application does, every event still links to its committed
-- predecessor: the wait only orders, the check decides.

-- The advisory lock key of "events of `ledger` up to `seq` are being committed".
CREATE FUNCTION chainbook_link_key(ledger text, seq bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ('x' || left(md5('chainbook-link:' || ledger || ':' || seq::text), 16))::bit(64)::bigint
$$;

CREATE OR REPLACE FUNCTION chainbook_check_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(chainbook_link_key(ledger_id, first - 1))
    FROM (SELECT ledger_id, min(seq) AS first FROM new_events GROUP BY ledger_id ORDER BY 1) AS starts;
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
