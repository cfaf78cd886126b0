//! What the writer reads under the ledger's lock before deciding: the head, the
//! accounts the batch names, which originals are already reversed, stored responses.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::ClientWrapper;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::core::account::{AccountCode, AccountFlags, AccountType};
use crate::core::chain_read::postings_from_json;
use crate::core::currency::CurrencyCode;
use crate::core::decide::Command;
use crate::core::hash::Hash;
use crate::core::ledger::LedgerId;
use crate::core::seq_buckets::{OpenBuckets, Sums};
use crate::core::state::{AccountState, LedgerState};
use crate::store::StoreError;

use super::{Rendered, Submission};

/// The advisory lock key of a ledger: the first 8 bytes of a SHA-256 of its id. Two
/// ledgers sharing a key would only serialise each other, never corrupt each other.
pub(crate) fn lock_key(ledger: &LedgerId) -> i64 {
    let digest = Sha256::digest(format!("chainbook-ledger:{ledger}"));
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

pub(super) async fn lock(client: &ClientWrapper, ledger: &LedgerId) -> Result<(), StoreError> {
    client
        .execute(
            &client
                .prepare_cached("SELECT pg_advisory_xact_lock($1)")
                .await?,
            &[&lock_key(ledger)],
        )
        .await?;
    Ok(())
}

const LOCK_SHARED: &str = "SELECT pg_advisory_xact_lock_shared($1)";
const HOLD_LINK: &str = "SELECT pg_advisory_xact_lock(chainbook_link_key($1, $2))";

/// The pipelined group's lock statements, which `task::prepare_pipelined` prepares.
pub(super) const LOCK_STATEMENTS: [&str; 2] = [LOCK_SHARED, HOLD_LINK];

/// The ledger's lock in shared mode, which pipelined groups of one writer hold
/// together: it keeps out another process's locked path (exclusive) while they are in
/// flight, and their order is kept by the link locks (`hold_link`).
pub(super) async fn lock_shared(
    client: &ClientWrapper,
    ledger: &LedgerId,
) -> Result<(), StoreError> {
    client
        .execute(
            &client.prepare_cached(LOCK_SHARED).await?,
            &[&lock_key(ledger)],
        )
        .await?;
    Ok(())
}

/// Takes the link lock of the ledger's events up to `last` (`sql/V0011`): the chain
/// check of the group after this one waits for it, so it links once this one committed.
pub(super) async fn hold_link(
    client: &ClientWrapper,
    ledger: &LedgerId,
    last: u64,
) -> Result<(), StoreError> {
    client
        .execute(
            &client.prepare_cached(HOLD_LINK).await?,
            &[&ledger.as_str(), &(last as i64)],
        )
        .await?;
    Ok(())
}

pub(super) async fn head(
    client: &ClientWrapper,
    ledger: &LedgerId,
) -> Result<Option<(u64, Hash)>, StoreError> {
    const SQL: &str = "SELECT seq, hash FROM events WHERE ledger_id = $1 ORDER BY seq DESC LIMIT 1";
    let row = client
        .query_opt(&client.prepare_cached(SQL).await?, &[&ledger.as_str()])
        .await?;
    row.map(|r| {
        let seq: i64 = r.get(0);
        let hash: &str = r.get(1);
        let hash = Hash::from_hex(hash)
            .ok_or_else(|| StoreError::Corrupt(format!("head hash {hash:?}")))?;
        Ok((seq as u64, hash))
    })
    .transpose()
}

/// Loads every account the commands name that the state does not hold yet.
pub(super) async fn missing_accounts<'a>(
    client: &ClientWrapper,
    state: &mut LedgerState,
    commands: impl Iterator<Item = &'a Command>,
    also: &'a [AccountCode],
) -> Result<(), StoreError> {
    const SQL: &str = "SELECT a.code, a.type, a.currency, a.flags, a.closed_seq IS NOT NULL, \
                       b.currency, b.debits - b.credits \
                       FROM accounts a LEFT JOIN balances b ON b.ledger_id = a.ledger_id AND b.account = a.code \
                       WHERE a.ledger_id = $1 AND a.code = ANY($2)";
    let missing: HashSet<&str> = commands
        .flat_map(Command::accounts)
        .chain(also)
        .filter(|c| !state.accounts.contains_key(*c))
        .map(AccountCode::as_str)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let codes: Vec<&str> = missing.into_iter().collect();
    for row in client
        .query(
            &client.prepare_cached(SQL).await?,
            &[&state.ledger.as_str(), &codes],
        )
        .await?
    {
        let code = AccountCode::parse(row.get(0)).map_err(corrupt)?;
        let account = match state.accounts.get_mut(&code) {
            Some(a) => a,
            None => {
                let flags: Vec<&str> = row.get(3);
                let fresh = AccountState {
                    account_type: AccountType::parse(row.get(1)).map_err(corrupt)?,
                    currency: row
                        .get::<_, Option<&str>>(2)
                        .map(|code| state.book().resolve(code).map_err(corrupt))
                        .transpose()?,
                    flags: AccountFlags::parse(flags).map_err(corrupt)?,
                    closed: row.get(4),
                    balances: Default::default(),
                };
                state.accounts.entry(code).or_insert(fresh)
            }
        };
        if let Some(cur) = row.get::<_, Option<&str>>(5) {
            let balance: Decimal = row.get(6);
            account
                .balances
                .insert(CurrencyCode::parse(cur).map_err(corrupt)?, balance);
        }
    }
    Ok(())
}

/// Loads the ledger's custom assets, once per fresh state.
pub(super) async fn currencies(
    client: &ClientWrapper,
    state: &mut LedgerState,
) -> Result<(), StoreError> {
    const SQL: &str = "SELECT code, scale FROM currencies WHERE ledger_id = $1";
    let mut book = crate::core::currency::CurrencyBook::default();
    for row in client
        .query(
            &client.prepare_cached(SQL).await?,
            &[&state.ledger.as_str()],
        )
        .await?
    {
        let scale: i32 = row.get(1);
        book.register(
            CurrencyCode::parse(row.get(0)).map_err(corrupt)?,
            scale as u32,
        );
    }
    state.currencies = Some(book);
    Ok(())
}

/// Loads the open seq buckets (`core::seq_buckets`) once per fresh state: level 0 sums
/// the postings of its events, read from the log (at most 255 events); level 1 and 2
/// are the sums of the rows of the whole buckets below them inside them (at most 15
/// and 63 buckets).
pub(super) async fn open_buckets(
    client: &ClientWrapper,
    state: &mut LedgerState,
) -> Result<(), StoreError> {
    const EVENTS: &str =
        "SELECT seq, canonical FROM events WHERE ledger_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq";
    const WHOLE: &str =
        "SELECT level, account, currency, sum(debits), sum(credits) FROM balance_buckets \
         WHERE ledger_id = $1 AND ((level = 0 AND bucket >= $2 AND bucket < $3) \
                                 OR (level = 1 AND bucket >= $4 AND bucket < $5)) \
         GROUP BY level, account, currency";
    let mut open = OpenBuckets::default();
    let l = state.ledger.as_str();
    let head = state.head_seq;
    let seqs = open.open_seqs(head);
    let [below1, below2] = [1, 2].map(|level| {
        let r = open.whole_below(head, level);
        (r.start as i64, r.end as i64)
    });
    let (events, whole) = futures_util::try_join!(
        async {
            client
                .query(
                    &client.prepare_cached(EVENTS).await?,
                    &[&l, &(seqs.start as i64), &(seqs.end as i64)],
                )
                .await
        },
        async {
            client
                .query(
                    &client.prepare_cached(WHOLE).await?,
                    &[&l, &below1.0, &below1.1, &below2.0, &below2.1],
                )
                .await
        }
    )?;
    let mut sums: [Sums; 2] = Default::default();
    for row in whole {
        let level = row.get::<_, i16>(0);
        let account = AccountCode::parse(row.get(1)).map_err(corrupt)?;
        let currency = CurrencyCode::parse(row.get(2)).map_err(corrupt)?;
        let Some(level_sums) = sums.get_mut(level as usize) else {
            return Err(StoreError::Corrupt(format!("seq bucket level {level}")));
        };
        level_sums.insert((account, currency), (row.get(3), row.get(4)));
    }
    for (below, sums) in sums.into_iter().enumerate() {
        open.resume(below + 1, sums);
    }
    let mut expected = seqs.start;
    for row in events {
        let seq = row.get::<_, i64>(0) as u64;
        if seq != expected {
            return Err(StoreError::Corrupt(format!(
                "ledger {}: seq {expected} is missing from the log",
                state.ledger
            )));
        }
        let event: serde_json::Value = serde_json::from_str(row.get(1))
            .map_err(|e| StoreError::Corrupt(format!("event {seq} JSON: {e}")))?;
        let postings = postings_from_json(&event).map_err(corrupt)?;
        // The head is inside the bucket, so none of these closes one.
        let mut closed = Vec::new();
        open.add(seq, &postings, &mut closed);
        debug_assert!(closed.is_empty(), "a bucket closed before the head");
        expected += 1;
    }
    if expected != seqs.end {
        return Err(StoreError::Corrupt(format!(
            "ledger {}: the log ends at seq {} before its head {}",
            state.ledger,
            expected - 1,
            state.head_seq
        )));
    }
    state.open_buckets = Some(open);
    Ok(())
}

/// Marks which of the originals the commands reverse are already reversed.
pub(super) async fn reversals<'a>(
    client: &ClientWrapper,
    state: &mut LedgerState,
    commands: impl Iterator<Item = &'a Command>,
) -> Result<(), StoreError> {
    const SQL: &str = "SELECT reverses FROM events WHERE ledger_id = $1 AND reverses = ANY($2)";
    let originals: Vec<uuid::Uuid> = commands
        .filter_map(|c| match c {
            Command::Reverse { original, .. } if !state.reversed.contains(original) => {
                Some(*original)
            }
            _ => None,
        })
        .collect();
    if originals.is_empty() {
        return Ok(());
    }
    for row in client
        .query(
            &client.prepare_cached(SQL).await?,
            &[&state.ledger.as_str(), &originals],
        )
        .await?
    {
        state.reversed.insert(row.get(0));
    }
    Ok(())
}

#[derive(Clone)]
pub(super) struct StoredResponse {
    pub request_hash: String,
    pub rendered: Rendered,
}

/// The stored responses of the idempotency keys in the batch.
pub(super) async fn idempotency(
    client: &ClientWrapper,
    ledger: &LedgerId,
    submissions: &[&Submission],
) -> Result<HashMap<String, StoredResponse>, StoreError> {
    const SQL: &str = "SELECT key, request_hash, status, response FROM idempotency_keys \
                       WHERE ledger_id = $1 AND key = ANY($2)";
    let keys: Vec<&str> = submissions
        .iter()
        .filter_map(|s| s.idempotency.as_ref())
        .map(|i| i.key.as_str())
        .collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = client
        .query(
            &client.prepare_cached(SQL).await?,
            &[&ledger.as_str(), &keys],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let status: i16 = r.get(2);
            let rendered = Rendered {
                status: status as u16,
                body: r.get(3),
            };
            (
                r.get(0),
                StoredResponse {
                    request_hash: r.get(1),
                    rendered,
                },
            )
        })
        .collect())
}

fn corrupt(e: crate::core::CoreError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}
