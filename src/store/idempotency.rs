//! The fast path of idempotent retries: a stored response is answered without
//! queueing for the writer (which checks again under the lock).

use crate::core::ledger::LedgerId;

use super::writer::Rendered;
use super::{Pool, StoreError};

pub struct Stored {
    pub request_hash: String,
    pub rendered: Rendered,
}

pub async fn lookup(
    pool: &Pool,
    ledger: &LedgerId,
    key: &str,
) -> Result<Option<Stored>, StoreError> {
    const SQL: &str = "SELECT request_hash, status, response FROM idempotency_keys WHERE ledger_id = $1 AND key = $2";
    let client = pool.get().await?;
    let row = client.query_opt(SQL, &[&ledger.as_str(), &key]).await?;
    Ok(row.map(|r| Stored {
        request_hash: r.get(0),
        rendered: Rendered {
            status: r.get::<_, i16>(1) as u16,
            body: r.get(2),
        },
    }))
}
