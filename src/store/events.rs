//! Reads of the log: head, pages for followers, the streamed export, one event by id.

use bytes::Bytes;
use futures_util::Stream;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::core::event::export_line;
use crate::core::event_id;
use crate::core::ledger::LedgerId;

use super::{Pool, StoreError};

/// Rows per query while streaming an export: memory stays flat however long the log.
const EXPORT_PAGE_ROWS: i64 = 2_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

pub async fn head(pool: &Pool, ledger: &LedgerId) -> Result<Option<Head>, StoreError> {
    head_of(&**pool.get().await?, ledger).await
}

/// The head as `client` sees it (inside a snapshot: the snapshot's head).
pub async fn head_of(
    client: &impl GenericClient,
    ledger: &LedgerId,
) -> Result<Option<Head>, StoreError> {
    const SQL: &str = "SELECT seq, hash FROM events WHERE ledger_id = $1 ORDER BY seq DESC LIMIT 1";
    let row = client.query_opt(SQL, &[&ledger.as_str()]).await?;
    Ok(row.map(|r| Head {
        seq: r.get::<_, i64>(0) as u64,
        hash: r.get(1),
    }))
}

/// Events with `after < seq <= until`, at most `limit`, as exported lines.
pub async fn page(
    pool: &Pool,
    ledger: &LedgerId,
    after: u64,
    until: u64,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    const SQL: &str =
        "SELECT canonical, hash FROM events WHERE ledger_id = $1 AND seq > $2 AND seq <= $3 \
                       ORDER BY seq LIMIT $4";
    let client = pool.get().await?;
    let rows = client
        .query(
            SQL,
            &[&ledger.as_str(), &(after as i64), &(until as i64), &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| export_line(r.get(0), r.get(1)))
        .collect())
}

/// The NDJSON export of events 1..=`until`, fetched page by page.
pub fn export(
    pool: Pool,
    ledger: LedgerId,
    until: u64,
) -> impl Stream<Item = Result<Bytes, StoreError>> {
    futures_util::stream::try_unfold(0u64, move |after| {
        let pool = pool.clone();
        let ledger = ledger.clone();
        async move {
            if after >= until {
                return Ok(None);
            }
            let lines = page(&pool, &ledger, after, until, EXPORT_PAGE_ROWS).await?;
            if lines.is_empty() {
                return Ok(None);
            }
            let next = after + lines.len() as u64;
            let mut chunk = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
            for line in lines {
                chunk.push_str(&line);
                chunk.push('\n');
            }
            Ok(Some((Bytes::from(chunk), next)))
        }
    })
}

#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: u64,
    pub type_name: String,
    pub canonical: String,
    pub hash: String,
}

pub async fn by_id(
    pool: &Pool,
    ledger: &LedgerId,
    id: Uuid,
) -> Result<Option<StoredEvent>, StoreError> {
    // An id that carries its seq is found by the primary key; any other id (an event
    // written before ids carried their seq) through `events_by_legacy_id`, whose
    // predicate the query repeats so that the planner may use it (`sql/V0017`).
    const BY_SEQ: &str = "SELECT seq, type, canonical, hash FROM events \
         WHERE ledger_id = $1 AND seq = $2 AND id = $3";
    const LEGACY: &str = "SELECT seq, type, canonical, hash FROM events \
         WHERE ledger_id = $1 AND id = $2 AND get_byte(uuid_send(id), 6) >> 4 <> 8";
    let client = pool.get().await?;
    let row = match event_id::seq_of(id) {
        Some(seq) => {
            client
                .query_opt(BY_SEQ, &[&ledger.as_str(), &(seq as i64), &id])
                .await?
        }
        None => client.query_opt(LEGACY, &[&ledger.as_str(), &id]).await?,
    };
    Ok(row.map(|r| StoredEvent {
        seq: r.get::<_, i64>(0) as u64,
        type_name: r.get(1),
        canonical: r.get(2),
        hash: r.get(3),
    }))
}

/// The hash of event `seq` (hex).
pub async fn by_seq(
    client: &impl GenericClient,
    ledger: &LedgerId,
    seq: u64,
) -> Result<String, StoreError> {
    const SQL: &str = "SELECT hash FROM events WHERE ledger_id = $1 AND seq = $2";
    let row = client
        .query_opt(SQL, &[&ledger.as_str(), &(seq as i64)])
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("ledger {ledger} has no event {seq}")))?;
    Ok(row.get(0))
}
