-- The Merkle tree over each ledger's event hashes (RFC 6962/9162), kept as its perfect
-- subtrees: the node of `level` ≥ 1 and `idx` covers leaves idx·2^level ..
-- (idx+1)·2^level − 1 (leaf i is the event with seq i + 1; leaves themselves are the
-- events' hashes). A root or proof for any size reads O(log n) of these rows.
-- And the signed checkpoints: the service's Ed25519 signature over
-- {ledger, seq, hash, merkle_root, signed_at} (the signing key is never stored here).

CREATE TABLE merkle_nodes (
    ledger_id text     NOT NULL,
    level     smallint NOT NULL CHECK (level BETWEEN 1 AND 62),
    idx       bigint   NOT NULL CHECK (idx >= 0),
    hash      bytea    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (ledger_id, level, idx)
);

CREATE TABLE checkpoints (
    ledger_id   text        NOT NULL,
    seq         bigint      NOT NULL,
    hash        text        NOT NULL,
    merkle_root text        NOT NULL,
    signed_at   text        NOT NULL,
    signature   text        NOT NULL,
    PRIMARY KEY (ledger_id, seq)
);

-- Like the log, neither is ever changed: only appended.
CREATE TRIGGER merkle_nodes_append_only BEFORE UPDATE OR DELETE ON merkle_nodes
    FOR EACH ROW EXECUTE FUNCTION chainbook_refuse_change();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION chainbook_refuse_change();

REVOKE ALL ON merkle_nodes, checkpoints FROM PUBLIC;
GRANT SELECT, INSERT ON merkle_nodes, checkpoints TO chainbook_app;
