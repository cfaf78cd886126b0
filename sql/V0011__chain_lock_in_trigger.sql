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

-- The check itself is also cheaper than V0002's, which probed the table for every new
-- row's predecessor (about 3.8 µs per row on top of a 7.7 µs insert, measured on
-- 667-row statements): the rows of one statement are checked against each other in
-- one ordered pass, and only each ledger's first row is looked up in the table.
CREATE OR REPLACE FUNCTION chainbook_check_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    -- Within the statement: every event follows the one before it.
    SELECT n.ledger_id, n.seq INTO bad
    FROM (SELECT ledger_id, seq, prev_hash,
                 lag(seq) OVER w AS before_seq, lag(hash) OVER w AS before_hash
          FROM new_events WINDOW w AS (PARTITION BY ledger_id ORDER BY seq)) AS n
    WHERE n.before_seq IS NOT NULL AND (n.before_seq <> n.seq - 1 OR n.before_hash <> n.prev_hash)
    LIMIT 1;
    IF NOT FOUND THEN
        -- Each ledger's first event: once the transaction appending its predecessor
        -- has ended, that predecessor must be stored and be the one it names.
        PERFORM pg_advisory_xact_lock_shared(chainbook_link_key(ledger_id, first - 1))
        FROM (SELECT ledger_id, min(seq) AS first FROM new_events GROUP BY ledger_id ORDER BY 1) AS starts;
        SELECT f.ledger_id, f.seq INTO bad
        FROM (SELECT DISTINCT ON (ledger_id) ledger_id, seq, prev_hash
              FROM new_events ORDER BY ledger_id, seq) AS f
        LEFT JOIN events p ON p.ledger_id = f.ledger_id AND p.seq = f.seq - 1
        WHERE (f.seq = 1 AND f.prev_hash <> repeat('0', 64))
           OR (f.seq > 1 AND (p.hash IS NULL OR p.hash <> f.prev_hash))
        LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'chainbook: event % of ledger % does not link to its predecessor', bad.seq, bad.ledger_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$;
