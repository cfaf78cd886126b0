//! Reads of the ledgers table.

use chrono::{DateTime, Utc};

use crate::core::ledger::LedgerId;

use super::{Pool, StoreError};

#[derive(Debug, Clone)]
pub struct LedgerRow {
    pub id: String,
    pub name: String,
    pub base_currency: String,
    pub created_at: DateTime<Utc>,
}

pub async fn get(pool: &Pool, ledger: &LedgerId) -> Result<Option<LedgerRow>, StoreError> {
    const SQL: &str =
        "SELECT ledger_id, name, base_currency, created_at FROM ledgers WHERE ledger_id = $1";
    let client = pool.get().await?;
    let row = client.query_opt(SQL, &[&ledger.as_str()]).await?;
    Ok(row.map(|r| LedgerRow {
        id: r.get(0),
        name: r.get(1),
        base_currency: r.get(2),
        created_at: r.get(3),
    }))
}
