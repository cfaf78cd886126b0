//! The baseline: how fast the same PostgreSQL takes plain multi-row INSERTs of rows
//! shaped like `events`, with only the primary key and none of the service's work
//! (no chain trigger, no hash check, no balances, no HTTP). The service's figures are
//! printed as a fraction of this, so a slow or noisy machine cancels out.

use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio_postgres::{Client, NoTls};
use uuid::Uuid;

use crate::api::LEDGER;
use crate::service::BoxError;

/// Rows per INSERT statement, and so per transaction.
pub const ROWS_PER_STATEMENT: usize = 1_000;
/// Used when the service wrote no entry to copy the size of.
const CANONICAL_BYTES_DEFAULT: usize = 350;
/// Each connection writes its own seq range, this far apart, so keys never collide.
const SEQ_STRIDE: i64 = 1_000_000_000_000;

const CREATE: &str = "CREATE TABLE bench_insert_ceiling (
    ledger_id text NOT NULL, seq bigint NOT NULL, id uuid NOT NULL, type text NOT NULL,
    recorded_at timestamptz NOT NULL, prev_hash text NOT NULL, hash text NOT NULL,
    canonical text NOT NULL, reverses uuid, PRIMARY KEY (ledger_id, seq))";
const INSERT: &str = "INSERT INTO bench_insert_ceiling
    SELECT * FROM unnest($1::text[], $2::int8[], $3::uuid[], $4::text[], $5::timestamptz[],
                         $6::text[], $7::text[], $8::text[], $9::uuid[])";
const DROP: &str = "DROP TABLE IF EXISTS bench_insert_ceiling";
/// The newest posted entry's canonical text: the rows we insert copy its size.
const SAMPLE: &str = "SELECT length(canonical)::int8 FROM events
    WHERE ledger_id = $1 AND type = 'transaction.posted' ORDER BY seq DESC LIMIT 1";

pub struct CeilingResult {
    pub connections: usize,
    pub seconds: f64,
    pub rows: u64,
    pub rows_per_second: f64,
    pub canonical_bytes: usize,
    pub statement_p50_ms: f64,
    pub statement_p99_ms: f64,
}

impl CeilingResult {
    pub fn to_json(&self) -> Value {
        json!({
            "connections": self.connections,
            "rows_per_statement": ROWS_PER_STATEMENT,
            "canonical_bytes": self.canonical_bytes,
            "measured_seconds": self.seconds,
            "rows": self.rows,
            "rows_per_second": self.rows_per_second,
            "statement_latency_ms": {"p50": self.statement_p50_ms, "p99": self.statement_p99_ms},
        })
    }
}

/// A connection to the service's cluster, driven by a task of its own.
pub async fn connect(pg_config: &str) -> Result<Client, BoxError> {
    let (client, connection) = tokio_postgres::connect(pg_config, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("http-load: database connection closed: {e}");
        }
    });
    Ok(client)
}

/// Writes every dirty page out, so that a phase does not pay for the one before it.
pub async fn checkpoint(pg_config: &str) -> Result<(), BoxError> {
    connect(pg_config)
        .await?
        .batch_execute("CHECKPOINT")
        .await?;
    Ok(())
}

/// Creates the scratch table, runs `connections` writers, and drops the table again
/// whether or not the writers succeeded.
pub async fn run(
    pg_config: &str,
    connections: usize,
    warmup: Duration,
    measure: Duration,
) -> Result<CeilingResult, BoxError> {
    let admin = connect(pg_config).await?;
    let sampled = admin
        .query_opt(SAMPLE, &[&LEDGER])
        .await?
        .map(|row| row.get::<_, i64>(0) as usize);
    let canonical_bytes = sampled.unwrap_or(CANONICAL_BYTES_DEFAULT);
    admin.batch_execute(DROP).await?;
    admin.batch_execute(CREATE).await?;
    let result = run_writers(pg_config, connections, canonical_bytes, warmup, measure).await;
    let dropped = admin.batch_execute(DROP).await;
    let (rows, seconds, latency_us) = result?;
    dropped?;
    let ms = |q: f64| latency_us.value_at_quantile(q) as f64 / 1000.0;
    Ok(CeilingResult {
        connections,
        seconds,
        rows,
        rows_per_second: rows as f64 / seconds,
        canonical_bytes,
        statement_p50_ms: ms(0.50),
        statement_p99_ms: ms(0.99),
    })
}

async fn run_writers(
    pg_config: &str,
    connections: usize,
    canonical_bytes: usize,
    warmup: Duration,
    measure: Duration,
) -> Result<(u64, f64, Histogram<u64>), BoxError> {
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        clients.push(connect(pg_config).await?);
    }
    let warmup_end = Instant::now() + warmup;
    let end = warmup_end + measure;
    let handles: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| {
            tokio::spawn(writer(
                client,
                i as i64 * SEQ_STRIDE,
                canonical_bytes,
                warmup_end,
                end,
            ))
        })
        .collect();
    let mut rows = 0;
    let mut last_finish = warmup_end;
    let mut latency_us = Histogram::new_with_bounds(1, 300_000_000, 3)?;
    for handle in handles {
        let (written, finished, histogram) = handle.await??;
        rows += written;
        last_finish = last_finish.max(finished);
        latency_us.add(&histogram)?;
    }
    let seconds = last_finish
        .duration_since(warmup_end)
        .as_secs_f64()
        .max(1e-9);
    Ok((rows, seconds, latency_us))
}

/// One connection inserting statement after statement until `end`. The rows are made
/// once; only seq changes between statements, so the loop measures PostgreSQL, not us.
async fn writer(
    client: Client,
    first_seq: i64,
    canonical_bytes: usize,
    warmup_end: Instant,
    end: Instant,
) -> Result<(u64, Instant, Histogram<u64>), BoxError> {
    let statement = client.prepare(INSERT).await?;
    let rows = Rows::new(canonical_bytes);
    let mut latency_us = Histogram::<u64>::new_with_bounds(1, 300_000_000, 3)?;
    let mut written = 0u64;
    let mut last_finish = warmup_end;
    let mut next_seq = first_seq + 1;
    while Instant::now() < end {
        let seqs: Vec<i64> = (next_seq..next_seq + ROWS_PER_STATEMENT as i64).collect();
        next_seq += ROWS_PER_STATEMENT as i64;
        let recorded_at = vec![SystemTime::now(); ROWS_PER_STATEMENT];
        let started = Instant::now();
        client
            .execute(
                &statement,
                &[
                    &rows.ledger,
                    &seqs,
                    &rows.id,
                    &rows.kind,
                    &recorded_at,
                    &rows.prev_hash,
                    &rows.hash,
                    &rows.canonical,
                    &rows.reverses,
                ],
            )
            .await?;
        let finished = Instant::now();
        if started >= warmup_end {
            written += ROWS_PER_STATEMENT as u64;
            latency_us
                .saturating_record((finished.duration_since(started).as_micros() as u64).max(1));
            last_finish = finished;
        }
    }
    Ok((written, last_finish, latency_us))
}

/// One statement's worth of columns (all but seq and recorded_at, which vary).
struct Rows {
    ledger: Vec<String>,
    id: Vec<Uuid>,
    kind: Vec<String>,
    prev_hash: Vec<String>,
    hash: Vec<String>,
    canonical: Vec<String>,
    reverses: Vec<Option<Uuid>>,
}

impl Rows {
    /// Event-shaped rows: canonical JSON like a posted entry's, padded to the size the
    /// service really stores, and a hash chain over it.
    fn new(canonical_bytes: usize) -> Self {
        let n = ROWS_PER_STATEMENT;
        let mut rows = Rows {
            ledger: vec![LEDGER.to_owned(); n],
            id: Vec::with_capacity(n),
            kind: vec!["transaction.posted".to_owned(); n],
            prev_hash: Vec::with_capacity(n),
            hash: Vec::with_capacity(n),
            canonical: Vec::with_capacity(n),
            reverses: vec![None; n],
        };
        let mut prev = "0".repeat(64);
        for i in 0..n {
            let id = Uuid::new_v4();
            let canonical = canonical_like(i, &id, &prev, canonical_bytes);
            let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
            rows.id.push(id);
            rows.prev_hash
                .push(std::mem::replace(&mut prev, hash.clone()));
            rows.hash.push(hash);
            rows.canonical.push(canonical);
        }
        rows
    }
}

/// A posted entry's canonical JSON, its description padded so the whole is `bytes` long.
fn canonical_like(i: usize, id: &Uuid, prev_hash: &str, bytes: usize) -> String {
    let make = |description: &str| {
        format!(
            concat!(
                r#"{{"data":{{"description":"{}","effective_date":"2026-03-31","metadata":{{}}}},"#,
                r#""id":"{}","ledger":"{}","postings":[{{"account":"assets:till:{:02}","currency":"USD","debit":"{}.00"}},"#,
                r#"{{"account":"income:sales","credit":"{}.00","currency":"USD"}}],"prev_hash":"{}","#,
                r#""recorded_at":"2026-03-31T09:28:52.418916Z","seq":{},"type":"transaction.posted"}}"#
            ),
            description,
            id,
            LEDGER,
            i % 16,
            i % 500,
            i % 500,
            prev_hash,
            i + 1
        )
    };
    let bare = make("bench sale");
    let pad = bytes.saturating_sub(bare.len());
    make(&format!("bench sale{}", " ".repeat(pad)))
}
