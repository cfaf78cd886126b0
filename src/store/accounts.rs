//! Reads of the account and balance projections, at a consistent snapshot that names
//! the head it reflects.

use rust_decimal::Decimal;
use tokio_postgres::IsolationLevel;

use crate::core::ledger::LedgerId;

use super::events::{head_of, Head};
use super::{Pool, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct BalanceRow {
    pub account: String,
    pub account_type: String,
    pub currency: String,
    pub debits: Decimal,
    pub credits: Decimal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountRow {
    pub code: String,
    pub account_type: String,
    pub currency: Option<String>,
    pub flags: Vec<String>,
    pub opened_seq: u64,
    pub closed_seq: Option<u64>,
    pub balances: Vec<BalanceRow>,
}

/// A read at one snapshot: the rows and the head they are consistent with.
#[derive(Debug, Clone)]
pub struct AtHead<T> {
    pub head: Option<Head>,
    pub rows: T,
}

const ACCOUNTS: &str = "SELECT code, type, currency, flags, opened_seq, closed_seq FROM accounts \
     WHERE ledger_id = $1 AND ($2::text IS NULL OR code = $2) AND code > $3 ORDER BY code LIMIT $4";
const BALANCES: &str = "SELECT b.account, a.type, b.currency, b.debits, b.credits FROM balances b \
     JOIN accounts a ON a.ledger_id = b.ledger_id AND a.code = b.account \
     WHERE b.ledger_id = $1 AND b.account = ANY($2) ORDER BY b.account, b.currency";
const ALL_BALANCES: &str =
    "SELECT b.account, a.type, b.currency, b.debits, b.credits FROM balances b \
     JOIN accounts a ON a.ledger_id = b.ledger_id AND a.code = b.account \
     WHERE b.ledger_id = $1 ORDER BY b.account, b.currency";

/// Accounts with their balances: one (`code`), or a page of them after `after`.
pub async fn list(
    pool: &Pool,
    ledger: &LedgerId,
    code: Option<&str>,
    after: &str,
    limit: i64,
) -> Result<AtHead<Vec<AccountRow>>, StoreError> {
    let mut client = pool.get().await?;
    let tx = snapshot(&mut client).await?;
    let l = ledger.as_str();
    let head = head_of(&*tx, ledger).await?;
    let mut accounts: Vec<AccountRow> = tx
        .query(ACCOUNTS, &[&l, &code, &after, &limit])
        .await?
        .iter()
        .map(|r| AccountRow {
            code: r.get(0),
            account_type: r.get(1),
            currency: r.get(2),
            flags: r.get(3),
            opened_seq: r.get::<_, i64>(4) as u64,
            closed_seq: r.get::<_, Option<i64>>(5).map(|s| s as u64),
            balances: Vec::new(),
        })
        .collect();
    let codes: Vec<&str> = accounts.iter().map(|a| a.code.as_str()).collect();
    let balances = tx.query(BALANCES, &[&l, &codes]).await?;
    tx.commit().await?;
    let mut balances = balances.iter().map(balance_row).peekable();
    for account in &mut accounts {
        while let Some(b) = balances.next_if(|b| b.account == account.code) {
            account.balances.push(b);
        }
    }
    Ok(AtHead {
        head,
        rows: accounts,
    })
}

/// Every balance of the ledger, ordered by account and currency.
pub async fn balances(
    pool: &Pool,
    ledger: &LedgerId,
) -> Result<AtHead<Vec<BalanceRow>>, StoreError> {
    let mut client = pool.get().await?;
    let tx = snapshot(&mut client).await?;
    let l = ledger.as_str();
    let head = head_of(&*tx, ledger).await?;
    let rows = tx
        .query(ALL_BALANCES, &[&l])
        .await?
        .iter()
        .map(balance_row)
        .collect();
    tx.commit().await?;
    Ok(AtHead { head, rows })
}

/// A read-only transaction at one snapshot, so rows and head agree.
pub(super) async fn snapshot(
    client: &mut deadpool_postgres::Client,
) -> Result<deadpool_postgres::Transaction<'_>, StoreError> {
    let builder = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true);
    Ok(builder.start().await?)
}

fn balance_row(r: &tokio_postgres::Row) -> BalanceRow {
    BalanceRow {
        account: r.get(0),
        account_type: r.get(1),
        currency: r.get(2),
        debits: r.get(3),
        credits: r.get(4),
    }
}
