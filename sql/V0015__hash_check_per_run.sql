-- The database checks the hash of the first event of every run of linked events an
-- insert statement stores (V0013's "starts": one per statement for the writer), not of
-- every event. The per-row check constraint cost 16.5% of the database's CPU under
-- batches of 500 entries, nearly all of it in OpenSSL setting up and tearing down a
-- digest for each row (the hashing itself was 2%), for a guard that catches only the
-- writer's own bugs: a caller of the service cannot choose a hash, and a caller who
-- could write to the table directly could as well compute a right one. So the check
-- keeps what it is for, refusing a writer whose hashing or rendering went wrong at its
-- first commit, and the auditor's `chainbook-audit verify` still checks every hash.
-- With no hash check at all, batches took 9.4% more entries (paired A/B, ahead in 6 of
-- 8 rounds) and single entries 3.5%; with this one, +4% (7 of 8) and +3.4% (6 of 8).
--
-- A start's hash is checked after its link, in the same loop, so the chain check reads
-- the rows once, unsorted, as before.
CREATE OR REPLACE FUNCTION chainbook_check_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    start record;
    links boolean;
BEGIN
    FOR start IN
        SELECT s.ledger_id, s.seq, s.prev_hash, s.hash, s.canonical
        FROM (SELECT ledger_id, seq, prev_hash, hash, canonical,
                     lag(ledger_id) OVER w AS before_ledger,
                     lag(seq) OVER w AS before_seq,
                     lag(hash) OVER w AS before_hash
              FROM new_events WINDOW w AS ()) AS s
        WHERE s.before_seq IS NULL
           OR s.before_ledger <> s.ledger_id
           OR s.before_seq <> s.seq - 1
           OR s.before_hash <> s.prev_hash
        -- Link locks in one order, whichever transaction takes them.
        ORDER BY s.ledger_id, s.seq
    LOOP
        PERFORM pg_advisory_xact_lock_shared(chainbook_link_key(start.ledger_id, start.seq - 1));
        IF start.seq = 1 THEN
            links := start.prev_hash = repeat('0', 64);
        ELSE
            links := EXISTS (SELECT 1 FROM events p
                             WHERE p.ledger_id = start.ledger_id
                               AND p.seq = start.seq - 1
                               AND p.hash = start.prev_hash);
        END IF;
        IF NOT links THEN
            RAISE EXCEPTION 'chainbook: event % of ledger % does not link to its predecessor',
                start.seq, start.ledger_id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF start.hash <> encode(sha256(convert_to(start.canonical, 'UTF8')), 'hex') THEN
            RAISE EXCEPTION 'chainbook: the hash of event % of ledger % is not the SHA-256 of its canonical text',
                start.seq, start.ledger_id
                USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

ALTER TABLE events DROP CONSTRAINT events_hash_is_sha256_of_canonical;
