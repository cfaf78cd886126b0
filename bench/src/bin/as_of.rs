//! `as-of`: how long a balance query at a past date or seq takes once the ledger holds
//! a million postings. Fills a ledger through the batch endpoint (entries spread over
//! two years of effective dates), then times `GET …/balances?as_of=` and
//! `?as_of_seq=` at random points, beside the plain current-balances read measured in
//! the same run as the baseline.

#[path = "../api.rs"]
#[allow(dead_code)]
mod api;
#[path = "../service.rs"]
#[allow(dead_code)]
mod service;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use api::Api;
use service::{BoxError, Service};

#[derive(Debug, Parser)]
#[command(
    name = "as-of",
    about = "Latency of balances at a past date or seq, against current balances"
)]
struct Args {
    /// The chainbook binary to run (build it with `cargo build --release`).
    #[arg(long, default_value = "target/release/chainbook")]
    bin: PathBuf,
    /// Two-posting entries to fill the ledger with (500,000 = 1,000,000 postings).
    #[arg(long, default_value_t = 500_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    entries: u64,
    /// Days the effective dates spread over.
    #[arg(long, default_value_t = 730, value_parser = clap::value_parser!(u64).range(1..=36_500))]
    days: u64,
    /// Timed queries of each kind.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    queries: u64,
    /// Concurrent clients filling the ledger.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    fill_clients: u64,
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=1800))]
    startup_timeout_seconds: u64,
}

const BATCH: u64 = 1_000;

fn day(n: u64, days: u64) -> String {
    let start = chrono_like_date(2024, 1, 1);
    start.add_days(n % days).to_string()
}

/// A tiny civil-date helper, so the benchmark needs no date crate.
#[derive(Clone, Copy)]
struct Date(i64);

fn chrono_like_date(y: i64, m: i64, d: i64) -> Date {
    // Days from 1970-01-01 (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Date(era * 146_097 + doe - 719_468)
}

impl Date {
    fn add_days(self, n: u64) -> Date {
        Date(self.0 + n as i64)
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

fn batch_body(first: u64, days: u64) -> Vec<u8> {
    let entries: Vec<Value> = (first..first + BATCH)
        .map(|n| {
            let mut e = api::entry((n % 13) as usize, n);
            e["effective_date"] = json!(day(n * 7919, days));
            e
        })
        .collect();
    serde_json::to_vec(&json!({"atomic": true, "entries": entries})).expect("JSON")
}

async fn fill(api: &Api, args: &Args) -> Result<(), BoxError> {
    let batches = args.entries.div_ceil(BATCH);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let url = api.url(&format!("ledgers/{}/transactions/batch", api::LEDGER));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.fill_clients {
        let (api, url, next, days) = (api.clone(), url.clone(), next.clone(), args.days);
        tasks.push(tokio::spawn(async move {
            loop {
                let b = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if b >= batches {
                    return Ok::<(), String>(());
                }
                let status = api
                    .post(&url, batch_body(b * BATCH + 1_000_000, days))
                    .await
                    .map_err(|e| e.to_string())?;
                if status != 201 {
                    return Err(format!("batch {b} answered {status}"));
                }
                if b % 50 == 0 {
                    eprintln!("  filled {} of {} batches", b, batches);
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    eprintln!(
        "filled {} entries in {:.1} s",
        batches * BATCH,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn time(
    client: &reqwest::Client,
    token: &str,
    urls: &[String],
) -> Result<Histogram<u64>, BoxError> {
    let mut h = Histogram::<u64>::new(3)?;
    for url in urls {
        let started = Instant::now();
        let response = client.get(url).bearer_auth(token).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            return Err(format!("{url}: {status} {}", String::from_utf8_lossy(&body)).into());
        }
        h.record(started.elapsed().as_micros() as u64)?;
    }
    Ok(h)
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

async fn run(service: &Service, args: &Args) -> Result<(), BoxError> {
    let api = Api::new(
        &service.base_url,
        &service.admin_key,
        args.fill_clients as usize,
    )?;
    api.setup(1).await?;
    fill(&api, args).await?;
    let head = api.head_seqs(1).await? as u64;
    let client = reqwest::Client::new();
    let base = format!("{}/v1/ledgers/{}/balances", service.base_url, api::LEDGER);
    // Deterministic spread of query points over the history.
    let pick = |i: u64, n: u64| (i.wrapping_mul(2_654_435_761) % n) + 1;
    let current: Vec<String> = (0..args.queries).map(|_| base.clone()).collect();
    let dates: Vec<String> = (0..args.queries)
        .map(|i| format!("{base}?as_of={}", day(pick(i, args.days), args.days)))
        .collect();
    let seqs: Vec<String> = (0..args.queries)
        .map(|i| format!("{base}?as_of_seq={}", pick(i, head)))
        .collect();
    // Warm the caches once, then measure each kind in turn.
    time(
        &client,
        &service.admin_key,
        &current[..10.min(current.len())],
    )
    .await?;
    let now = time(&client, &service.admin_key, &current).await?;
    let by_date = time(&client, &service.admin_key, &dates).await?;
    let by_seq = time(&client, &service.admin_key, &seqs).await?;
    println!(
        "ledger: {head} events, {} postings, effective dates over {} days",
        2 * args.entries,
        args.days
    );
    println!(
        "{:<28} {:>9} {:>9} {:>14}",
        "query (HTTP round trip)", "p50 ms", "p99 ms", "p50 ÷ current"
    );
    for (name, h) in [
        ("current balances", &now),
        ("as_of=<date>", &by_date),
        ("as_of_seq=<seq>", &by_seq),
    ] {
        println!(
            "{name:<28} {:>9.2} {:>9.2} {:>14.2}",
            ms(h, 0.5),
            ms(h, 0.99),
            ms(h, 0.5) / ms(&now, 0.5)
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = if args.bin.exists() {
        args.bin.clone()
    } else {
        root.join(&args.bin)
    };
    let timeout = Duration::from_secs(args.startup_timeout_seconds);
    let service = match Service::start(&bin, None, timeout).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("as-of: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = run(&service, &args).await;
    let tail = service.log_tail();
    service.stop().await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("as-of: {e}\n--- service log (tail) ---\n{tail}");
            ExitCode::from(2)
        }
    }
}
