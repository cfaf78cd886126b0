//! `http-load`: starts the chainbook release binary on a fresh embedded PostgreSQL,
//! drives it over HTTP (one entry per request, then batches), measures a plain-INSERT
//! ceiling on the same database, and prints each throughput as a ratio of that ceiling.
//!
//! Layout: `service` runs the binary, `api` knows the endpoints and the entry bodies,
//! `load` is the closed-loop client, `ceiling` the baseline, `cpu` reads /proc, `wal`
//! the cluster's WAL flush times, `report` the output.

// Shared with the other bench binaries, which use the parts this one does not.
#[allow(dead_code)]
mod api;
mod ceiling;
mod cpu;
mod load;
mod report;
mod service;
mod wal;
mod wire;

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use api::Api;
use ceiling::CeilingResult;
use load::{LoadResult, Scenario};
use report::{ChainCheck, Host, Report};
use service::{BoxError, Service};

#[derive(Debug, Parser)]
#[command(
    name = "http-load",
    about = "Throughput of chainbook against a plain-INSERT ceiling measured in the same run"
)]
struct Args {
    /// The chainbook binary to run (build it with `cargo build --release`).
    #[arg(long, default_value = "target/release/chainbook")]
    bin: PathBuf,
    /// Measured seconds of each scenario and of the ceiling.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
    /// Seconds of unmeasured traffic before each measurement.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(0..=600))]
    warmup_seconds: u64,
    /// Concurrent clients posting one entry per request.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1024))]
    clients: u64,
    /// Concurrent clients posting batches.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    batch_clients: u64,
    /// Entries per batch request (the service takes at most 1000).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=1000))]
    batch_size: u64,
    /// Connections inserting concurrently for the ceiling.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    ceiling_connections: u64,
    /// Ledgers the "spread" scenario's batch clients write to, one writer each.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    spread_ledgers: u64,
    /// Clients of the "spread" scenario, taking the ledgers in turn.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    spread_clients: u64,
    /// Passed to the service as `--pool-size`; its own default if absent.
    #[arg(long)]
    pool_size: Option<usize>,
    /// How long the service may take to start (initdb included).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=1800))]
    startup_timeout_seconds: u64,
    /// Copy the service's stderr here before its temporary folder is removed (run with
    /// RUST_LOG=chainbook=debug to see the writer's batch timings).
    #[arg(long)]
    keep_service_log: Option<PathBuf>,
    /// Print every figure as one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Exit with status 3 when the run missed a design target (≥ 15,000 entries/s one
    /// entry per request, batches ≥ 0.5 of the ceiling).
    #[arg(long)]
    require_targets: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let bin = resolve_bin(&args.bin);
    let timeout = Duration::from_secs(args.startup_timeout_seconds);
    eprintln!("starting {}", bin.display());
    let service = match Service::start(&bin, args.pool_size, timeout).await {
        Ok(service) => service,
        Err(e) => {
            eprintln!("http-load: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "service at {}, data in {}",
        service.base_url,
        service.data_dir().display()
    );
    let outcome = run(&service, &args).await;
    let log_tail = service
        .stop_keeping_log(args.keep_service_log.as_deref())
        .await;
    match outcome {
        Ok(report) => {
            if args.json {
                println!("{:#}", report.to_json());
            } else {
                report.print_table();
            }
            if !report.chain.ok() {
                ExitCode::from(1)
            } else if args.require_targets && report.targets().iter().any(|t| !t.met()) {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("http-load: {e}\n--- service log (tail) ---\n{log_tail}");
            ExitCode::from(2)
        }
    }
}

/// A relative `--bin` that does not exist from here is looked up from the workspace
/// root, so `cargo run -p chainbook-bench` works from any folder of the repository.
fn resolve_bin(bin: &std::path::Path) -> PathBuf {
    if bin.is_absolute() || bin.exists() {
        return bin.to_owned();
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let candidate = root.join(bin);
    if candidate.exists() {
        candidate
    } else {
        bin.to_owned()
    }
}

async fn run(service: &Service, args: &Args) -> Result<Report, BoxError> {
    let connections = (args.clients + args.batch_clients.max(args.spread_clients)) as usize;
    let api = Api::new(&service.base_url, &service.admin_key, connections)?;
    let ledgers = args.spread_ledgers as usize;
    let accounts = api.setup(ledgers).await?;
    let setup_events = api.head_seqs(ledgers).await?;
    eprintln!(
        "setup: {ledgers} ledgers, {accounts} accounts and one entry each; {setup_events} events"
    );
    let warmup = Duration::from_secs(args.warmup_seconds);
    let measure = Duration::from_secs(args.seconds);
    let scenario = |name, clients: u64, entries_per_request: u64, ledgers: usize| Scenario {
        name,
        clients: clients as usize,
        entries_per_request: entries_per_request as usize,
        ledgers,
        warmup,
        measure,
    };
    let pg = service.pg_config();
    wal::enable_timing(&pg).await?;
    let pids = (service.pid(), service.postmaster_pid());
    // The ceiling runs before and after the service's scenarios: the machine drifts
    // during a run, and the two figures show by how much. A checkpoint before each
    // phase keeps one phase from paying for the pages another one dirtied.
    ceiling::checkpoint(&pg).await?;
    let (before, host_before) = observed(&pg, pids, run_ceiling(&pg, args, "before")).await?;
    ceiling::checkpoint(&pg).await?;
    let single_scenario = scenario("single", args.clients, 1, 1);
    let (single, host_single) = observed(&pg, pids, run_scenario(&api, single_scenario)).await?;
    ceiling::checkpoint(&pg).await?;
    let batch_scenario = scenario("batch", args.batch_clients, args.batch_size, 1);
    let (batch, host_batch) = observed(&pg, pids, run_scenario(&api, batch_scenario)).await?;
    ceiling::checkpoint(&pg).await?;
    let spread_scenario = scenario("spread", args.spread_clients, args.batch_size, ledgers);
    let (spread, host_spread) = observed(&pg, pids, run_scenario(&api, spread_scenario)).await?;
    ceiling::checkpoint(&pg).await?;
    let (after, host_after) = observed(&pg, pids, run_ceiling(&pg, args, "after")).await?;
    let chain = ChainCheck {
        head_seq: api.head_seqs(ledgers).await?,
        setup_events,
        entries_acknowledged: single.entries_acknowledged
            + batch.entries_acknowledged
            + spread.entries_acknowledged,
        unanswered_requests: unanswered(&single) + unanswered(&batch) + unanswered(&spread),
    };
    Ok(Report {
        warmup_seconds: args.warmup_seconds,
        seconds: args.seconds,
        ceilings: [before, after],
        host: [
            host_before,
            host_single,
            host_batch,
            host_spread,
            host_after,
        ],
        single,
        batch,
        spread,
        chain,
    })
}

async fn run_ceiling(pg: &str, args: &Args, when: &str) -> Result<CeilingResult, BoxError> {
    let connections = args.ceiling_connections as usize;
    eprintln!(
        "insert ceiling ({when}): {connections} connections for {} s",
        args.seconds
    );
    let warmup = Duration::from_secs(args.warmup_seconds);
    ceiling::run(pg, connections, warmup, Duration::from_secs(args.seconds)).await
}

/// Runs one phase and reports what the machine did meanwhile: the cores each process
/// kept busy, and the cluster's WAL flushes.
async fn observed<T>(
    pg: &str,
    (service, postmaster): (Option<u32>, Option<u32>),
    phase: impl Future<Output = Result<T, BoxError>>,
) -> Result<(T, Host), BoxError> {
    let wal_start = wal::sample(pg).await?;
    let start = cpu::sample(service, postmaster);
    let value = phase.await?;
    let cpu = cpu::between(start, cpu::sample(service, postmaster));
    let wal = wal::between(wal_start, wal::sample(pg).await?);
    Ok((value, Host { cpu, wal }))
}

async fn run_scenario(api: &Api, scenario: Scenario) -> Result<LoadResult, BoxError> {
    eprintln!(
        "{}: {} clients × {} entries per request over {} ledger(s) for {} s (+{} s warmup)",
        scenario.name,
        scenario.clients,
        scenario.entries_per_request,
        scenario.ledgers,
        scenario.measure.as_secs(),
        scenario.warmup.as_secs()
    );
    load::run(api, scenario).await
}

/// Requests that were sent but never answered: the service may have written them.
fn unanswered(load: &LoadResult) -> u64 {
    ["timeout", "transport"]
        .iter()
        .filter_map(|kind| load.errors.get(*kind))
        .sum()
}
