//! Signed checkpoints: signing a ledger's head (with its Merkle root, read at one
//! snapshot), and listing what was signed.

use ed25519_dalek::SigningKey;
use serde_json::Value;
use tokio_postgres::GenericClient;
use tokio_postgres::IsolationLevel;

use crate::core::checkpoint::Checkpoint;
use crate::core::event::now_micros;
use crate::core::hash::Hash;
use crate::core::ledger::LedgerId;

use super::{merkle, Pool, StoreError};

fn row_json(r: &tokio_postgres::Row) -> Value {
    serde_json::json!({
        "ledger": r.get::<_, &str>(0),
        "seq": r.get::<_, i64>(1),
        "hash": r.get::<_, &str>(2),
        "merkle_root": r.get::<_, &str>(3),
        "signed_at": r.get::<_, &str>(4),
        "signature": r.get::<_, &str>(5),
    })
}

const COLUMNS: &str = "ledger_id, seq, hash, merkle_root, signed_at, signature";

/// Signs the ledger's current head, unless it is signed already; returns the
/// checkpoint of the head either way (`None`: no such ledger).
pub async fn sign_head(
    pool: &Pool,
    ledger: &LedgerId,
    key: &SigningKey,
) -> Result<Option<Value>, StoreError> {
    let mut client = pool.get().await?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()
        .await?;
    let l = ledger.as_str();
    let Some(head) = super::events::head_of(&*tx, ledger).await? else {
        return Ok(None);
    };
    let existing = format!("SELECT {COLUMNS} FROM checkpoints WHERE ledger_id = $1 AND seq = $2");
    if let Some(row) = tx.query_opt(&existing, &[&l, &(head.seq as i64)]).await? {
        tx.commit().await?;
        return Ok(Some(row_json(&row)));
    }
    let root = merkle::root(&*tx, ledger, head.seq).await?;
    let hash = Hash::from_hex(&head.hash)
        .ok_or_else(|| StoreError::Corrupt(format!("head hash {:?}", head.hash)))?;
    let checkpoint = Checkpoint::new(ledger.clone(), head.seq, hash, root, now_micros());
    let signature = checkpoint.sign(key);
    let insert = format!(
        "INSERT INTO checkpoints ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (ledger_id, seq) DO NOTHING"
    );
    tx.execute(
        &insert,
        &[
            &l,
            &(head.seq as i64),
            &head.hash,
            &root.to_hex(),
            &checkpoint.signed_at,
            &signature,
        ],
    )
    .await?;
    let row = tx.query_one(&existing, &[&l, &(head.seq as i64)]).await?;
    tx.commit().await?;
    Ok(Some(row_json(&row)))
}

/// Checkpoints of a ledger with `seq > after`, oldest first.
pub async fn list(
    pool: &Pool,
    ledger: &LedgerId,
    after: u64,
    limit: i64,
) -> Result<Vec<Value>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM checkpoints WHERE ledger_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    );
    let client = pool.get().await?;
    Ok(client
        .query(&sql, &[&ledger.as_str(), &(after as i64), &limit])
        .await?
        .iter()
        .map(row_json)
        .collect())
}

/// Ledgers whose head is at least `events` past their last checkpoint, or past it at
/// all when that checkpoint is older than `seconds` (or missing): due for signing.
pub async fn due(
    client: &impl GenericClient,
    events: i64,
    seconds: i64,
) -> Result<Vec<LedgerId>, StoreError> {
    const SQL: &str = "SELECT l.ledger_id FROM ledgers l \
         CROSS JOIN LATERAL (SELECT seq FROM events e WHERE e.ledger_id = l.ledger_id ORDER BY seq DESC LIMIT 1) h \
         LEFT JOIN LATERAL (SELECT seq, signed_at FROM checkpoints c WHERE c.ledger_id = l.ledger_id \
                            ORDER BY seq DESC LIMIT 1) c ON true \
         WHERE c.seq IS NULL OR h.seq - c.seq >= $1 \
            OR (h.seq > c.seq AND c.signed_at::timestamptz < now() - make_interval(secs => $2))";
    client
        .query(SQL, &[&events, &(seconds as f64)])
        .await?
        .iter()
        .map(|r| LedgerId::parse(r.get(0)).map_err(|e| StoreError::Corrupt(e.to_string())))
        .collect()
}

/// Seconds since each ledger's newest checkpoint was signed.
pub async fn ages(pool: &Pool) -> Result<Vec<(String, f64)>, StoreError> {
    const SQL: &str =
        "SELECT ledger_id, extract(epoch FROM now() - max(signed_at::timestamptz))::float8 \
                       FROM checkpoints GROUP BY ledger_id";
    let client = pool.get().await?;
    Ok(client
        .query(SQL, &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}
