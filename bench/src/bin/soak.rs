//! `soak`: whether chainbook holds a steady load for a long time without its memory
//! growing or its latency drifting. Starts the release service with a short checkpoint
//! schedule (so checkpoints are signed throughout), then for `--minutes` posts
//! two-posting entries at a fixed pace (`--rate` entries/s over `--clients` clients,
//! each on its own interval: the load is steady, not saturating) while a follower
//! long-polls the event feed and checks that its seqs are gapless and its hashes
//! linked. Every `--sample-seconds` it reads the service's RSS from /proc.
//!
//! It prints, per minute, the entries acknowledged, errors, p50/p99 latency and the
//! RSS at the minute's end; then RSS after the warm-up against RSS at the end, the
//! first minute's p99 against every later minute's, the checkpoints signed during the
//! run and how far behind the head the follower was when the load stopped. The
//! verdicts ("memory flat", "p99 within 2×") are reported, never enforced: the exit
//! status says only whether the run itself held (see `bench/README.md`).

#[path = "../api.rs"]
#[allow(dead_code)]
mod api;
#[path = "../service.rs"]
#[allow(dead_code)]
mod service;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use api::Api;
use service::{BoxError, Service};

#[derive(Debug, Parser)]
#[command(
    name = "soak",
    about = "Steady load for minutes while checkpoints are signed and a follower reads the \
             feed: service RSS at start and end, p99 per minute against the first"
)]
struct Args {
    /// The chainbook binary to run. By default the `chainbook` beside this executable
    /// when that is a release build, else `$CARGO_TARGET_DIR/release/chainbook`, else
    /// `target/release/chainbook` of the workspace.
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Measured minutes of load (after the warm-up).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1440))]
    minutes: u64,
    /// Seconds in one "minute" of the table; shorten it for smoke runs only.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    minute_seconds: u64,
    /// Seconds of the same load before the first minute, not in the table; the RSS at
    /// its end is the "start" RSS.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=600))]
    warmup_seconds: u64,
    /// Concurrent clients, each posting one entry per request.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1024))]
    clients: u64,
    /// Entries per second over all clients; each client posts on its own fixed
    /// interval (a late answer delays that client's next request, never doubles it).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    rate: u64,
    /// Seconds between samples of the service's RSS (also taken at each minute's end).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    sample_seconds: u64,
    /// Passed to the service: sign a checkpoint once the head is this many events past
    /// the last one.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_every_events: u64,
    /// Passed to the service: …or once the last checkpoint is this old and the head
    /// has moved.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_every_seconds: u64,
    /// How long the follower may take, once the load stops, to reach the head.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    catch_up_seconds: u64,
    /// Passed to the service as `--pool-size`; its own default if absent.
    #[arg(long)]
    pool_size: Option<usize>,
    /// How long the service may take to start (initdb included).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=1800))]
    startup_timeout_seconds: u64,
    /// Copy the service's stderr here before its temporary folder is removed.
    #[arg(long)]
    keep_service_log: Option<PathBuf>,
}

/// Latencies are recorded in microseconds, from 1 µs up to this (beyond any timeout).
const LATENCY_MAX_US: u64 = 300_000_000;
/// Events per page the follower asks for (the service's maximum).
const FOLLOW_PAGE: u64 = 1_000;
/// Seconds a follower's request may wait for new events (long-poll).
const FOLLOW_WAIT_SECONDS: u64 = 10;
/// Checkpoints per page when counting them (the service's maximum).
const CHECKPOINT_PAGE: usize = 1_000;
/// A GET slower than this fails (well beyond the long-poll's wait).
const GET_TIMEOUT_SECONDS: u64 = 60;
/// Verdict thresholds, from the issue.
const RSS_FLAT_RATIO: f64 = 1.5;
const P99_DRIFT_RATIO: f64 = 2.0;
/// More errors than this share of requests means the run itself broke.
const ERROR_SHARE_MAX: f64 = 0.01;

fn main() -> ExitCode {
    let args = Args::parse();
    // `Service::start` passes the service only `--pool-size`; the checkpoint schedule
    // reaches it through the variables its flags also read (src/config.rs), which the
    // child inherits. Set here, before the runtime starts any other thread.
    std::env::set_var(
        "CHAINBOOK_CHECKPOINT_EVERY_EVENTS",
        args.checkpoint_every_events.to_string(),
    );
    std::env::set_var(
        "CHAINBOOK_CHECKPOINT_EVERY_SECONDS",
        args.checkpoint_every_seconds.to_string(),
    );
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("soak: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(soak(args))
}

async fn soak(args: Args) -> ExitCode {
    let bin = resolve_bin(args.bin.as_deref());
    let timeout = Duration::from_secs(args.startup_timeout_seconds);
    eprintln!("starting {}", bin.display());
    let service = match Service::start(&bin, args.pool_size, timeout).await {
        Ok(service) => service,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "service at {} (pid {}), data in {}",
        service.base_url,
        service.pid().map_or("?".to_owned(), |p| p.to_string()),
        service.data_dir().display()
    );
    let outcome = run(&service, &args).await;
    let log_tail = service
        .stop_keeping_log(args.keep_service_log.as_deref())
        .await;
    match outcome {
        Ok(report) => {
            report.print(&args);
            let broken = report.broken();
            if broken.is_empty() {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "soak: the run broke: {}\n--- service log (tail) ---\n{log_tail}",
                    broken.join("; ")
                );
                ExitCode::from(if report.service_died { 2 } else { 1 })
            }
        }
        Err(e) => {
            eprintln!("soak: {e}\n--- service log (tail) ---\n{log_tail}");
            ExitCode::from(2)
        }
    }
}

/// An explicit `--bin` is taken as given, or from the workspace root when relative and
/// missing here. Without one, the service of the same build as this executable.
fn resolve_bin(bin: Option<&Path>) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    if let Some(bin) = bin {
        if bin.is_absolute() || bin.exists() || !root.join(bin).exists() {
            return bin.to_owned();
        }
        return root.join(bin);
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_owned))
        .filter(|dir| dir.file_name().is_some_and(|name| name == "release"))
        .map(|dir| dir.join("chainbook"));
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| PathBuf::from(dir).join("release/chainbook"));
    beside
        .into_iter()
        .chain(target_dir)
        .find(|path| path.exists())
        .unwrap_or_else(|| root.join("target/release/chainbook"))
}

/// What the clients saw in one slot: the warm-up (slot 0) or one minute.
struct Slot {
    latency_us: Histogram<u64>,
    ok: u64,
    errors: u64,
}

/// Everything the clients share.
struct Load {
    api: Api,
    url: String,
    clients: usize,
    /// Each client's interval between requests.
    period: Duration,
    start: Instant,
    warm_end: Instant,
    end: Instant,
    minute: Duration,
    minutes: usize,
    slots: Vec<Mutex<Slot>>,
    error_kinds: Mutex<BTreeMap<String, u64>>,
    stop: AtomicBool,
}

impl Load {
    /// Slot 0 for requests sent during the warm-up, else 1 + the minute they were
    /// sent in.
    fn slot(&self, sent: Instant) -> usize {
        if sent < self.warm_end {
            return 0;
        }
        let minute = (sent - self.warm_end).as_secs_f64() / self.minute.as_secs_f64();
        (1 + minute as usize).min(self.minutes)
    }

    fn record(&self, sent: Instant, result: Result<u16, reqwest::Error>) {
        let latency_us = sent.elapsed().as_micros() as u64;
        let error = match result {
            Ok(201) => None,
            Ok(status) => Some(format!("http {status}")),
            Err(e) if e.is_timeout() => Some("timeout".to_owned()),
            Err(e) if e.is_connect() => Some("connect".to_owned()),
            Err(_) => Some("transport".to_owned()),
        };
        let mut slot = lock(&self.slots[self.slot(sent)]);
        match error {
            None => {
                slot.ok += 1;
                slot.latency_us.saturating_record(latency_us.max(1));
            }
            Some(kind) => {
                slot.errors += 1;
                drop(slot);
                *lock(&self.error_kinds).entry(kind).or_default() += 1;
            }
        }
    }
}

/// A poisoned lock only means another client panicked; its counts are still good.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One client: a request per tick of its own interval, until the end of the run.
/// Clients start staggered over one period, so the requests arrive evenly.
async fn client_loop(load: Arc<Load>, client: usize) {
    let offset = load.period.mul_f64(client as f64 / load.clients as f64);
    let mut tick = tokio::time::interval_at(load.start + offset, load.period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    for n in 0.. {
        let body =
            serde_json::to_vec(&api::entry(client, n)).expect("a JSON value always serialises");
        let at = tick.tick().await;
        if at >= load.end || load.stop.load(Ordering::Relaxed) {
            break;
        }
        let sent = Instant::now();
        let result = load.api.post(&load.url, body).await;
        load.record(sent, result);
    }
}

/// GETs over the bench's own client (the shared `Api` only posts), with the admin key.
#[derive(Clone)]
struct Reader {
    client: reqwest::Client,
    auth: String,
}

impl Reader {
    fn new(token: &str) -> Result<Self, BoxError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(GET_TIMEOUT_SECONDS))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            client,
            auth: format!("Bearer {token}"),
        })
    }

    async fn get(&self, url: &str) -> Result<Value, BoxError> {
        let response = self
            .client
            .get(url)
            .header("Authorization", &self.auth)
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(format!("GET {url} answered {status}: {text}").into());
        }
        Ok(response.json().await?)
    }
}

/// What the follower saw.
#[derive(Default)]
struct Follower {
    events: u64,
    pages: u64,
    errors: u64,
    first_error: Option<String>,
    /// Events whose seq did not follow the one before, or whose `prev_hash` was not the
    /// hash before; the first few are kept.
    broken_links: u64,
    first_broken: Vec<String>,
}

/// Reads the feed from the start, page after page (long-polling when caught up), and
/// publishes the last seq it has in `position`, until `stop` turns true.
async fn follow(
    reader: Reader,
    url: String,
    position: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> Follower {
    let mut seen = Follower::default();
    let mut after = 0u64;
    let mut last_hash: Option<String> = None;
    while !*stop.borrow() {
        let page_url =
            format!("{url}?after={after}&limit={FOLLOW_PAGE}&wait={FOLLOW_WAIT_SECONDS}");
        let page = tokio::select! {
            _ = stop.changed() => break,
            page = reader.get(&page_url) => page,
        };
        let events = page.and_then(|mut page| match page.get_mut("events").map(Value::take) {
            Some(Value::Array(events)) => Ok(events),
            _ => Err(format!("not a page of events: {page}").into()),
        });
        let events = match events {
            Ok(events) => events,
            Err(e) => {
                seen.errors += 1;
                seen.first_error.get_or_insert_with(|| e.to_string());
                // Not a page: wait a little rather than spin against a failing service.
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        seen.pages += 1;
        for event in &events {
            let seq = event.get("seq").and_then(Value::as_u64).unwrap_or(0);
            let prev = event.get("prev_hash").and_then(Value::as_str);
            let linked = last_hash.is_none() || prev == last_hash.as_deref();
            if seq != after + 1 || !linked {
                seen.broken_links += 1;
                if seen.first_broken.len() < 3 {
                    seen.first_broken.push(format!(
                        "seq {seq} after {after} (prev_hash {})",
                        if linked { "linked" } else { "not linked" }
                    ));
                }
            }
            after = after.max(seq);
            last_hash = event.get("hash").and_then(Value::as_str).map(str::to_owned);
            seen.events += 1;
        }
        position.store(after, Ordering::Relaxed);
    }
    seen
}

/// The checkpoints of the ledger, counted page by page from the last one seen.
#[derive(Default)]
struct Checkpoints {
    count: u64,
    newest_seq: u64,
}

impl Checkpoints {
    async fn refresh(&mut self, reader: &Reader, url: &str) -> Result<(), BoxError> {
        loop {
            let page = reader
                .get(&format!(
                    "{url}?after={}&limit={CHECKPOINT_PAGE}",
                    self.newest_seq
                ))
                .await?;
            let list = page
                .get("checkpoints")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("no checkpoints in {page}"))?;
            for checkpoint in list {
                let seq = checkpoint
                    .get("seq")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| format!("a checkpoint without a seq: {checkpoint}"))?;
                self.count += 1;
                self.newest_seq = self.newest_seq.max(seq);
            }
            if list.len() < CHECKPOINT_PAGE {
                return Ok(());
            }
        }
    }
}

/// The service's resident and peak resident memory in kB, from /proc; `None` once the
/// process is gone (a zombie has no VmRSS either).
fn memory_kb(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// One look at the service while the load runs.
#[derive(Clone, Copy)]
struct Sample {
    rss_kb: u64,
    checkpoints: u64,
    /// Events between the head and the follower's last seq (`None`: head unknown).
    follower_lag: Option<u64>,
}

/// What the sampler collected: its marks are the samples at the end of the warm-up
/// (index 0) and of each minute (1…), if it got that far.
struct Samples {
    marks: Vec<Option<Sample>>,
    max_follower_lag: u64,
    peak_kb: u64,
    /// The service's pid no longer had memory: it died.
    died_at: Option<Duration>,
}

/// Everything the sampler needs.
struct Watch {
    pid: u32,
    api: Api,
    reader: Reader,
    checkpoints_url: String,
    checkpoints: Checkpoints,
    follower: Arc<AtomicU64>,
    warm_end: Instant,
    sample: Duration,
    minute: Duration,
    minutes: usize,
    load: Arc<Load>,
}

/// Samples at the end of the warm-up, every `sample` after it, and at each minute's
/// end; stops the clients if the service dies.
async fn sample_loop(mut watch: Watch) -> (Samples, Checkpoints) {
    // Offsets from the end of the warm-up, each tagged with the mark it is (if any).
    let mut times: BTreeMap<Duration, Option<usize>> = BTreeMap::new();
    let total = watch.minute * watch.minutes as u32;
    let mut at = Duration::ZERO;
    while at <= total {
        times.insert(at, None);
        at += watch.sample;
    }
    for mark in 0..=watch.minutes {
        times.insert(watch.minute * mark as u32, Some(mark));
    }
    let mut samples = Samples {
        marks: vec![None; watch.minutes + 1],
        max_follower_lag: 0,
        peak_kb: 0,
        died_at: None,
    };
    for (at, mark) in times {
        tokio::time::sleep_until(watch.warm_end + at).await;
        let Some((rss_kb, peak_kb)) = memory_kb(watch.pid) else {
            eprintln!("the service (pid {}) is gone", watch.pid);
            samples.died_at = Some(at);
            watch.load.stop.store(true, Ordering::Relaxed);
            break;
        };
        if let Err(e) = watch
            .checkpoints
            .refresh(&watch.reader, &watch.checkpoints_url)
            .await
        {
            eprintln!("could not list the checkpoints: {e}");
        }
        let head = watch.api.head_seqs(1).await.ok();
        let follower = watch.follower.load(Ordering::Relaxed);
        let follower_lag = head.map(|head| (head.max(0) as u64).saturating_sub(follower));
        let sample = Sample {
            rss_kb,
            checkpoints: watch.checkpoints.count,
            follower_lag,
        };
        samples.max_follower_lag = samples.max_follower_lag.max(follower_lag.unwrap_or(0));
        samples.peak_kb = samples.peak_kb.max(peak_kb);
        let acknowledged: u64 = watch.load.slots.iter().map(|s| lock(s).ok).sum();
        let errors: u64 = watch.load.slots.iter().map(|s| lock(s).errors).sum();
        eprintln!(
            "  {:>6.0} s  RSS {:>7.1} MB  acknowledged {acknowledged:>8}  errors {errors:>5}  \
             checkpoints {:>5}  follower lag {}",
            at.as_secs_f64(),
            mb(rss_kb),
            sample.checkpoints,
            follower_lag.map_or("?".to_owned(), |lag| lag.to_string()),
        );
        if let Some(mark) = mark {
            samples.marks[mark] = Some(sample);
        }
    }
    (samples, watch.checkpoints)
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// The figures of one row of the table.
struct Row {
    entries: u64,
    errors: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

struct Report {
    seconds_per_row: Vec<f64>,
    rows: Vec<Row>,
    marks: Vec<Option<Sample>>,
    rss_before_kb: u64,
    peak_kb: u64,
    error_kinds: BTreeMap<String, u64>,
    checkpoints_before: u64,
    checkpoints_end: u64,
    newest_checkpoint_seq: u64,
    head_at_load_end: u64,
    follower_at_load_end: u64,
    caught_up_after: Option<Duration>,
    max_follower_lag: u64,
    follower: Follower,
    rate: u64,
    service_died: bool,
}

async fn run(service: &Service, args: &Args) -> Result<Report, BoxError> {
    let pid = service
        .pid()
        .ok_or("the service has no pid (exited already?)")?;
    let api = Api::new(&service.base_url, &service.admin_key, args.clients as usize)?;
    let reader = Reader::new(&service.admin_key)?;
    let accounts = api.setup(1).await?;
    let setup_head = api.head_seqs(1).await?;
    eprintln!(
        "setup: ledger {}, {accounts} accounts, {setup_head} events",
        api::LEDGER
    );
    let checkpoints_url = api.url(&format!("ledgers/{}/checkpoints", api::LEDGER));
    let mut checkpoints = Checkpoints::default();
    checkpoints.refresh(&reader, &checkpoints_url).await?;
    let checkpoints_before = checkpoints.count;
    let (rss_before_kb, _) = memory_kb(pid).ok_or("the service's memory is unreadable")?;

    let minutes = args.minutes as usize;
    let minute = Duration::from_secs(args.minute_seconds);
    let start = Instant::now();
    let warm_end = start + Duration::from_secs(args.warmup_seconds);
    let end = warm_end + minute * minutes as u32;
    let mut slots = Vec::with_capacity(minutes + 1);
    for _ in 0..=minutes {
        slots.push(Mutex::new(Slot {
            latency_us: Histogram::new_with_bounds(1, LATENCY_MAX_US, 3)?,
            ok: 0,
            errors: 0,
        }));
    }
    let load = Arc::new(Load {
        url: api.url(&format!("ledgers/{}/transactions", api::LEDGER)),
        api: api.clone(),
        clients: args.clients as usize,
        period: Duration::from_secs_f64(args.clients as f64 / args.rate as f64),
        start,
        warm_end,
        end,
        minute,
        minutes,
        slots,
        error_kinds: Mutex::new(BTreeMap::new()),
        stop: AtomicBool::new(false),
    });
    eprintln!(
        "load: {} clients, {} entries/s in all (one request every {:.1} ms each), \
         {} s warm-up + {minutes} × {} s; checkpoints every {} events or {} s",
        args.clients,
        args.rate,
        load.period.as_secs_f64() * 1000.0,
        args.warmup_seconds,
        args.minute_seconds,
        args.checkpoint_every_events,
        args.checkpoint_every_seconds
    );

    let position = Arc::new(AtomicU64::new(0));
    let (stop_follower, stop_rx) = watch::channel(false);
    let events_url = api.url(&format!("ledgers/{}/events", api::LEDGER));
    let follower = tokio::spawn(follow(
        reader.clone(),
        events_url,
        position.clone(),
        stop_rx,
    ));
    let sampler = tokio::spawn(sample_loop(Watch {
        pid,
        api: api.clone(),
        reader: reader.clone(),
        checkpoints_url: checkpoints_url.clone(),
        checkpoints,
        follower: position.clone(),
        warm_end,
        sample: Duration::from_secs(args.sample_seconds),
        minute,
        minutes,
        load: load.clone(),
    }));
    let clients: Vec<_> = (0..load.clients)
        .map(|client| tokio::spawn(client_loop(load.clone(), client)))
        .collect();
    for client in clients {
        client.await?;
    }

    // The load has stopped: where is the follower against the head?
    let head_at_load_end = api.head_seqs(1).await.unwrap_or(0).max(0) as u64;
    let follower_at_load_end = position.load(Ordering::Relaxed);
    let (samples, mut checkpoints) = sampler.await?;
    let service_died = samples.died_at.is_some();
    let caught_up_after = if service_died {
        None
    } else {
        let stopped = Instant::now();
        let deadline = stopped + Duration::from_secs(args.catch_up_seconds);
        loop {
            if position.load(Ordering::Relaxed) >= head_at_load_end {
                break Some(stopped.elapsed());
            }
            if Instant::now() >= deadline {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let _ = stop_follower.send(true);
    let follower = follower.await?;
    if !service_died {
        checkpoints.refresh(&reader, &checkpoints_url).await?;
    }

    let mut rows = Vec::with_capacity(minutes + 1);
    for slot in &load.slots {
        let slot = lock(slot);
        let ms = |q: f64| slot.latency_us.value_at_quantile(q) as f64 / 1000.0;
        rows.push(Row {
            entries: slot.ok,
            errors: slot.errors,
            p50_ms: ms(0.50),
            p99_ms: ms(0.99),
            max_ms: slot.latency_us.max() as f64 / 1000.0,
        });
    }
    let mut seconds_per_row = vec![args.warmup_seconds as f64];
    seconds_per_row.extend(std::iter::repeat_n(args.minute_seconds as f64, minutes));
    let error_kinds = std::mem::take(&mut *lock(&load.error_kinds));
    Ok(Report {
        seconds_per_row,
        rows,
        marks: samples.marks,
        rss_before_kb,
        peak_kb: samples.peak_kb,
        error_kinds,
        checkpoints_before,
        checkpoints_end: checkpoints.count,
        newest_checkpoint_seq: checkpoints.newest_seq,
        head_at_load_end,
        follower_at_load_end,
        caught_up_after,
        max_follower_lag: samples.max_follower_lag,
        follower,
        rate: args.rate,
        service_died,
    })
}

impl Report {
    fn requests(&self) -> (u64, u64) {
        let ok = self.rows.iter().map(|r| r.entries).sum();
        let errors = self.rows.iter().map(|r| r.errors).sum();
        (ok, errors)
    }

    fn error_share(&self) -> f64 {
        let (ok, errors) = self.requests();
        errors as f64 / (ok + errors).max(1) as f64
    }

    /// Why the run itself did not hold, if it did not (the verdicts are not reasons).
    fn broken(&self) -> Vec<String> {
        let mut reasons = Vec::new();
        if self.service_died {
            reasons.push("the service died".to_owned());
        }
        if self.error_share() > ERROR_SHARE_MAX {
            reasons.push(format!(
                "{:.2}% of requests failed (more than {:.0}%)",
                self.error_share() * 100.0,
                ERROR_SHARE_MAX * 100.0
            ));
        }
        if self.follower.broken_links > 0 {
            reasons.push(format!(
                "the event feed was not gapless and linked ({} events)",
                self.follower.broken_links
            ));
        }
        reasons
    }

    fn rss_kb(&self, mark: usize) -> Option<u64> {
        self.marks.get(mark).copied().flatten().map(|s| s.rss_kb)
    }

    fn print(&self, args: &Args) {
        println!(
            "{:<8} {:>9} {:>10} {:>7} {:>8} {:>8} {:>8} {:>8} {:>11} {:>12}",
            "minute",
            "entries",
            "entries/s",
            "errors",
            "p50 ms",
            "p99 ms",
            "max ms",
            "RSS MB",
            "checkpoints",
            "follower lag"
        );
        let mut checkpoints_before = self.checkpoints_before;
        for (i, row) in self.rows.iter().enumerate() {
            let name = if i == 0 {
                "warm-up".to_owned()
            } else {
                i.to_string()
            };
            let mark = self.marks.get(i).copied().flatten();
            let rss = mark.map_or("-".to_owned(), |s| format!("{:.1}", mb(s.rss_kb)));
            let signed = mark.map_or("-".to_owned(), |s| {
                let signed = s.checkpoints.saturating_sub(checkpoints_before);
                checkpoints_before = s.checkpoints;
                signed.to_string()
            });
            let lag = mark
                .and_then(|s| s.follower_lag)
                .map_or("-".to_owned(), |lag| lag.to_string());
            println!(
                "{name:<8} {:>9} {:>10.1} {:>7} {:>8.2} {:>8.2} {:>8.2} {rss:>8} {signed:>11} {lag:>12}",
                row.entries,
                row.entries as f64 / self.seconds_per_row[i].max(1e-9),
                row.errors,
                row.p50_ms,
                row.p99_ms,
                row.max_ms,
            );
        }
        println!("(rows: requests by the minute they were sent in; RSS, checkpoints signed and follower lag at the minute's end)");
        println!();

        let last = self.rows.len() - 1;
        let rss_start = self.rss_kb(0);
        let rss_end = self.rss_kb(last);
        let rss_ratio = match (rss_start, rss_end) {
            (Some(start), Some(end)) => Some(end as f64 / start.max(1) as f64),
            _ => None,
        };
        let show = |kb: Option<u64>| kb.map_or("-".to_owned(), |kb| format!("{:.1} MB", mb(kb)));
        println!(
            "RSS: before the load {:.1} MB, start (after the {} s warm-up) {}, end {}, \
             end/start {}, peak (VmHWM) {:.1} MB",
            mb(self.rss_before_kb),
            args.warmup_seconds,
            show(rss_start),
            show(rss_end),
            rss_ratio.map_or("-".to_owned(), |r| format!("{r:.3}")),
            mb(self.peak_kb)
        );

        let first_p99 = self.rows[1].p99_ms;
        let drift = |p99: f64| p99 / first_p99.max(1e-9);
        let (worst_minute, worst_p99) = self.rows[1..]
            .iter()
            .enumerate()
            .map(|(i, row)| (i + 1, row.p99_ms))
            .fold(
                (1, first_p99),
                |worst, this| {
                    if this.1 > worst.1 {
                        this
                    } else {
                        worst
                    }
                },
            );
        println!(
            "p99: first minute {first_p99:.2} ms, last minute {:.2} ms ({:.2}×), \
             worst minute {worst_minute}: {worst_p99:.2} ms ({:.2}×)",
            self.rows[last].p99_ms,
            drift(self.rows[last].p99_ms),
            drift(worst_p99)
        );

        println!(
            "checkpoints: {} signed during the run ({} before, {} at the end; every {} \
             events or {} s), newest at seq {}, head at the load's end {}",
            self.checkpoints_end.saturating_sub(self.checkpoints_before),
            self.checkpoints_before,
            self.checkpoints_end,
            args.checkpoint_every_events,
            args.checkpoint_every_seconds,
            self.newest_checkpoint_seq,
            self.head_at_load_end
        );

        let f = &self.follower;
        let lag_at_end = self
            .head_at_load_end
            .saturating_sub(self.follower_at_load_end);
        println!(
            "follower: read {} events in {} pages, {} failed reads{}; feed gapless and linked: {}{}",
            f.events,
            f.pages,
            f.errors,
            f.first_error
                .as_ref()
                .map_or(String::new(), |e| format!(" (first: {e})")),
            if f.broken_links == 0 { "yes" } else { "no" },
            if f.first_broken.is_empty() {
                String::new()
            } else {
                format!(" ({} events, first: {})", f.broken_links, f.first_broken.join(", "))
            }
        );
        println!(
            "follower at the load's end: seq {} of head {}, {lag_at_end} events behind \
             (within 1 s of load, {} events: {}); {}; largest lag sampled {}",
            self.follower_at_load_end,
            self.head_at_load_end,
            self.rate,
            yes_no(lag_at_end <= self.rate),
            self.caught_up_after.map_or_else(
                || format!("not at the head {} s later", args.catch_up_seconds),
                |after| format!("at the head {:.2} s later", after.as_secs_f64())
            ),
            self.max_follower_lag
        );

        let (ok, errors) = self.requests();
        let kinds: Vec<String> = self
            .error_kinds
            .iter()
            .map(|(kind, count)| format!("{kind}: {count}"))
            .collect();
        println!(
            "requests: {} acknowledged, {errors} errors ({:.3}%){}",
            ok,
            self.error_share() * 100.0,
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" [{}]", kinds.join(", "))
            }
        );
        println!();
        println!(
            "memory flat: {} (end/start RSS {} ≤ {RSS_FLAT_RATIO})",
            rss_ratio.map_or("no", |r| yes_no(r <= RSS_FLAT_RATIO)),
            rss_ratio.map_or("unknown".to_owned(), |r| format!("{r:.3}"))
        );
        println!(
            "p99 within 2× of first minute: {} (worst minute {:.2}×, last {:.2}×, limit {P99_DRIFT_RATIO})",
            yes_no(drift(worst_p99) <= P99_DRIFT_RATIO),
            drift(worst_p99),
            drift(self.rows[last].p99_ms)
        );
    }
}

fn yes_no(yes: bool) -> &'static str {
    if yes {
        "yes"
    } else {
        "no"
    }
}
