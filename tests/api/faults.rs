//! Real faults: the service killed with SIGKILL under load, stopped with SIGTERM under
//! load, and its PostgreSQL stopped immediately under it. Whatever was acknowledged
//! stays in the log exactly once, retries with the same key never write twice, the
//! chain verifies and balances equal a replay.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chainbook::core::role::Role;
use chainbook::startup::Application;
use chainbook::store::cluster::EmbeddedCluster;
use chainbook::store::{keys, pool};
use rand::Rng;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::{entry, reply, verify_text, Reply, TestDatabase};
use crate::processes::Service;

const LEDGER: &str = "faults";
const POST: &str = "/v1/ledgers/faults/transactions";

/// A client's view of one request: the answer it got, once it got a 2xx.
type Acknowledged = Arc<Mutex<BTreeMap<String, Value>>>;

/// The entry a client sends under idempotency key `key`: cash in, sales out, an
/// amount of its own, the key as description (so the log can be matched to it).
fn sale(key: &str, cents: u64) -> Value {
    let amount = format!("{}.{:02}", cents / 100, cents % 100);
    let mut body = entry(&[
        ("assets:cash", "EUR", "debit", &amount),
        ("income:sales", "EUR", "credit", &amount),
    ]);
    body["description"] = json!(key);
    body
}

async fn setup(http: &reqwest::Client, address: &str, admin: &str) {
    let post = |path: &str, body: Value| {
        http.post(format!("{address}{path}"))
            .bearer_auth(admin)
            .json(&body)
            .send()
    };
    let r = reply(
        post(
            "/v1/ledgers",
            json!({"id": LEDGER, "name": "Faults", "base_currency": "EUR"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    for (code, kind) in [("assets:cash", "asset"), ("income:sales", "income")] {
        let r = reply(
            post(
                "/v1/ledgers/faults/accounts",
                json!({"code": code, "type": kind}),
            )
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
}

/// One client: posts entries with keys `{name}-0`, `{name}-1`, … to whatever address
/// the service has now, until `stop`; each key is retried (transport errors, 5xx)
/// until it is answered with a 2xx, which is recorded.
async fn client(
    name: String,
    address: Arc<Mutex<String>>,
    admin: String,
    stop: Arc<AtomicBool>,
    acknowledged: Acknowledged,
    attempts: Arc<AtomicUsize>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let key = format!("{name}-{n}");
        let body = sale(&key, 100 + n);
        loop {
            attempts.fetch_add(1, Ordering::Relaxed);
            let url = format!("{}{POST}", address.lock().unwrap());
            let sent = http
                .post(url)
                .bearer_auth(&admin)
                .header("Idempotency-Key", &key)
                .json(&body)
                .send()
                .await;
            let answer = match sent {
                Ok(response) => {
                    let status = response.status();
                    // The body can be cut off by the crash too: then it was not answered.
                    response.text().await.ok().map(|text| (status, text))
                }
                Err(_) => None,
            };
            match answer {
                Some((status, text)) if status.is_success() => {
                    let body: Value = serde_json::from_str(&text).unwrap();
                    acknowledged.lock().unwrap().insert(key.clone(), body);
                    break;
                }
                Some((status, text)) if status.is_server_error() => {
                    assert_eq!(status, 503, "only 503 while the service recovers: {text}");
                }
                Some((status, text)) => panic!("{key}: unexpected {status}: {text}"),
                None => {}
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        n += 1;
    }
}

/// Retrying clients posting together until `finish`.
struct Load {
    stop: Arc<AtomicBool>,
    acknowledged: Acknowledged,
    attempts: Arc<AtomicUsize>,
    clients: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// `count` clients named `{prefix}0`, `{prefix}1`, … posting to `address`.
    fn start(prefix: &str, count: usize, address: &Arc<Mutex<String>>, admin: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged: Acknowledged = Default::default();
        let attempts = Arc::new(AtomicUsize::new(0));
        let clients = (0..count)
            .map(|c| {
                tokio::spawn(client(
                    format!("{prefix}{c}"),
                    address.clone(),
                    admin.to_owned(),
                    stop.clone(),
                    acknowledged.clone(),
                    attempts.clone(),
                ))
            })
            .collect();
        Self {
            stop,
            acknowledged,
            attempts,
            clients,
        }
    }

    fn acknowledged_so_far(&self) -> usize {
        self.acknowledged.lock().unwrap().len()
    }

    /// Stops the clients once each has its last request answered; returns every
    /// acknowledged answer by key, and the attempts it took.
    async fn finish(self) -> (BTreeMap<String, Value>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        for c in self.clients {
            tokio::time::timeout(Duration::from_secs(60), c)
                .await
                .expect("every client gets its last request answered")
                .unwrap();
        }
        let acknowledged = self.acknowledged.lock().unwrap().clone();
        (acknowledged, self.attempts.load(Ordering::Relaxed))
    }
}

/// A fresh database, an instance admin key for it, and a folder for a service.
async fn database_with_admin() -> (TestDatabase, String, tempfile::TempDir) {
    let db = TestDatabase::new().await;
    let admin = keys::create(&db.owner().await, None, Role::Admin)
        .await
        .unwrap();
    (db, admin, tempfile::tempdir().unwrap())
}

/// POSTs `sale(key, cents)` under idempotency key `key`.
async fn post_sale(
    http: &reqwest::Client,
    address: &str,
    admin: &str,
    key: &str,
    cents: u64,
) -> Reply {
    let request = http
        .post(format!("{address}{POST}"))
        .bearer_auth(admin)
        .header("Idempotency-Key", key)
        .json(&sale(key, cents));
    reply(request.send().await.unwrap()).await
}

/// The cash balance as the service's projection shows it.
async fn cash_balance(http: &reqwest::Client, address: &str, admin: &str) -> Decimal {
    let url = format!("{address}/v1/ledgers/{LEDGER}/accounts/assets:cash");
    let balance = get(http, url, admin).await;
    balance.body["balances"][0]["balance"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", balance.text))
        .parse()
        .unwrap()
}

/// Events of the export by description (the idempotency key), and the cash balance
/// a replay of the export gives.
fn replay(export: &str) -> (BTreeMap<String, Vec<Value>>, Decimal) {
    let mut by_key: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut cash = Decimal::ZERO;
    for line in export.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        if event["type"] != "transaction.posted" {
            continue;
        }
        for posting in event["postings"].as_array().unwrap() {
            if posting["account"] == "assets:cash" {
                let amount: Decimal = posting["debit"].as_str().unwrap().parse().unwrap();
                cash += amount;
            }
        }
        let key = event["data"]["description"].as_str().unwrap().to_owned();
        by_key.entry(key).or_default().push(event);
    }
    (by_key, cash)
}

async fn get(http: &reqwest::Client, url: String, key: &str) -> Reply {
    reply(http.get(url).bearer_auth(key).send().await.unwrap()).await
}

/// Kill -9 the service three times at random moments under 12 concurrent clients,
/// restart it each time; the clients retry their unanswered requests with the same
/// keys. Then every acknowledged request is in the log exactly once, under the very
/// answer its client got, nothing is there twice, the chain verifies, and the
/// balances equal a replay (of the export here, and of `chainbook rebuild`).
#[tokio::test]
async fn kill_9_under_load_loses_nothing_acknowledged_and_writes_nothing_twice() {
    const CLIENTS: usize = 12;
    const KILLS: usize = 3;
    let (db, admin, dir) = database_with_admin().await;
    let mut service = Service::start(Some(&db.url), dir.path());
    let http = reqwest::Client::new();
    setup(&http, &service.address, &admin).await;

    let address = Arc::new(Mutex::new(service.address.clone()));
    let load = Load::start("c", CLIENTS, &address, &admin);

    let mut acknowledged_at_kill = Vec::new();
    for _ in 0..KILLS {
        let pause = rand::thread_rng().gen_range(300..900);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        service.kill_9();
        acknowledged_at_kill.push(load.acknowledged_so_far());
        // The clients keep trying against the dead address meanwhile.
        tokio::time::sleep(Duration::from_millis(100)).await;
        service = Service::start(Some(&db.url), dir.path());
        *address.lock().unwrap() = service.address.clone();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (acknowledged, attempts) = load.finish().await;
    eprintln!(
        "{} entries acknowledged in {attempts} attempts; acknowledged so far at each kill: {acknowledged_at_kill:?}",
        acknowledged.len(),
    );
    // The kills landed while entries were being acknowledged.
    assert!(
        acknowledged_at_kill.windows(2).all(|w| w[0] < w[1]) && acknowledged_at_kill[0] > 0,
        "{acknowledged_at_kill:?}"
    );
    assert!(attempts > acknowledged.len());

    let export = get(
        &http,
        format!("{}/v1/ledgers/{LEDGER}/export", service.address),
        &admin,
    )
    .await;
    let report = verify_text(&export.text, Default::default());
    assert!(report.ok(), "{report:?}");
    let (logged, cash) = replay(&export.text);
    assert_eq!(
        logged.keys().collect::<BTreeSet<_>>(),
        acknowledged.keys().collect::<BTreeSet<_>>(),
        "the log holds exactly the acknowledged requests"
    );
    for (key, answer) in &acknowledged {
        let events = &logged[key];
        assert_eq!(
            events.len(),
            1,
            "{key} is in the log {} times",
            events.len()
        );
        assert_eq!(events[0]["seq"], answer["seq"], "{key}: {answer}");
        assert_eq!(events[0]["id"], answer["id"], "{key}: {answer}");
    }
    // 1 ledger.created, 2 accounts, then the entries.
    assert_eq!(report.events, 3 + acknowledged.len() as u64);

    // Balances: the service's projection equals the replay of the export...
    assert_eq!(cash_balance(&http, &service.address, &admin).await, cash);

    // ... and every retry of an acknowledged key now answers what it answered then.
    for (key, answer) in acknowledged.iter().step_by(7) {
        // Another body under the same key is refused; the same body replays.
        let again = post_sale(&http, &service.address, &admin, key, 1_000_000).await;
        assert_eq!(again.status, 409, "{}", again.text);
        let n: u64 = key.rsplit('-').next().unwrap().parse().unwrap();
        let same = post_sale(&http, &service.address, &admin, key, 100 + n).await;
        assert!(same.status.is_success(), "{}", same.text);
        assert_eq!(&same.body, answer);
    }
    service.stop();

    // The projections equal a replay of the log from scratch.
    let rebuilt = std::process::Command::new(env!("CARGO_BIN_EXE_chainbook"))
        .args(["rebuild", "--ledger", LEDGER])
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        rebuilt.status.success(),
        "{}{}",
        String::from_utf8_lossy(&rebuilt.stdout),
        String::from_utf8_lossy(&rebuilt.stderr)
    );
}

/// SIGTERM in the middle of a burst: the service stops taking requests, answers every
/// request it took (the log holds exactly the acknowledged ones), and exits 0.
#[tokio::test]
async fn sigterm_answers_every_request_it_took_then_exits_cleanly() {
    const REQUESTS: usize = 400;
    let (db, admin, dir) = database_with_admin().await;
    let log = dir.path().join("service.log");
    let mut service = Service::start_logging(Some(&db.url), dir.path(), Some(&log));
    let http = reqwest::Client::new();
    setup(&http, &service.address, &admin).await;

    let answered = Arc::new(AtomicUsize::new(0));
    let requests: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let key = format!("t-{i}");
            let request = http
                .post(format!("{}{POST}", service.address))
                .bearer_auth(&admin)
                .header("Idempotency-Key", &key)
                .json(&sale(&key, 100 + i as u64));
            let answered = answered.clone();
            tokio::spawn(async move {
                let outcome = match request.send().await {
                    Ok(response) => {
                        let status = response.status();
                        response.text().await.ok().map(|text| (status, text))
                    }
                    Err(_) => None,
                };
                answered.fetch_add(1, Ordering::Relaxed);
                (key, outcome)
            })
        })
        .collect();
    let started = Instant::now();
    while answered.load(Ordering::Relaxed) < REQUESTS / 8 {
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let status = tokio::task::spawn_blocking(move || service.stop())
        .await
        .unwrap();
    assert!(
        status.is_some_and(|s| s.success()),
        "the service exits 0 on SIGTERM: {status:?}"
    );
    let log = std::fs::read_to_string(&log).unwrap();
    let mut acknowledged = BTreeSet::new();
    for request in requests {
        let (key, outcome) = request.await.unwrap();
        if let Some((status, text)) = outcome {
            assert!(status.is_success(), "{key}: {status} {text}\n{log}");
            acknowledged.insert(key);
        }
    }
    assert!(acknowledged.len() >= REQUESTS / 8);
    assert!(
        log.contains("stopped: every request taken was answered, connections closed"),
        "{log}"
    );

    let again = Service::start(Some(&db.url), dir.path());
    let export = get(
        &http,
        format!("{}/v1/ledgers/{LEDGER}/export", again.address),
        &admin,
    )
    .await;
    assert!(verify_text(&export.text, Default::default()).ok());
    let (logged, _) = replay(&export.text);
    assert!(logged.values().all(|events| events.len() == 1));
    assert_eq!(
        logged.into_keys().collect::<BTreeSet<_>>(),
        acknowledged,
        "nothing is written that was not answered, nothing answered that was not written"
    );
}

/// An HTTP worker runs on a runtime of its own, and at shutdown an idle worker stops
/// while others still serve. A pooled connection that worker opened must go on
/// working for the others: it is driven on the runtime that built the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_connection_outlives_the_worker_runtime_that_opened_it() {
    let db = TestDatabase::new().await;
    let shared = pool::connect(&db.url, 1).unwrap();
    let (opened_tx, opened_rx) = std::sync::mpsc::channel::<()>();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let pool = shared.clone();
    let worker = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = pool.get().await.unwrap();
            client.simple_query("SELECT 1").await.unwrap();
        });
        opened_tx.send(()).unwrap();
        stop_rx.recv().unwrap();
        drop(runtime);
    });
    tokio::task::spawn_blocking(move || opened_rx.recv().unwrap())
        .await
        .unwrap();
    let client = shared.get().await.unwrap();
    stop_tx.send(()).unwrap();
    tokio::task::spawn_blocking(move || worker.join().unwrap())
        .await
        .unwrap();
    let answer = client.simple_query("SELECT 1").await;
    assert!(answer.is_ok(), "{answer:?}");
}

/// PostgreSQL stopped with `pg_ctl stop -m immediate` under the service while eight
/// clients post and retry with their keys: it answers 503 problem+json (readiness
/// too) while the database is gone, and once PostgreSQL is back it serves again by
/// itself, with no restart. Afterwards the log holds exactly the acknowledged
/// requests, once each, the chain verifies and the balance equals a replay.
#[tokio::test]
async fn postgres_stopped_immediately_gives_503_then_the_service_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_owned();
    let mut cluster = tokio::task::spawn_blocking(move || EmbeddedCluster::start(&data_dir))
        .await
        .unwrap()
        .unwrap();
    let owner = pool::connect_owner(&cluster.connection_url("postgres"))
        .await
        .unwrap();
    owner.batch_execute("CREATE DATABASE faults").await.unwrap();
    drop(owner);
    let url = cluster.connection_url("faults");
    let mut owner = pool::connect_owner(&url).await.unwrap();
    chainbook::store::migrate::run(&mut owner).await.unwrap();
    let admin = keys::create(&owner, None, Role::Admin).await.unwrap();
    drop(owner);
    let app = Application::build("127.0.0.1:0".parse().unwrap(), &url, 8)
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    setup(&http, &address, &admin).await;
    let post = |key: String, cents: u64| {
        let (http, address, admin) = (&http, &address, &admin);
        async move { post_sale(http, address, admin, &key, cents).await }
    };
    for i in 0..10 {
        assert_eq!(post(format!("before-{i}"), 100).await.status, 201);
    }
    // Eight clients keep posting, and retrying with the same keys, through it all.
    let load = Load::start("p", 8, &Arc::new(Mutex::new(address.clone())), &admin);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut cluster = tokio::task::spawn_blocking(move || {
        cluster.crash().unwrap();
        cluster
    })
    .await
    .unwrap();
    // Writes (single and concurrent), reads and readiness: 503 problem+json.
    let during =
        futures_util::future::join_all((0..20).map(|i| post(format!("during-{i}"), 7))).await;
    for r in &during {
        r.assert_problem(503, "unavailable");
        assert_eq!(r.headers["retry-after"], "1");
    }
    get(
        &http,
        format!("{address}/v1/ledgers/{LEDGER}/balances"),
        &admin,
    )
    .await
    .assert_problem(503, "unavailable");
    get(&http, format!("{address}/readyz"), &admin)
        .await
        .assert_problem(503, "unavailable");
    assert_eq!(
        get(&http, format!("{address}/healthz"), &admin)
            .await
            .status,
        200,
        "the process itself is alive"
    );

    let acknowledged_before_restart = load.acknowledged_so_far();
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.restart().unwrap();
        cluster
    })
    .await
    .unwrap();
    // The same service, not restarted: it serves again within seconds.
    let started = Instant::now();
    loop {
        let r = post("after-0".to_owned(), 100).await;
        if r.status == 201 {
            break;
        }
        r.assert_problem(503, "unavailable");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still 503 after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "served again {} ms after PostgreSQL accepted connections",
        started.elapsed().as_millis()
    );
    for i in 1..10 {
        assert_eq!(post(format!("after-{i}"), 100).await.status, 201);
    }
    // A key refused during the outage was not remembered: it writes now, once.
    let late = post("during-0".to_owned(), 7).await;
    assert_eq!(late.status, 201, "{}", late.text);
    assert_eq!(
        get(&http, format!("{address}/readyz"), &admin).await.status,
        200
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (acknowledged, _) = load.finish().await;
    assert!(
        acknowledged_before_restart > 0 && acknowledged.len() > acknowledged_before_restart,
        "the clients wrote before the crash and after the restart: {acknowledged_before_restart} then {}",
        acknowledged.len()
    );

    let export = get(
        &http,
        format!("{address}/v1/ledgers/{LEDGER}/export"),
        &admin,
    )
    .await;
    let report = verify_text(&export.text, Default::default());
    assert!(report.ok(), "{report:?}");
    // Exactly the acknowledged requests, once each: the clients' (whatever the crash
    // cut off was retried), ten before, ten after, and the late retry of `during-0`.
    let (logged, cash) = replay(&export.text);
    let mut expected: BTreeSet<String> = acknowledged.keys().cloned().collect();
    expected.extend((0..10).map(|i| format!("before-{i}")));
    expected.extend((0..10).map(|i| format!("after-{i}")));
    expected.insert("during-0".to_owned());
    assert_eq!(logged.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(logged.values().all(|events| events.len() == 1));
    for (key, answer) in &acknowledged {
        assert_eq!(logged[key][0]["seq"], answer["seq"], "{key}");
    }
    assert_eq!(report.events, 3 + expected.len() as u64);
    assert_eq!(
        cash_balance(&http, &address, &admin).await,
        cash,
        "the balance equals a replay of the log"
    );
    drop(cluster);
}

/// With `LOG_FORMAT=json` every log line is a JSON object, and a request's lines
/// carry its request id, which the answer echoes in `X-Request-Id`.
#[tokio::test]
async fn json_logs_carry_the_request_id_that_the_answer_echoes() {
    let (db, admin, dir) = database_with_admin().await;
    let log = dir.path().join("service.log");
    let mut service = Service::start_logging(Some(&db.url), dir.path(), Some(&log));
    let http = reqwest::Client::new();
    let mine = reply(
        http.get(format!("{}/v1/ledgers/nope", service.address))
            .bearer_auth(&admin)
            .header("X-Request-Id", "audit-42")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(mine.headers["x-request-id"], "audit-42");
    let fresh = get(&http, format!("{}/healthz", service.address), &admin).await;
    let generated = fresh.headers["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
    // A caller's id that is not a short token is replaced.
    let odd = reply(
        http.get(format!("{}/healthz", service.address))
            .header("X-Request-Id", "x".repeat(65))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_ne!(odd.headers["x-request-id"], "x".repeat(65).as_str());
    service.stop();

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let answered = |id: &str| {
        lines
            .iter()
            .find(|l| l["fields"]["message"] == "answered" && l["span"]["request_id"] == id)
    };
    let line = answered("audit-42").unwrap_or_else(|| panic!("{text}"));
    assert_eq!(line["fields"]["status"], 404);
    assert_eq!(line["fields"]["route"], "/v1/ledgers/{ledger}");
    assert_eq!(line["span"]["method"], "GET");
    assert!(answered(&generated).is_some(), "{text}");
}
