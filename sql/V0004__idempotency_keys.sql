-- Results of requests sent with an Idempotency-Key, written in the same commit as the
-- events they produced, so a retry after a timeout finds the original result instead of
-- posting twice. Append-only like the log.

CREATE TABLE idempotency_keys (
    ledger_id    text        NOT NULL REFERENCES ledgers (ledger_id),
    key          text        NOT NULL,
    -- SHA-256 of the route and the canonical request body: the same key with another
    -- body is a conflict.
    request_hash text        NOT NULL,
    status       smallint    NOT NULL,
    response     text        NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (ledger_id, key)
);

CREATE TRIGGER idempotency_keys_append_only BEFORE UPDATE OR DELETE ON idempotency_keys
    FOR EACH ROW EXECUTE FUNCTION chainbook_refuse_change();

REVOKE ALL ON idempotency_keys FROM PUBLIC;
GRANT SELECT, INSERT ON idempotency_keys TO chainbook_app;
