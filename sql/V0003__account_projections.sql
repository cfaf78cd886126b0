-- Projections of the log: accounts as opened/closed, and running balances per account
-- and currency. They are derived data, kept in the same commit as the events they
-- fold, so the service may update them; rebuilding from the log gives the same rows.

CREATE TABLE accounts (
    ledger_id  text    NOT NULL REFERENCES ledgers (ledger_id),
    code       text    NOT NULL,
    type       text    NOT NULL CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense')),
    currency   text,
    flags      text[]  NOT NULL DEFAULT '{}',
    opened_seq bigint  NOT NULL,
    closed_seq bigint,
    PRIMARY KEY (ledger_id, code)
);

CREATE TABLE balances (
    ledger_id text    NOT NULL,
    account   text    NOT NULL,
    currency  text    NOT NULL,
    debits    numeric NOT NULL DEFAULT 0,
    credits   numeric NOT NULL DEFAULT 0,
    -- The seq of the last event that moved this balance.
    last_seq  bigint  NOT NULL,
    PRIMARY KEY (ledger_id, account, currency),
    FOREIGN KEY (ledger_id, account) REFERENCES accounts (ledger_id, code)
);

REVOKE ALL ON accounts, balances FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON accounts, balances TO chainbook_app;
