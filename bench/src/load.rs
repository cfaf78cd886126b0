//! Closed-loop HTTP load: each client sends one request, waits for the answer, and
//! sends the next, until the time is up. Requests started during the warmup are not
//! timed, but the entries they created still count for the chain check at the end.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::api::{self, Api};
use crate::wire::{Connection, Target};

/// A request slower than this counts as an error rather than hanging the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
use crate::service::BoxError;

/// Latencies are recorded in microseconds, from 1 µs up to this (beyond any timeout).
const LATENCY_MAX_US: u64 = 300_000_000;

/// What one scenario sends.
#[derive(Clone, Copy)]
pub struct Scenario {
    pub name: &'static str,
    pub clients: usize,
    /// Entries per request; 1 means the single-entry endpoint, more means a batch.
    pub entries_per_request: usize,
    /// Clients write to ledgers `bench`, `bench-1`, … in turn.
    pub ledgers: usize,
    pub warmup: Duration,
    pub measure: Duration,
}

/// What one client saw.
struct Tally {
    latency_us: Histogram<u64>,
    requests_ok: u64,
    /// Entries acknowledged with 201 over the whole run, warmup included.
    entries_acknowledged: u64,
    errors: BTreeMap<String, u64>,
    last_finish: Instant,
}

/// The figures of one scenario, over the measured window only (errors: whole run).
pub struct LoadResult {
    pub scenario: Scenario,
    pub requests_ok: u64,
    pub entries_ok: u64,
    pub seconds: f64,
    pub entries_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: BTreeMap<String, u64>,
    pub entries_acknowledged: u64,
}

impl LoadResult {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "clients": self.scenario.clients,
            "entries_per_request": self.scenario.entries_per_request,
            "measured_seconds": self.seconds,
            "requests_ok": self.requests_ok,
            "entries_ok": self.entries_ok,
            "entries_per_second": self.entries_per_second,
            "latency_ms": {"p50": self.p50_ms, "p99": self.p99_ms, "max": self.max_ms},
            "errors": self.errors,
            "entries_acknowledged_including_warmup": self.entries_acknowledged,
        })
    }
}

/// Runs every client of `scenario` to the end and merges what they saw.
pub async fn run(api: &Api, scenario: Scenario) -> Result<LoadResult, BoxError> {
    let start = Instant::now();
    let warmup_end = start + scenario.warmup;
    let end = warmup_end + scenario.measure;
    let mut handles = Vec::with_capacity(scenario.clients);
    for client in 0..scenario.clients {
        let api = api.clone();
        handles.push(tokio::spawn(client_loop(
            api,
            api::ledger(client % scenario.ledgers.max(1)),
            client,
            scenario.entries_per_request,
            warmup_end,
            end,
        )));
    }
    let mut merged = Tally::new()?;
    merged.last_finish = warmup_end;
    for handle in handles {
        let tally = handle.await?;
        merged.latency_us.add(&tally.latency_us)?;
        merged.requests_ok += tally.requests_ok;
        merged.entries_acknowledged += tally.entries_acknowledged;
        for (kind, count) in tally.errors {
            *merged.errors.entry(kind).or_default() += count;
        }
        merged.last_finish = merged.last_finish.max(tally.last_finish);
    }
    Ok(summarise(scenario, merged, warmup_end))
}

fn summarise(scenario: Scenario, tally: Tally, warmup_end: Instant) -> LoadResult {
    // The window closes when the last request started inside it has been answered.
    let seconds = tally
        .last_finish
        .duration_since(warmup_end)
        .as_secs_f64()
        .max(1e-9);
    let entries_ok = tally.requests_ok * scenario.entries_per_request as u64;
    let ms = |q: f64| tally.latency_us.value_at_quantile(q) as f64 / 1000.0;
    LoadResult {
        scenario,
        requests_ok: tally.requests_ok,
        entries_ok,
        seconds,
        entries_per_second: entries_ok as f64 / seconds,
        p50_ms: ms(0.50),
        p99_ms: ms(0.99),
        max_ms: tally.latency_us.max() as f64 / 1000.0,
        errors: tally.errors,
        entries_acknowledged: tally.entries_acknowledged,
    }
}

impl Tally {
    fn new() -> Result<Self, BoxError> {
        Ok(Self {
            latency_us: Histogram::new_with_bounds(1, LATENCY_MAX_US, 3)?,
            requests_ok: 0,
            entries_acknowledged: 0,
            errors: BTreeMap::new(),
            last_finish: Instant::now(),
        })
    }
}

/// One client: bounded by `end`, and each request by the client's timeout.
async fn client_loop(
    api: Api,
    ledger: String,
    client: usize,
    per_request: usize,
    warmup_end: Instant,
    end: Instant,
) -> Tally {
    let mut tally = Tally::new().expect("constant histogram bounds are valid");
    let path = if per_request == 1 {
        format!("/v1/ledgers/{ledger}/transactions")
    } else {
        format!("/v1/ledgers/{ledger}/transactions/batch")
    };
    let target = Target::new(api.base_url(), api.authorization());
    let mut connection: Option<Connection> = None;
    let mut n: u64 = 0;
    while Instant::now() < end {
        let body = if per_request == 1 {
            api::entry_body(client, n)
        } else {
            api::batch_body(client, n, per_request)
        };
        n += per_request as u64;
        let started = Instant::now();
        let attempt = async {
            match connection.as_mut() {
                Some(open) => open.post(&target, &path, &body).await,
                None => {
                    let opened = Connection::open(&target).await?;
                    connection.insert(opened).post(&target, &path, &body).await
                }
            }
        };
        let result = tokio::time::timeout(REQUEST_TIMEOUT, attempt)
            .await
            .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
        let finished = Instant::now();
        let measured = started >= warmup_end;
        match result {
            Ok(201) => {
                tally.entries_acknowledged += per_request as u64;
                if measured {
                    tally.requests_ok += 1;
                    let us = finished.duration_since(started).as_micros() as u64;
                    tally.latency_us.saturating_record(us.max(1));
                }
            }
            Ok(status) => *tally.errors.entry(format!("http {status}")).or_default() += 1,
            Err(e) => {
                // The connection's state is unknown: the next request opens a new one.
                connection = None;
                *tally.errors.entry(transport_kind(&e)).or_default() += 1;
            }
        }
        if measured {
            tally.last_finish = finished;
        }
    }
    tally
}

fn transport_kind(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect".into(),
        std::io::ErrorKind::TimedOut => "timeout".into(),
        _ => "transport".into(),
    }
}
