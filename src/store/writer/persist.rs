//! Writes a decided batch: events and idempotency records (the log), and the
//! projections they change (`write_projections`, which a rebuild replays through), as
//! a handful of multi-row statements pipelined on one connection.

use std::sync::{Arc, LazyLock};

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Utc};
use deadpool_postgres::ClientWrapper;
use futures_util::SinkExt;
use rust_decimal::Decimal;
use tokio_postgres::types::{IsNull, ToSql, Type};
use uuid::Uuid;

use crate::core::event::{EventBody, SealedEvent};
use crate::core::hash::Hash;
use crate::core::ledger::LedgerId;
use crate::core::merkle::Subtree;
use crate::core::posting::Side;
use crate::core::seq_buckets::ClosedBucket;
use crate::core::state::LedgerState;
use crate::store::StoreError;

use super::{IdempotencyRequest, Rendered};

/// Everything a batch appends. A rebuild fills only `events`, with a chunk of the log.
#[derive(Default)]
pub(crate) struct Plan {
    pub(crate) events: Vec<(Arc<SealedEvent>, EventBody)>,
    pub(super) idempotency: Vec<(IdempotencyRequest, Rendered)>,
    /// The Merkle tree's perfect subtrees the events completed.
    pub(super) merkle_nodes: Vec<(Subtree, Hash)>,
    /// The level-0 seq buckets the events closed (`reporting::close_buckets`).
    pub(crate) closed_buckets: Vec<ClosedBucket>,
    /// Leave `balance_periods` out: a rebuild sums them over many chunks
    /// (`reporting::PeriodTotals`) and writes each row once.
    pub(crate) skip_periods: bool,
    /// The ledger's open month once the events commit (`reporting::close_months`):
    /// they add to month rows of the months before it only.
    pub(crate) open_month: Option<chrono::NaiveDate>,
    /// The open month before the events, when they move it: the month rows of the
    /// months from it to `open_month` are written first (`reporting::CLOSE_MONTHS`).
    pub(crate) closes_from: Option<chrono::NaiveDate>,
}

const INSERT_EVENTS: &str = "INSERT INTO events (ledger_id, seq, id, type, recorded_at, prev_hash, hash, canonical, reverses) \
     SELECT $1, * FROM unnest($2::int8[], $3::uuid[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::uuid[])";
const INSERT_LEDGER: &str =
    "INSERT INTO ledgers (ledger_id, name, base_currency, created_at) VALUES ($1, $2, $3, $4)";
const INSERT_ACCOUNTS: &str = "INSERT INTO accounts (ledger_id, code, type, currency, opened_seq, flags) \
     SELECT $1, code, type, currency, seq, string_to_array(flags, ',') \
     FROM unnest($2::text[], $3::text[], $4::text[], $5::int8[], $6::text[]) AS t(code, type, currency, seq, flags)";
const CLOSE_ACCOUNTS: &str = "UPDATE accounts a SET closed_seq = t.seq \
     FROM unnest($2::text[], $3::int8[]) AS t(code, seq) WHERE a.ledger_id = $1 AND a.code = t.code";
const UPSERT_BALANCES: &str = "INSERT INTO balances (ledger_id, account, currency, debits, credits, last_seq) \
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::numeric[], $5::numeric[], $6::int8[]) \
     ON CONFLICT (ledger_id, account, currency) DO UPDATE SET \
     debits = balances.debits + EXCLUDED.debits, credits = balances.credits + EXCLUDED.credits, last_seq = EXCLUDED.last_seq";
const INSERT_IDEMPOTENCY: &str = "INSERT INTO idempotency_keys (ledger_id, key, request_hash, status, response, created_at) \
     SELECT $1, key, hash, status, response, now() FROM unnest($2::text[], $3::text[], $4::int2[], $5::text[]) AS t(key, hash, status, response)";

/// A pipelined group's rows in one statement: the Merkle nodes, idempotency records,
/// balances and reporting sums as data-modifying CTEs beside the events insert, whose
/// chain check runs once all of them are done. A group of single entries is a few
/// dozen rows, and six statements cost the database more than their rows did. Only
/// for groups of journal entries between existing accounts (`can_pipeline`): no
/// account opened or closed, no rates or currencies.
///
/// One statement per combination of the parts a group may have no rows for (Merkle
/// nodes, idempotency records, bucket rows: most groups of single entries have none of
/// the last two), indexed by the mask `part_in` reads: an empty part still costs the
/// database its setup (the table opened, its constraints and conflict index readied).
static GROUP_SQL: LazyLock<Vec<String>> = LazyLock::new(|| forms(&ALL_PARTS));

/// A group sent with nothing in flight (`GroupForm::One`): `GROUP_SQL` with the
/// ledger's shared lock taken inside it, sent with no BEGIN or COMMIT around it, so
/// that the group is one statement and its own transaction (a lone Execute commits at
/// its Sync). Every part reads the ledger id through the lock's CTE, so no row is
/// written before the lock is held. It holds no link lock, so nothing may start
/// beside it: the group after it is chained behind it on its connection, and so runs
/// once it has committed (`task::Follow::Chained`). The lock key is the last
/// parameter. Indexed like `GROUP_SQL`.
static ONE_SQL: LazyLock<Vec<String>> = LazyLock::new(|| {
    (0..1 << OPTIONAL_PARTS.len())
        .map(|mask| locked_inside(&statement_sql(mask, &ALL_PARTS)))
        .collect()
});

/// The same rows in two statements, for a group sent behind another still in flight
/// (`GroupForm::Behind`): the rows no other group touches first (Merkle nodes,
/// idempotency records, the seq buckets it closes, events), whose chain check waits for
/// that group to commit, then the upserts (balances, day and month sums), which so
/// never wait for a row that group still holds. Indexed like `GROUP_SQL`.
static BEHIND_LOG_SQL: LazyLock<Vec<String>> = LazyLock::new(|| forms(&LOG_PARTS));
static BEHIND_UPSERT_SQL: LazyLock<Vec<String>> = LazyLock::new(|| forms(&UPSERT_PARTS));

/// A group of `COPY_MIN_EVENTS` events or more (`GroupForm::Copied`) writes the rows no
/// other group touches (Merkle nodes, idempotency records, the seq buckets it closes)
/// in one statement of these, if it has any, then streams its events with
/// `COPY_EVENTS`, whose chain check waits for the group before it to commit, then
/// upserts the rows the groups after it add to in one statement of
/// `COPIED_UPSERT_SQL`. Only the last is on the path from one group's commit to the
/// next's. Both indexed like `GROUP_SQL`.
static COPIED_LOG_SQL: LazyLock<Vec<Option<String>>> = LazyLock::new(|| {
    (0..1 << OPTIONAL_PARTS.len())
        .map(|mask| {
            COPIED_LOG_PARTS
                .iter()
                .any(|&p| part_in(mask, p))
                .then(|| statement_sql(mask, &COPIED_LOG_PARTS))
        })
        .collect()
});
static COPIED_UPSERT_SQL: LazyLock<Vec<String>> = LazyLock::new(|| forms(&COPIED_UPSERT_PARTS));

/// The events of a large group, in binary COPY format, in `INSERT_EVENTS`'s columns.
/// COPY stores rows several to a heap page per call and reads no parameter arrays:
/// 200 statements of 500 event-shaped rows took 1.0 s as COPY against 1.8 s as the
/// unnest insert (docs/architecture.md, "A seventh pass").
pub(super) const COPY_EVENTS: &str =
    "COPY events (ledger_id, seq, id, type, recorded_at, prev_hash, hash, canonical, reverses) \
     FROM STDIN (FORMAT binary)";
/// The column types of `COPY_EVENTS`, in order.
const COPY_EVENT_TYPES: [Type; 9] = [
    Type::TEXT,
    Type::INT8,
    Type::UUID,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::UUID,
];
/// The fewest events a group streams with COPY. COPY costs a round trip before its
/// rows go out (the server must answer that it is ready for them), taken while the
/// group holds the link lock the next group waits for: worth it for a batch, not for
/// the couple of dozen single entries a group of them gathers.
pub(super) const COPY_MIN_EVENTS: usize = 64;

/// The statements of a pipelined group's rows, in `GROUP_SQL`'s order (its parameters
/// follow this order too), with the name of each one's CTE.
const ROW_STATEMENTS: [(&str, &str); 6] = [
    ("nodes", crate::store::merkle::INSERT_NODES),
    ("keys", INSERT_IDEMPOTENCY),
    ("balances", UPSERT_BALANCES),
    ("periods", super::reporting::UPSERT_PERIODS),
    ("buckets", super::reporting::INSERT_BUCKETS),
    ("events", INSERT_EVENTS),
];

/// The parts of `ROW_STATEMENTS` (by index) that a statement leaves out when empty.
const OPTIONAL_PARTS: [usize; 3] = [0, 1, 4];
/// The parts of each form's statements, the main statement last (never optional).
const ALL_PARTS: [usize; 6] = [0, 1, 2, 3, 4, 5];
const LOG_PARTS: [usize; 4] = [0, 1, 4, 5];
const UPSERT_PARTS: [usize; 2] = [3, 2];
/// Every part optional: a copied group with none of them sends no statement before
/// its events.
const COPIED_LOG_PARTS: [usize; 3] = [0, 1, 4];
const COPIED_UPSERT_PARTS: [usize; 2] = [3, 2];

/// Which statements carry a pipelined group's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GroupForm {
    /// Nothing in flight before it, and it closes a month: `GROUP_SQL`.
    Alone,
    /// Nothing in flight before it, or only groups of this form (it is then chained
    /// on their connection), fewer than `COPY_MIN_EVENTS` events and no month closed:
    /// `ONE_SQL`, on its own (no BEGIN, locks or COMMIT around it).
    One,
    /// Behind a group in flight: `BEHIND_LOG_SQL`, then `BEHIND_UPSERT_SQL`.
    Behind,
    /// `COPY_MIN_EVENTS` events or more, alone or behind: `COPIED_LOG_SQL` (if it has
    /// rows for it), `COPY_EVENTS`, then `COPIED_UPSERT_SQL` (the log first, like
    /// `Behind`).
    Copied,
}

/// A statement of `parts` per mask of `OPTIONAL_PARTS`.
fn forms(parts: &[usize]) -> Vec<String> {
    (0..1 << OPTIONAL_PARTS.len())
        .map(|mask| statement_sql(mask, parts))
        .collect()
}

/// The statement of the `parts` in `mask` (bit `i` for `OPTIONAL_PARTS[i]`): the last
/// as the main statement, the others as CTEs.
fn statement_sql(mask: usize, parts: &[usize]) -> String {
    let included: Vec<usize> = parts
        .iter()
        .copied()
        .filter(|&p| part_in(mask, p))
        .collect();
    let (main, ctes) = included
        .split_last()
        .expect("a statement's last part is never optional");
    let mut used = 1;
    let mut with = Vec::new();
    for &i in ctes {
        let (name, sql) = ROW_STATEMENTS[i];
        let (renumbered, params) = renumber(sql, used);
        used += params;
        with.push(format!("{name} AS ({renumbered})"));
    }
    let (main, _) = renumber(ROW_STATEMENTS[*main].1, used);
    if with.is_empty() {
        main
    } else {
        format!("WITH {} {main}", with.join(", "))
    }
}

fn part_in(mask: usize, part: usize) -> bool {
    OPTIONAL_PARTS
        .iter()
        .position(|&optional| optional == part)
        .is_none_or(|bit| mask & (1 << bit) != 0)
}

/// `sql` (a statement of `statement_sql`) with the ledger's shared advisory lock taken
/// first: the ledger parameter `$1` is read through a materialized CTE that takes the
/// lock, and the lock key becomes the last parameter.
fn locked_inside(sql: &str) -> String {
    let mut last = 0;
    let body = map_params(sql, |n, out| {
        last = last.max(n);
        if n == 1 {
            out.push_str("(SELECT $1::text FROM lk)");
        } else {
            out.push_str(&format!("${n}"));
        }
    });
    let lock = format!(
        "lk AS MATERIALIZED (SELECT pg_advisory_xact_lock_shared(${}))",
        last + 1
    );
    match body.strip_prefix("WITH ") {
        Some(ctes) => format!("WITH {lock}, {ctes}"),
        None => format!("WITH {lock} {body}"),
    }
}

/// Every statement a pipelined group of journal entries may send, in any form.
pub(super) fn pipelined_statements() -> impl Iterator<Item = &'static str> {
    [
        &*GROUP_SQL,
        &*ONE_SQL,
        &*BEHIND_LOG_SQL,
        &*BEHIND_UPSERT_SQL,
        &*COPIED_UPSERT_SQL,
    ]
    .into_iter()
    .flatten()
    .chain(COPIED_LOG_SQL.iter().flatten())
    .map(String::as_str)
    .chain([super::reporting::CLOSE_MONTHS, COPY_EVENTS])
}

/// `sql` with its parameters `$2`, `$3`, … moved up to follow the `used` parameters of
/// the statements before it (`$1`, the ledger, is shared); also how many it adds.
fn renumber(sql: &str, used: usize) -> (String, usize) {
    let mut added = 0;
    let out = map_params(sql, |n, out| {
        if n == 1 {
            out.push_str("$1");
        } else {
            out.push_str(&format!("${}", used + n - 1));
            added = added.max(n - 1);
        }
    });
    (out, added)
}

/// `sql` with each parameter `$n` replaced by what `write` appends for `n`.
fn map_params(sql: &str, mut write: impl FnMut(usize, &mut String)) -> String {
    let mut out = String::with_capacity(sql.len() * 2);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - at - 1);
        let n: usize = rest[at + 1..at + 1 + digits]
            .parse()
            .expect("a parameter number follows $");
        write(n, &mut out);
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    out
}

/// A statement's parameters: the ledger (`$1`), then each part's columns in order.
pub(super) fn params<'a>(
    ledger: &'a &'a str,
    parts: &[&[&'a (dyn ToSql + Sync)]],
) -> Vec<&'a (dyn ToSql + Sync)> {
    let mut all: Vec<&(dyn ToSql + Sync)> = vec![ledger];
    for part in parts {
        all.extend_from_slice(part);
    }
    all
}

/// Writes a pipelined group's rows in `form`, leaving out the optional parts it has
/// no rows for.
pub(super) async fn write_group(
    client: &ClientWrapper,
    ledger: &LedgerId,
    plan: &Plan,
    form: GroupForm,
) -> Result<(), StoreError> {
    let l = ledger.as_str();
    let lock_key = super::load::lock_key(ledger);
    let (levels, idxs, hashes) = crate::store::merkle::stored_columns(&plan.merkle_nodes);
    let keys = IdempotencyColumns::from(plan);
    let balances = BalanceColumns::from(plan);
    let (periods, buckets) = super::reporting::sum_columns(plan);
    // A copied group streams its events instead: their columns would go unused.
    let events = (form != GroupForm::Copied).then(|| EventColumns::from(plan));
    let nodes: [&(dyn ToSql + Sync); 3] = [&levels, &idxs, &hashes];
    let (keys, balances, periods, buckets, events) = (
        keys.params(),
        balances.params(),
        periods.params(),
        buckets.params(),
        events.as_ref().map(EventColumns::params),
    );
    let events: &[&(dyn ToSql + Sync)] = events.as_ref().map_or(&[], |e| e);
    let parts: [&[&(dyn ToSql + Sync)]; 6] = [&nodes, &keys, &balances, &periods, &buckets, events];
    let has_rows = [
        !plan.merkle_nodes.is_empty(),
        !plan.idempotency.is_empty(),
        !plan.closed_buckets.is_empty(),
    ];
    let mask = has_rows
        .iter()
        .enumerate()
        .fold(0, |mask, (bit, &rows)| mask | (usize::from(rows) << bit));
    let params_of = |of: &[usize]| {
        let included: Vec<&[&(dyn ToSql + Sync)]> = of
            .iter()
            .filter(|&&i| part_in(mask, i))
            .map(|&i| parts[i])
            .collect();
        params(&l, &included)
    };
    match form {
        GroupForm::Alone => {
            client
                .execute(
                    &client.prepare_cached(&GROUP_SQL[mask]).await?,
                    &params_of(&ALL_PARTS),
                )
                .await?;
        }
        GroupForm::One => {
            let mut params = params_of(&ALL_PARTS);
            params.push(&lock_key);
            client
                .execute(&client.prepare_cached(&ONE_SQL[mask]).await?, &params)
                .await?;
        }
        GroupForm::Behind => {
            let (log, upserts) = (params_of(&LOG_PARTS), params_of(&UPSERT_PARTS));
            // Both prepared: sent in this order as try_join first polls them.
            let (log_sql, upsert_sql) = futures_util::try_join!(
                client.prepare_cached(&BEHIND_LOG_SQL[mask]),
                client.prepare_cached(&BEHIND_UPSERT_SQL[mask])
            )?;
            futures_util::try_join!(
                client.execute(&log_sql, &log),
                client.execute(&upsert_sql, &upserts)
            )?;
        }
        GroupForm::Copied => {
            let (log, upserts) = (
                params_of(&COPIED_LOG_PARTS),
                params_of(&COPIED_UPSERT_PARTS),
            );
            let log_sql = async {
                match &COPIED_LOG_SQL[mask] {
                    Some(sql) => client.prepare_cached(sql).await.map(Some),
                    None => Ok(None),
                }
            };
            let (log_sql, copy_sql, upsert_sql) = futures_util::try_join!(
                log_sql,
                client.prepare_cached(COPY_EVENTS),
                client.prepare_cached(&COPIED_UPSERT_SQL[mask])
            )?;
            // Prepared, so sent in this order as try_join first polls them; and the
            // connection sends nothing else until the COPY ends, so the upserts
            // follow the events however the futures are polled after that.
            let log_rows = async {
                match &log_sql {
                    Some(sql) => Ok(client.execute(sql, &log).await?),
                    None => Ok(0),
                }
            };
            futures_util::try_join!(log_rows, copy_events(client, &copy_sql, l, plan), async {
                Ok(client.execute(&upsert_sql, &upserts).await?)
            })?;
        }
    }
    Ok(())
}

/// Streams the plan's events with `COPY_EVENTS`, encoded whole before the COPY starts
/// (`copy_data`), so that a value that cannot be encoded stops the group before
/// anything of it is sent. If the COPY fails, dropping the sink ends it with CopyFail:
/// the server aborts the transaction, and the COMMIT sent behind it becomes a ROLLBACK.
async fn copy_events(
    client: &ClientWrapper,
    statement: &tokio_postgres::Statement,
    ledger: &str,
    plan: &Plan,
) -> Result<(), StoreError> {
    let data = copy_data(ledger, plan)?;
    let sink = client.copy_in::<_, bytes::Bytes>(statement).await?;
    futures_util::pin_mut!(sink);
    sink.send(data.freeze()).await?;
    sink.finish().await?;
    Ok(())
}

/// The binary COPY stream's header: its signature, no flags, no header extension.
const COPY_HEADER: &[u8; 19] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// What a row of `COPY_EVENTS` takes besides its ledger and canonical text: the field
/// count, nine lengths, the fixed-size values (seq, id, recorded_at, reverses), two
/// hashes in hex, and up to 64 bytes of event type. A longer type only grows the buffer.
const COPY_ROW_BYTES: usize = 2 + 9 * 4 + 8 + 16 + 8 + 16 + 2 * 64 + 64;

/// The plan's events as one binary COPY stream (header, a row per event in
/// `COPY_EVENT_TYPES`, trailer), in one buffer sized for it. Each value is encoded by
/// its `ToSql`, as the statement's parameters would be.
fn copy_data(ledger: &str, plan: &Plan) -> Result<BytesMut, StoreError> {
    let size = plan
        .events
        .iter()
        .map(|(e, _)| COPY_ROW_BYTES + ledger.len() + e.canonical.len())
        .sum::<usize>();
    let mut out = BytesMut::with_capacity(COPY_HEADER.len() + size + 2);
    out.put_slice(COPY_HEADER);
    for (e, _) in &plan.events {
        let (prev, hash) = (e.prev_hash.hex_digits(), e.hash.hex_digits());
        let ascii = |digits| std::str::from_utf8(digits).expect("hex digits are ASCII");
        let row: [&(dyn ToSql + Sync); 9] = [
            &ledger,
            &(e.seq as i64),
            &e.id,
            &e.type_name,
            &e.recorded_at,
            &ascii(&prev),
            &ascii(&hash),
            &e.canonical,
            &e.reverses,
        ];
        out.put_i16(row.len() as i16);
        for (value, ty) in row.into_iter().zip(&COPY_EVENT_TYPES) {
            let at = out.len();
            out.put_i32(0);
            let encoded = value.to_sql_checked(ty, &mut out);
            let encoded =
                encoded.map_err(|e| StoreError::Other(format!("encoding an event: {e}")))?;
            let length = match encoded {
                IsNull::Yes => -1,
                IsNull::No => i32::try_from(out.len() - at - 4)
                    .map_err(|_| StoreError::Other("an event value beyond 2 GiB".into()))?,
            };
            out[at..at + 4].copy_from_slice(&length.to_be_bytes());
        }
    }
    out.put_i16(-1);
    Ok(out)
}

/// The `ledgers` row of a batch that creates the ledger (seq 1). Not a projection (the
/// database refuses to change it, like the log). The writer awaits it before the rest,
/// since accounts reference it.
pub(super) async fn insert_ledger(
    client: &ClientWrapper,
    ledger: &LedgerId,
    plan: &Plan,
) -> Result<(), StoreError> {
    for (event, body) in &plan.events {
        if let EventBody::LedgerCreated {
            name,
            base_currency,
        } = body
        {
            let code = base_currency.code().as_str();
            client
                .execute(
                    &client.prepare_cached(INSERT_LEDGER).await?,
                    &[&ledger.as_str(), name, &code, &event.recorded_at],
                )
                .await?;
        }
    }
    Ok(())
}

/// Appends the batch to the log: its events and idempotency records, and the Merkle
/// nodes they complete, pipelined. Anything append-only that the database refuses to
/// delete belongs here, not in `write_projections`: a rebuild deletes and rewrites
/// every projection.
pub(super) async fn write_log(
    client: &ClientWrapper,
    ledger: &LedgerId,
    plan: &Plan,
) -> Result<(), StoreError> {
    futures_util::try_join!(
        crate::store::merkle::insert(client, ledger, &plan.merkle_nodes),
        insert_events(client, ledger, plan),
        insert_keys(client, ledger, plan),
    )?;
    Ok(())
}

/// The events of the batch, in one statement (its chain check waits for the
/// transaction before it to commit).
async fn insert_events(
    client: &ClientWrapper,
    ledger: &LedgerId,
    plan: &Plan,
) -> Result<(), StoreError> {
    if plan.events.is_empty() {
        return Ok(());
    }
    let l = ledger.as_str();
    let events = EventColumns::from(plan);
    client
        .execute(
            &client.prepare_cached(INSERT_EVENTS).await?,
            &params(&l, &[&events.params()]),
        )
        .await?;
    Ok(())
}

/// The responses stored under the batch's idempotency keys.
async fn insert_keys(
    client: &ClientWrapper,
    ledger: &LedgerId,
    plan: &Plan,
) -> Result<(), StoreError> {
    let keys = IdempotencyColumns::from(plan);
    if keys.key.is_empty() {
        return Ok(());
    }
    client
        .execute(
            &client.prepare_cached(INSERT_IDEMPOTENCY).await?,
            &params(&ledger.as_str(), &[&keys.params()]),
        )
        .await?;
    Ok(())
}

/// Writes every projection the events of `plan` change, from those events and from
/// `state` as it is after them: accounts, closes and balances here, then the
/// reporting projections (rates, currencies, balance history) and the commerce ones
/// (products, stock, orders, sales). The writer calls it after each decided batch;
/// `store::rebuild` calls it for each chunk of the replayed log, so a projection
/// written here is rebuilt with no other change. The three groups have no foreign
/// keys between them, so they are pipelined.
pub(crate) async fn write_projections(
    client: &ClientWrapper,
    state: &LedgerState,
    plan: &Plan,
) -> Result<(), StoreError> {
    futures_util::try_join!(
        write_entry_projections(client, &state.ledger, plan),
        super::commerce::persist(client, state, plan),
    )?;
    Ok(())
}

/// The projections of everything but commerce: accounts, closes, balances, rates,
/// currencies and balance history.
async fn write_entry_projections(
    client: &ClientWrapper,
    ledger: &LedgerId,
    plan: &Plan,
) -> Result<(), StoreError> {
    if plan.events.is_empty() {
        return Ok(());
    }
    futures_util::try_join!(
        write_accounts(client, ledger, plan),
        super::reporting::persist(client, ledger, plan),
    )?;
    Ok(())
}

async fn write_accounts(
    client: &ClientWrapper,
    ledger: &LedgerId,
    plan: &Plan,
) -> Result<(), StoreError> {
    let l = ledger.as_str();
    let accounts = AccountColumns::from(plan);
    let balances = BalanceColumns::from(plan);
    // Closes and balances reference the accounts, so the accounts go first, on their
    // own: pipelined, an insert still being prepared on this connection would be
    // overtaken by statements prepared before it. (Only batches that open accounts pay
    // the round trip.) Closes and balances are then pipelined together.
    let insert_accounts = async {
        if accounts.code.is_empty() {
            return Ok(0);
        }
        client
            .execute(
                &client.prepare_cached(INSERT_ACCOUNTS).await?,
                &[
                    &l,
                    &accounts.code,
                    &accounts.kind,
                    &accounts.currency,
                    &accounts.seq,
                    &accounts.flags,
                ],
            )
            .await
    };
    let close_accounts = async {
        if accounts.closed.is_empty() {
            return Ok(0);
        }
        client
            .execute(
                &client.prepare_cached(CLOSE_ACCOUNTS).await?,
                &[&l, &accounts.closed, &accounts.closed_seq],
            )
            .await
    };
    let upsert_balances = async {
        if balances.account.is_empty() {
            return Ok(0);
        }
        client
            .execute(
                &client.prepare_cached(UPSERT_BALANCES).await?,
                &params(&l, &[&balances.params()]),
            )
            .await
    };
    insert_accounts.await?;
    futures_util::try_join!(close_accounts, upsert_balances)?;
    Ok(())
}

#[derive(Default)]
struct EventColumns<'a> {
    seq: Vec<i64>,
    id: Vec<Uuid>,
    kind: Vec<&'a str>,
    recorded_at: Vec<DateTime<Utc>>,
    prev_hash: Vec<String>,
    hash: Vec<String>,
    canonical: Vec<&'a str>,
    reverses: Vec<Option<Uuid>>,
}

impl EventColumns<'_> {
    /// `INSERT_EVENTS`'s parameters after the ledger, in order.
    fn params(&self) -> [&(dyn ToSql + Sync); 8] {
        [
            &self.seq,
            &self.id,
            &self.kind,
            &self.recorded_at,
            &self.prev_hash,
            &self.hash,
            &self.canonical,
            &self.reverses,
        ]
    }
}

impl<'a> From<&'a Plan> for EventColumns<'a> {
    fn from(plan: &'a Plan) -> Self {
        let mut c = Self::default();
        for (e, _) in &plan.events {
            c.seq.push(e.seq as i64);
            c.id.push(e.id);
            c.kind.push(e.type_name);
            c.recorded_at.push(e.recorded_at);
            c.prev_hash.push(e.prev_hash.to_hex());
            c.hash.push(e.hash.to_hex());
            c.canonical.push(&e.canonical);
            c.reverses.push(e.reverses);
        }
        c
    }
}

#[derive(Default)]
struct AccountColumns<'a> {
    code: Vec<&'a str>,
    kind: Vec<&'a str>,
    currency: Vec<Option<&'a str>>,
    seq: Vec<i64>,
    flags: Vec<String>,
    closed: Vec<&'a str>,
    closed_seq: Vec<i64>,
}

impl<'a> From<&'a Plan> for AccountColumns<'a> {
    fn from(plan: &'a Plan) -> Self {
        let mut c = Self::default();
        for (e, body) in &plan.events {
            match body {
                EventBody::AccountOpened {
                    code,
                    account_type,
                    currency,
                    flags,
                } => {
                    c.code.push(code.as_str());
                    c.kind.push(account_type.as_str());
                    c.currency
                        .push(currency.as_ref().map(|c| c.code().as_str()));
                    c.seq.push(e.seq as i64);
                    c.flags.push(flags.names().join(","));
                }
                EventBody::AccountClosed { code } => {
                    c.closed.push(code.as_str());
                    c.closed_seq.push(e.seq as i64);
                }
                _ => {}
            }
        }
        c
    }
}

/// Balance changes summed per account and currency over the batch: one row each.
#[derive(Default)]
struct BalanceColumns<'a> {
    account: Vec<&'a str>,
    currency: Vec<&'a str>,
    debits: Vec<Decimal>,
    credits: Vec<Decimal>,
    last_seq: Vec<i64>,
}

impl BalanceColumns<'_> {
    /// `UPSERT_BALANCES`'s parameters after the ledger, in order.
    fn params(&self) -> [&(dyn ToSql + Sync); 5] {
        [
            &self.account,
            &self.currency,
            &self.debits,
            &self.credits,
            &self.last_seq,
        ]
    }
}

impl<'a> From<&'a Plan> for BalanceColumns<'a> {
    fn from(plan: &'a Plan) -> Self {
        let mut sums: foldhash::HashMap<(&str, &str), (Decimal, Decimal, i64)> =
            foldhash::HashMap::default();
        for (e, body) in &plan.events {
            for p in body.postings() {
                let key = (p.account().as_str(), p.currency().code().as_str());
                let (debits, credits, last) = sums.entry(key).or_default();
                match p.side() {
                    Side::Debit => *debits += p.amount().value(),
                    Side::Credit => *credits += p.amount().value(),
                }
                *last = e.seq as i64;
            }
        }
        // In key order: two groups in flight upsert shared rows in the same order.
        let mut sums: Vec<_> = sums.into_iter().collect();
        sums.sort_unstable_by_key(|(key, _)| *key);
        let mut c = Self::default();
        for ((account, currency), (debits, credits, last)) in sums {
            c.account.push(account);
            c.currency.push(currency);
            c.debits.push(debits);
            c.credits.push(credits);
            c.last_seq.push(last);
        }
        c
    }
}

#[derive(Default)]
struct IdempotencyColumns<'a> {
    key: Vec<&'a str>,
    hash: Vec<&'a str>,
    status: Vec<i16>,
    response: Vec<&'a str>,
}

impl IdempotencyColumns<'_> {
    /// `INSERT_IDEMPOTENCY`'s parameters after the ledger, in order.
    fn params(&self) -> [&(dyn ToSql + Sync); 4] {
        [&self.key, &self.hash, &self.status, &self.response]
    }
}

impl<'a> From<&'a Plan> for IdempotencyColumns<'a> {
    fn from(plan: &'a Plan) -> Self {
        let mut c = Self::default();
        for (idem, rendered) in &plan.idempotency {
            c.key.push(&idem.key);
            c.hash.push(&idem.request_hash);
            c.status.push(rendered.status as i16);
            c.response.push(&rendered.body);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renumbering_moves_every_parameter_but_the_ledger() {
        let (sql, added) = renumber("SELECT $1, $2::int8[], $10, $3 FROM t WHERE a = $2", 4);
        assert_eq!(sql, "SELECT $1, $5::int8[], $13, $6 FROM t WHERE a = $5");
        assert_eq!(added, 9);
    }

    /// The parameters `$1` to `$n` of a statement, each at least once.
    fn parameters(sql: &str) -> std::collections::BTreeSet<usize> {
        let mut seen = std::collections::BTreeSet::new();
        let mut rest = sql;
        while let Some(at) = rest.find('$') {
            let digits: String = rest[at + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            seen.insert(digits.parse::<usize>().unwrap());
            rest = &rest[at + 1..];
        }
        seen
    }

    #[test]
    fn each_group_statement_takes_the_parameters_of_exactly_its_parts() {
        assert_eq!(GROUP_SQL.len(), 8);
        assert_eq!(parameters(&GROUP_SQL[7]), (1..=33).collect());
        for (mask, sql) in GROUP_SQL.iter().enumerate() {
            let mut expected = 1;
            for (i, (name, part)) in ROW_STATEMENTS.iter().enumerate() {
                let included = part_in(mask, i);
                assert_eq!(
                    sql.contains(&format!("{name} AS (")),
                    included && name != &"events"
                );
                if included {
                    expected += renumber(part, 1).1;
                }
            }
            assert_eq!(parameters(sql), (1..=expected).collect(), "{sql}");
            assert!(sql.contains("INSERT INTO events"), "{sql}");
        }
        // Nodes, keys and buckets are the parts left out.
        assert_eq!(parameters(&GROUP_SQL[0]).len(), 33 - 3 - 4 - 6);
    }

    /// A group of one statement reads the ledger only through the lock's CTE (so no
    /// part writes a row before the lock is held) and takes the lock key last.
    #[test]
    fn a_group_of_one_statement_takes_the_ledger_lock_before_any_row() {
        assert_eq!(ONE_SQL.len(), GROUP_SQL.len());
        for (group, one) in GROUP_SQL.iter().zip(ONE_SQL.iter()) {
            let key = parameters(group).len() + 1;
            assert_eq!(parameters(one), (1..=key).collect(), "{one}");
            assert!(one.starts_with(&format!(
                "WITH lk AS MATERIALIZED (SELECT pg_advisory_xact_lock_shared(${key})), "
            )));
            // Every `$1` reads the CTE; `$10`–`$19` are other parameters.
            let ledger_reads = |sql: &str| {
                sql.match_indices("$1")
                    .filter(|(at, _)| !sql[at + 2..].starts_with(|c: char| c.is_ascii_digit()))
                    .count()
            };
            assert_eq!(ledger_reads(one), ledger_reads(group), "{one}");
            assert_eq!(
                ledger_reads(one),
                one.matches("(SELECT $1::text FROM lk)").count()
            );
        }
        assert_eq!(
            locked_inside("INSERT INTO t SELECT $1, * FROM unnest($2::int8[], $12::text[])"),
            "WITH lk AS MATERIALIZED (SELECT pg_advisory_xact_lock_shared($13)) \
             INSERT INTO t SELECT (SELECT $1::text FROM lk), * FROM unnest($2::int8[], $12::text[])"
        );
    }

    /// Behind another group, the two statements split the parts between them: the
    /// log's rows in the first (the events insert its main statement, so its chain
    /// check runs), every upsert in the second; each takes exactly its parts'
    /// parameters, in the order `write_group` passes them.
    #[test]
    fn a_group_behind_another_writes_its_log_then_its_upserts() {
        for mask in 0..8 {
            let (log, upserts) = (&BEHIND_LOG_SQL[mask], &BEHIND_UPSERT_SQL[mask]);
            for (i, (name, part)) in ROW_STATEMENTS.iter().enumerate() {
                let table = part.split_whitespace().nth(2).unwrap();
                let into = format!("INSERT INTO {table} ");
                let (mine, other) = if LOG_PARTS.contains(&i) {
                    (log, upserts)
                } else {
                    (upserts, log)
                };
                assert_eq!(mine.contains(&into), part_in(mask, i), "{name}: {mine}");
                assert!(!other.contains(&into), "{name}: {other}");
            }
            // Nothing before the chain check waits for a row another group holds.
            assert!(!log.contains("ON CONFLICT"), "{log}");
            // The events insert is the main statement, with the last parameters.
            assert!(log.ends_with(&renumber(INSERT_EVENTS, parameters(log).len() - 8).0));
            for (sql, parts) in [(log, &LOG_PARTS[..]), (upserts, &UPSERT_PARTS[..])] {
                let mut expected = 1;
                for &i in parts.iter().filter(|&&i| part_in(mask, i)) {
                    expected += renumber(ROW_STATEMENTS[i].1, 1).1;
                }
                assert_eq!(parameters(sql), (1..=expected).collect(), "{sql}");
            }
        }
    }

    /// The COPY stream of a plan reads back as its events: the header, one row of
    /// nine fields per event in the insert's columns (NULL as length -1), the trailer.
    #[test]
    fn copy_data_frames_each_event_as_a_row_of_the_insert_columns() {
        use crate::core::event::{now_micros, seal};
        let ledger = LedgerId::parse("acme").unwrap();
        let body = EventBody::AccountClosed {
            code: crate::core::account::AccountCode::parse("assets:cash").unwrap(),
        };
        let first = seal(
            &ledger,
            7,
            Hash::GENESIS,
            Uuid::now_v7(),
            now_micros(),
            &body,
        );
        let second = seal(&ledger, 8, first.hash, Uuid::now_v7(), now_micros(), &body);
        let mut plan = Plan::default();
        for event in [&first, &second] {
            plan.events.push((Arc::new(event.clone()), body.clone()));
        }
        let data = copy_data(ledger.as_str(), &plan).unwrap();
        assert!(data.starts_with(COPY_HEADER));
        let mut at = COPY_HEADER.len();
        let mut take = |n: usize| {
            let bytes = data[at..at + n].to_vec();
            at += n;
            bytes
        };
        for event in [&first, &second] {
            assert_eq!(take(2), 9i16.to_be_bytes());
            let mut fields = Vec::new();
            for _ in 0..9 {
                let length = i32::from_be_bytes(take(4).try_into().unwrap());
                fields.push((length >= 0).then(|| take(length as usize)));
            }
            assert_eq!(fields[0].as_deref(), Some(&b"acme"[..]));
            assert_eq!(
                fields[1].as_deref(),
                Some(&(event.seq as i64).to_be_bytes()[..])
            );
            assert_eq!(fields[2].as_deref(), Some(&event.id.as_bytes()[..]));
            assert_eq!(fields[3].as_deref(), Some(event.type_name.as_bytes()));
            assert_eq!(
                fields[5].as_deref(),
                Some(event.prev_hash.to_hex().as_bytes())
            );
            assert_eq!(fields[6].as_deref(), Some(event.hash.to_hex().as_bytes()));
            assert_eq!(fields[7].as_deref(), Some(event.canonical.as_bytes()));
            assert_eq!(fields[8], None, "no reversal: NULL");
        }
        assert_eq!(take(2), (-1i16).to_be_bytes());
        assert_eq!(at, data.len());
    }

    /// A large group writes its log rows (when it has any) in one statement, streams
    /// its events with COPY, in the columns the insert names, then upserts the rest in
    /// one statement: every part but the events in exactly one of the two, each with
    /// exactly its parts' parameters in the order `write_group` passes them.
    #[test]
    fn a_copied_group_writes_its_log_rows_streams_its_events_then_upserts() {
        let columns = |sql: &str| {
            let open = sql.find('(').unwrap();
            sql[open..=open + sql[open..].find(')').unwrap()].to_string()
        };
        assert_eq!(columns(COPY_EVENTS), columns(INSERT_EVENTS));
        assert_eq!(
            columns(COPY_EVENTS).split(',').count(),
            COPY_EVENT_TYPES.len()
        );
        for mask in 0..8 {
            let log = COPIED_LOG_SQL[mask].as_deref().unwrap_or("");
            let upserts = &COPIED_UPSERT_SQL[mask];
            // Nothing before the chain check waits for a row another group holds.
            assert!(!log.contains("ON CONFLICT"), "{log}");
            for (i, (name, part)) in ROW_STATEMENTS.iter().enumerate() {
                let table = part.split_whitespace().nth(2).unwrap();
                let into = format!("INSERT INTO {table} ");
                let wanted = *name != "events" && part_in(mask, i);
                let in_log = log.contains(&into);
                assert_eq!(in_log || upserts.contains(&into), wanted, "{name}");
                assert!(!(in_log && upserts.contains(&into)), "{name} twice");
                assert_eq!(in_log, wanted && COPIED_LOG_PARTS.contains(&i), "{name}");
            }
            for (sql, parts) in [
                (log, &COPIED_LOG_PARTS[..]),
                (upserts, &COPIED_UPSERT_PARTS[..]),
            ] {
                if sql.is_empty() {
                    assert!(!parts.iter().any(|&i| part_in(mask, i)));
                    continue;
                }
                let mut expected = 1;
                for &i in parts.iter().filter(|&&i| part_in(mask, i)) {
                    expected += renumber(ROW_STATEMENTS[i].1, 1).1;
                }
                assert_eq!(parameters(sql), (1..=expected).collect(), "{sql}");
            }
        }
    }
}
