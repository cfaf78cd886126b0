-- The log. `events` is the only source of truth; every other table can be rebuilt
-- from it. Each row stores the canonical JSON that was hashed (`canonical`), so the
-- export is those bytes plus the hash, and anyone can check one against the other.

CREATE TABLE ledgers (
    ledger_id     text        PRIMARY KEY CHECK (ledger_id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    name          text        NOT NULL,
    base_currency text        NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE TABLE events (
    -- No foreign key to `ledgers`: a per-row check on the hottest insert buys nothing,
    -- since seq 1 of every chain is its ledger.created and the chain trigger below
    -- refuses any event without its predecessor.
    ledger_id   text        NOT NULL,
    seq         bigint      NOT NULL CHECK (seq >= 1),
    id          uuid        NOT NULL,
    type        text        NOT NULL,
    recorded_at timestamptz NOT NULL,
    prev_hash   text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash        text        NOT NULL,
    canonical   text        NOT NULL,
    -- For transaction.reversed: the transaction it undoes (unique: reversed once).
    reverses    uuid,
    PRIMARY KEY (ledger_id, seq),
    -- The database itself refuses a row whose hash is not the hash of its bytes.
    CONSTRAINT events_hash_is_sha256_of_canonical
        CHECK (hash = encode(sha256(convert_to(canonical, 'UTF8')), 'hex'))
);

CREATE UNIQUE INDEX events_by_id ON events (ledger_id, id);
CREATE UNIQUE INDEX events_by_reverses ON events (ledger_id, reverses) WHERE reverses IS NOT NULL;

-- A backstop to the writer's lock: every inserted event links to its predecessor
-- (seq − 1 exists and its hash is this prev_hash), so seq stays gapless and the chain
-- unbroken whatever the application does. One query per INSERT statement.
CREATE OR REPLACE FUNCTION chainbook_check_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
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

CREATE TRIGGER events_chain AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION chainbook_check_chain();

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION chainbook_refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION chainbook_refuse_change();
CREATE TRIGGER ledgers_append_only BEFORE UPDATE OR DELETE ON ledgers
    FOR EACH ROW EXECUTE FUNCTION chainbook_refuse_change();
CREATE TRIGGER ledgers_no_truncate BEFORE TRUNCATE ON ledgers
    FOR EACH STATEMENT EXECUTE FUNCTION chainbook_refuse_change();

REVOKE ALL ON ledgers, events FROM PUBLIC;
GRANT SELECT, INSERT ON ledgers, events TO chainbook_app;
