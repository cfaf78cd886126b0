-- Custom assets registered per ledger (`currency.registered`): code and scale. ISO 4217
-- currencies are built in and never stored here.

CREATE TABLE currencies (
    ledger_id text    NOT NULL,
    code      text    NOT NULL CHECK (code ~ '^[A-Z][A-Z0-9]{2,11}$'),
    scale     integer NOT NULL CHECK (scale BETWEEN 0 AND 12),
    seq       bigint  NOT NULL,
    PRIMARY KEY (ledger_id, code)
);

REVOKE ALL ON currencies FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON currencies TO chainbook_app;
