//! `rebuild-speed`: how fast `chainbook rebuild` replays a ledger's log. Fills a ledger
//! through the batch endpoint of the release service (two-posting entries spread over
//! 20 accounts and `--days` effective dates), then runs the release binary's `rebuild`
//! against the service's cluster and prints events replayed per second, beside the
//! baseline measured in the same run: one plain `SELECT canonical FROM events … ORDER
//! BY seq` of the same rows (timed before and after the rebuilds). The database is
//! vacuumed and checkpointed after the fill, before anything is timed.

#[path = "../api.rs"]
#[allow(dead_code)]
mod api;
#[path = "../service.rs"]
#[allow(dead_code)]
mod service;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};

use api::Api;
use service::{BoxError, Service};

#[derive(Debug, Parser)]
#[command(
    name = "rebuild-speed",
    about = "Events per second replayed by `chainbook rebuild`, against a plain read of the log"
)]
struct Args {
    /// The chainbook binary to run (build it with `cargo build --release`).
    #[arg(long, default_value = "target/release/chainbook")]
    bin: PathBuf,
    /// Events to fill the ledger with (entries, 1,000 per batch request).
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1_000..=10_000_000))]
    events: u64,
    /// Days the entries' effective dates spread over (1: all on one day).
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u64).range(1..=36_500))]
    days: u64,
    /// Concurrent clients filling the ledger.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    fill_clients: u64,
    /// `chainbook rebuild --chunk-events` values, each rebuilt in turn (20000 is the
    /// command's default).
    #[arg(long, value_delimiter = ',', default_value = "20000,2000")]
    chunk_events: Vec<u64>,
    /// Append each rebuild's stderr, run with RUST_LOG=chainbook=debug (timings per
    /// chunk: parse, apply, write), to this file.
    #[arg(long)]
    rebuild_log: Option<PathBuf>,
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=1800))]
    startup_timeout_seconds: u64,
}

/// Entries per batch request (the service takes at most 1,000).
const BATCH: u64 = 1_000;

fn batch_body(first: u64, days: u64) -> Vec<u8> {
    let entries: Vec<Value> = (first..first + BATCH)
        .map(|n| {
            let mut e = api::entry((n % 13) as usize, n);
            let day = (n * 7_919) % days;
            e["effective_date"] = json!(date(day));
            e
        })
        .collect();
    serde_json::to_vec(&json!({"atomic": true, "entries": entries})).expect("JSON")
}

/// 2025-01-01 plus `day` days (a 365-day year repeats; enough for spreading dates).
fn date(day: u64) -> String {
    const MONTHS: [u64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let (year, mut left) = (2025 + day / 365, day % 365);
    let mut month = 0;
    while left >= MONTHS[month] {
        left -= MONTHS[month];
        month += 1;
    }
    format!("{year:04}-{:02}-{:02}", month + 1, left + 1)
}

async fn fill(api: &Api, args: &Args) -> Result<(), BoxError> {
    let batches = args.events.div_ceil(BATCH);
    let next = Arc::new(AtomicU64::new(0));
    let url = api.url(&format!("ledgers/{}/transactions/batch", api::LEDGER));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.fill_clients {
        let (api, url, next, days) = (api.clone(), url.clone(), next.clone(), args.days);
        tasks.push(tokio::spawn(async move {
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches {
                    return Ok::<(), String>(());
                }
                let status = api
                    .post(&url, batch_body(b * BATCH, days))
                    .await
                    .map_err(|e| e.to_string())?;
                if status != 201 {
                    return Err(format!("batch {b} answered {status}"));
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

/// Vacuums and checkpoints after the fill, so that neither autovacuum nor the
/// checkpointer runs during the measurements: a ledger one rebuilds is long settled.
async fn settle(pg: &str) -> Result<(), BoxError> {
    let (client, connection) = tokio_postgres::connect(pg, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let started = Instant::now();
    // One statement each: VACUUM refuses to run in a multi-statement query.
    client.batch_execute("VACUUM (ANALYZE)").await?;
    client.batch_execute("CHECKPOINT").await?;
    eprintln!("vacuumed in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The baseline: one plain read of every event's canonical bytes, in seq order.
async fn read_log(pg: &str) -> Result<(u64, Duration), BoxError> {
    let (client, connection) = tokio_postgres::connect(pg, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let started = Instant::now();
    let rows = client
        .query(
            "SELECT canonical FROM events WHERE ledger_id = $1 ORDER BY seq",
            &[&api::LEDGER],
        )
        .await?;
    let elapsed = started.elapsed();
    let bytes: usize = rows.iter().map(|r| r.get::<_, &str>(0).len()).sum();
    eprintln!("read {} events, {} MB", rows.len(), bytes / 1_000_000);
    Ok((rows.len() as u64, elapsed))
}

/// Runs `chainbook rebuild` and returns (events replayed, seconds replaying, seconds
/// of the whole process) from its summary line.
async fn rebuild(args: &Args, pg: &str, chunk: u64) -> Result<(u64, f64, f64), BoxError> {
    let started = Instant::now();
    let level = if args.rebuild_log.is_some() {
        "chainbook=debug"
    } else {
        "warn"
    };
    let out = tokio::process::Command::new(&args.bin)
        .args(["rebuild", "--ledger", api::LEDGER, "--chunk-events"])
        .arg(chunk.to_string())
        .env("DATABASE_URL", pg)
        .env("RUST_LOG", level)
        .output()
        .await?;
    let wall = started.elapsed().as_secs_f64();
    if let Some(path) = &args.rebuild_log {
        use std::io::Write;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        log.write_all(&out.stderr)?;
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.code() != Some(0) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("rebuild exited {}: {stdout}{stderr}", out.status).into());
    }
    // "ledger bench: N events replayed in S s (R events/s), T s in all"
    let line = stdout
        .lines()
        .find(|l| l.contains(" events replayed in "))
        .ok_or("no summary line")?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let events: u64 = words[2].parse()?;
    let seconds: f64 = words[6].parse()?;
    eprint!("{stdout}");
    Ok((events, seconds, wall))
}

async fn run(service: &Service, args: &Args) -> Result<(), BoxError> {
    let api = Api::new(
        &service.base_url,
        &service.admin_key,
        args.fill_clients as usize,
    )?;
    api.setup(1).await?;
    fill(&api, args).await?;
    let pg = service.pg_config();
    settle(&pg).await?;
    // One unmeasured read warms the cache for everyone; the baseline is then taken
    // before and after the rebuild.
    read_log(&pg).await?;
    let (rows, before) = read_log(&pg).await?;
    let mut rebuilt = Vec::new();
    for chunk in &args.chunk_events {
        rebuilt.push((chunk, rebuild(args, &pg, *chunk).await?));
    }
    let (_, after) = read_log(&pg).await?;
    let read = (before + after).as_secs_f64() / 2.0;
    let read_rate = rows as f64 / read;
    println!(
        "ledger: {rows} events, effective dates over {} days; read before {:.2} s, after {:.2} s",
        args.days,
        before.as_secs_f64(),
        after.as_secs_f64()
    );
    let row = |phase: &str, seconds: f64, events: u64| {
        let rate = events as f64 / seconds;
        println!(
            "{phase:<44} {seconds:>8.2} {rate:>12.0} {:>8.3}",
            rate / read_rate
        );
    };
    println!(
        "{:<44} {:>8} {:>12} {:>8}",
        "phase", "seconds", "events/s", "÷ read"
    );
    row("read (SELECT canonical … ORDER BY seq)", read, rows);
    for (chunk, (events, replay, wall)) in rebuilt {
        row(
            &format!("rebuild, chunks of {chunk}: replay"),
            replay,
            events,
        );
        row(
            &format!("rebuild, chunks of {chunk}: whole command"),
            wall,
            events,
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = Args::parse();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    if !args.bin.exists() {
        args.bin = root.join(&args.bin);
    }
    let timeout = Duration::from_secs(args.startup_timeout_seconds);
    let service = match Service::start(&args.bin, None, timeout).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rebuild-speed: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = run(&service, &args).await;
    let tail = service.log_tail();
    service.stop().await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rebuild-speed: {e}\n--- service log (tail) ---\n{tail}");
            ExitCode::from(2)
        }
    }
}
