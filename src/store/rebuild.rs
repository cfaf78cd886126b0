//! Rebuilds a ledger's projections from its log (`chainbook rebuild`, BRIEF §2.7).
//!
//! In one transaction, as the owner of the database, holding the ledger's writer lock
//! so that no writer appends meanwhile: the ledger's projection rows are copied into
//! temporary tables and deleted; the log is replayed from seq 1 a chunk at a time,
//! each chunk folded into a `LedgerState` and written with the writer's own
//! `write_projections`; then the rebuilt rows are compared with the ones they replaced
//! (`EXCEPT` both ways, per table). The transaction commits either way: the log is the
//! truth, so rebuilt projections stay even where they differ. Memory is bounded by the
//! chunk and by what the writer keeps (accounts, products, stock levels, open orders).
//! The list of projections and the comparison are in `store::projections`.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::ClientWrapper;
use tokio_postgres::Row;

use crate::core::chain_read::read_event;
use crate::core::commerce::{CommerceEvent, OrderId};
use crate::core::event::{EventBody, SealedEvent};
use crate::core::hash::Hash;
use crate::core::ledger::LedgerId;
use crate::core::limits;
use crate::core::state::LedgerState;

use super::projections::{check_every_table_is_listed, compare, set_aside, TableComparison};
use super::writer::{close_buckets, load_orders, lock_key, write_projections, PeriodTotals, Plan};
use super::{pool, StoreError};

/// The rebuild of one ledger: what was replayed and how the rebuilt projections
/// compare with the ones they replaced.
#[derive(Debug, Clone)]
pub struct RebuildReport {
    pub events: u64,
    /// Time spent replaying the log (reading, folding, writing projections).
    pub replay: Duration,
    /// Everything from BEGIN to COMMIT.
    pub total: Duration,
    /// One per projection, in `PROJECTIONS` order.
    pub tables: Vec<TableComparison>,
}

impl RebuildReport {
    pub fn differences(&self) -> u64 {
        self.tables.iter().map(|t| t.differences).sum()
    }

    pub fn identical(&self) -> bool {
        self.differences() == 0
    }
}

const LOCK: &str = "SELECT pg_advisory_xact_lock($1)";
const LEDGER_EXISTS: &str = "SELECT 1 FROM ledgers WHERE ledger_id = $1";
const HEAD_SEQ: &str = "SELECT coalesce(max(seq), 0) FROM events WHERE ledger_id = $1";

/// Rebuilds every projection of `ledger` from its log, replaying `chunk_events` events
/// at a time (`limits::REBUILD_CHUNK_EVENTS` in the command), and reports how the
/// result compares with what it replaced. `progress` is told (events replayed, events
/// in the log) after each chunk. `None` when there is no such ledger (nothing changed).
pub async fn rebuild(
    database_url: &str,
    ledger: &LedgerId,
    chunk_events: usize,
    mut progress: impl FnMut(u64, u64),
) -> Result<Option<RebuildReport>, StoreError> {
    assert!(chunk_events > 0, "a chunk holds at least one event");
    let started = Instant::now();
    // Dropping the connection on an error rolls the transaction back: nothing
    // half-written stays.
    let client = pool::connect_owner_cached(database_url).await?;
    let l = ledger.as_str();
    client.batch_execute("BEGIN").await?;
    client.execute(LOCK, &[&lock_key(ledger)]).await?;
    if client.query_opt(LEDGER_EXISTS, &[&l]).await?.is_none() {
        client.batch_execute("ROLLBACK").await?;
        return Ok(None);
    }
    check_every_table_is_listed(&client).await?;
    let head: i64 = client.query_one(HEAD_SEQ, &[&l]).await?.get(0);
    progress(0, head as u64);
    set_aside(&client, ledger).await?;
    let replay_started = Instant::now();
    let events = replay(&client, ledger, chunk_events, |done| {
        progress(done, head as u64)
    })
    .await?;
    let replay = replay_started.elapsed();
    let tables = compare(&client, ledger).await?;
    client.batch_execute("COMMIT").await?;
    Ok(Some(RebuildReport {
        events,
        replay,
        total: started.elapsed(),
        tables,
    }))
}

const EVENTS_PAGE: &str = "SELECT seq, hash, canonical FROM events \
     WHERE ledger_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";

/// Replays the log from seq 1 through `write_projections`, one chunk at a time. While
/// a chunk's projections are written, the next page of the log is parsed on a
/// blocking thread (parsing is most of the replay's own CPU) and the page after it is
/// read, pipelined behind the writes on the one connection. So at most three chunks
/// are held at once: memory follows the chunk size, not the length of the log.
async fn replay(
    client: &ClientWrapper,
    ledger: &LedgerId,
    chunk_events: usize,
    mut progress: impl FnMut(u64),
) -> Result<u64, StoreError> {
    let l = ledger.as_str();
    let limit = chunk_events as i64;
    let page = client.prepare_cached(EVENTS_PAGE).await?;
    let fetch = |after: u64| {
        let page = &page;
        async move {
            if after == FETCH_NOTHING {
                return Ok(Vec::new());
            }
            Ok::<_, StoreError>(client.query(page, &[&l, &(after as i64), &limit]).await?)
        }
    };
    let mut state = LedgerState::new(ledger.clone(), 0, Hash::GENESIS);
    // Day sums over many chunks (each row written once, not once per chunk), then the
    // month rows of the closed months.
    let mut periods = PeriodTotals::default();
    let mut plan = parse_page(fetch(0).await?, ledger.clone(), 0, Hash::GENESIS)?;
    let mut rows = fetch(last_seq(&plan)).await?;
    while !plan.events.is_empty() {
        let started = Instant::now();
        load_forgotten_orders(client, &mut state, &plan).await?;
        for (sealed, body) in &plan.events {
            check_applicable(&state, body)
                .map_err(|e| corrupt(ledger, sealed.seq, &format!("cannot be replayed: {e}")))?;
            state.apply(body, sealed.seq, sealed.hash);
        }
        close_buckets(&mut state, &mut plan);
        let applied = started.elapsed();
        let after = rows
            .last()
            .map_or(FETCH_NOTHING, |r| r.get::<_, i64>(0) as u64);
        let (seq, prev, owned) = (state.head_seq, state.head_hash, ledger.clone());
        let page_rows = std::mem::take(&mut rows);
        let parse = tokio::task::spawn_blocking(move || {
            let parsing = Instant::now();
            parse_page(page_rows, owned, seq, prev).map(|plan| (plan, parsing.elapsed()))
        });
        periods.add(&plan);
        let write = async {
            write_projections(client, &state, &plan).await?;
            Ok(started.elapsed())
        };
        let written;
        (written, rows) = futures_util::try_join!(write, fetch(after))?;
        if periods.len() > limits::REBUILD_PERIOD_ROWS_MAX {
            periods.flush(client, ledger).await?;
        }
        let (next, parsed) = parse
            .await
            .map_err(|e| StoreError::Other(format!("parsing the log: {e}")))??;
        tracing::debug!(
            ledger = %ledger,
            seq = state.head_seq,
            events = plan.events.len(),
            apply_us = applied.as_micros() as u64,
            write_us = (written - applied).as_micros() as u64,
            parse_next_us = parsed.as_micros() as u64,
            chunk_us = started.elapsed().as_micros() as u64,
            "rebuild chunk"
        );
        plan = next;
        // What the writer forgets after a commit, and what only deciding needs.
        state.commerce.forget_settled();
        state.reversed.clear();
        progress(state.head_seq);
    }
    periods.finish(client, ledger).await?;
    Ok(state.head_seq)
}

/// `fetch(FETCH_NOTHING)` reads nothing: the page before was already empty.
const FETCH_NOTHING: u64 = u64::MAX;

fn last_seq(plan: &Plan) -> u64 {
    plan.events.last().map_or(FETCH_NOTHING, |(e, _)| e.seq)
}

/// A page of the log as a chunk to replay, checked to follow `(seq, prev)`.
fn parse_page(rows: Vec<Row>, ledger: LedgerId, seq: u64, prev: Hash) -> Result<Plan, StoreError> {
    let mut plan = Plan::default();
    plan.skip_periods = true;
    plan.events.reserve(rows.len());
    let (mut seq, mut prev) = (seq, prev);
    for row in rows {
        seq += 1;
        let (sealed, body) = sealed_from_row(&row, &ledger, seq, prev)?;
        prev = sealed.hash;
        plan.events.push((sealed, body));
    }
    Ok(plan)
}

fn corrupt(ledger: &LedgerId, seq: u64, what: &str) -> StoreError {
    StoreError::Corrupt(format!("event {seq} of ledger {ledger} {what}"))
}

/// The event stored at `seq`, parsed from its canonical bytes, checked to be that
/// event and to link to `prev` (the database also checks hashes and links on insert).
fn sealed_from_row(
    row: &Row,
    ledger: &LedgerId,
    seq: u64,
    prev: Hash,
) -> Result<(Arc<SealedEvent>, EventBody), StoreError> {
    let stored_seq: i64 = row.get(0);
    if stored_seq != seq as i64 {
        return Err(corrupt(
            ledger,
            seq,
            &format!("is missing (found {stored_seq})"),
        ));
    }
    let hash = Hash::from_hex(row.get(1))
        .ok_or_else(|| corrupt(ledger, seq, "has a hash that is not hex"))?;
    let canonical: String = row.get(2);
    let value: serde_json::Value = serde_json::from_str(&canonical)
        .map_err(|e| corrupt(ledger, seq, &format!("is not JSON: {e}")))?;
    let read =
        read_event(&value).map_err(|e| corrupt(ledger, seq, &format!("is unreadable: {e}")))?;
    if read.seq != seq || read.ledger != *ledger || read.prev_hash != prev {
        return Err(corrupt(ledger, seq, "does not link to its predecessor"));
    }
    let sealed = SealedEvent {
        seq,
        id: read.id,
        type_name: read.body.type_name(),
        recorded_at: read.recorded_at,
        prev_hash: read.prev_hash,
        hash,
        canonical,
        reverses: read.body.reverses(),
    };
    Ok((Arc::new(sealed), read.body))
}

/// Orders are forgotten once completed or cancelled, as in the writer; a later event
/// may still name one (a refund), so it is reloaded from the projection as rebuilt so
/// far, exactly as the writer reloads it.
async fn load_forgotten_orders(
    client: &ClientWrapper,
    state: &mut LedgerState,
    plan: &Plan,
) -> Result<(), StoreError> {
    let mut placed: HashSet<&OrderId> = HashSet::new();
    let mut missing: BTreeSet<&str> = BTreeSet::new();
    for (_, body) in &plan.events {
        let EventBody::Commerce(event) = body else {
            continue;
        };
        let Some(order) = event.order() else {
            continue;
        };
        if matches!(event, CommerceEvent::OrderPlaced { .. }) {
            placed.insert(order);
        } else if !placed.contains(order) && !state.commerce.orders.contains_key(order) {
            missing.insert(order.as_str());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let ledger = state.ledger.as_str().to_owned();
    load_orders(client, state, &ledger, missing.into_iter().collect()).await
}

/// What `apply` takes for granted because `decide` checked it: an event of a log
/// edited behind the database's back is refused here rather than panicking there.
fn check_applicable(state: &LedgerState, body: &EventBody) -> Result<(), String> {
    for p in body.postings() {
        if !state.accounts.contains_key(p.account()) {
            return Err(format!("posts to {}, never opened", p.account().as_str()));
        }
    }
    let EventBody::Commerce(event) = body else {
        return Ok(());
    };
    if let Some(order) = event.order() {
        let placing = matches!(event, CommerceEvent::OrderPlaced { .. });
        if !placing && !state.commerce.orders.contains_key(order) {
            return Err(format!("names order {}, never placed", order.as_str()));
        }
    }
    if matches!(event, CommerceEvent::ProductRegistered { .. }) {
        return Ok(());
    }
    for (sku, warehouse) in event.stock_keys() {
        if state.commerce.stock_of(sku, warehouse).is_none() {
            return Err(format!(
                "moves {} in {}, never registered there",
                sku.as_str(),
                warehouse.as_str()
            ));
        }
    }
    Ok(())
}
