-- API keys. Only a SHA-256 of each key's secret is kept; the secret is shown once.
-- `ledger_id` is the ledger the key is for, or '*' for instance-wide admin keys
-- (the bootstrap key), so the primary key still starts with the ledger id.

CREATE TABLE api_keys (
    ledger_id   text        NOT NULL,
    key_id      text        NOT NULL UNIQUE,
    role        text        NOT NULL CHECK (role IN ('admin', 'writer', 'reader', 'auditor')),
    secret_hash text        NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (ledger_id, key_id)
);

REVOKE ALL ON api_keys FROM PUBLIC;
GRANT SELECT, INSERT ON api_keys TO chainbook_app;
