//! Two service processes on one database stay one gapless chain and never overdraw.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use chainbook::core::role::Role;
use chainbook::store::keys;
use serde_json::json;

use crate::helpers::{entry, reply, verify_text, Reply, TestDatabase};

/// A `chainbook serve` process, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Service {
    pub child: Child,
    pub address: String,
}

impl Service {
    pub fn start(database_url: Option<&str>, data_dir: &Path) -> Service {
        Self::start_logging(database_url, data_dir, None)
    }

    /// `start`, with the service's stderr appended to `log` as JSON lines at level
    /// info, each request's `answered` line included (`LOG_FORMAT=json`), when one is given.
    pub fn start_logging(
        database_url: Option<&str>,
        data_dir: &Path,
        log: Option<&Path>,
    ) -> Service {
        let mut command = Command::new(env!("CARGO_BIN_EXE_chainbook"));
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--pool-size",
                "8",
                "--data-dir",
            ])
            .arg(data_dir)
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(url) = database_url {
            command.env("DATABASE_URL", url);
        }
        if let Some(log) = log {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .expect("the log file opens");
            command
                .env("RUST_LOG", "info,chainbook::http::observe=debug")
                .env("LOG_FORMAT", "json")
                .stderr(file);
        }
        let mut child = command.spawn().expect("the chainbook binary starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let address = loop {
            let line = lines
                .next()
                .expect("the service prints where it listens")
                .unwrap();
            if let Some(address) = line.strip_prefix("chainbook listening on ") {
                break address.to_owned();
            }
        };
        // Keep draining stdout so the service never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Service { child, address }
    }

    /// POSTs `body` to `path` (`/v1/…`) with `key`. The request is built at once, so
    /// the answer's future borrows nothing.
    pub fn post(
        &self,
        http: &reqwest::Client,
        key: &str,
        path: &str,
        body: serde_json::Value,
    ) -> impl std::future::Future<Output = Reply> + 'static {
        let request = http
            .post(format!("{}{}", self.address, path))
            .bearer_auth(key)
            .json(&body);
        async move { reply(request.send().await.unwrap()).await }
    }

    /// The ledger's export, read through this process.
    pub async fn export(&self, http: &reqwest::Client, key: &str, ledger: &str) -> String {
        http.get(format!("{}/v1/ledgers/{ledger}/export", self.address))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The ledger's export, read through this process and verified.
    pub async fn verify(
        &self,
        http: &reqwest::Client,
        key: &str,
        ledger: &str,
    ) -> chainbook_audit::Report {
        verify_text(&self.export(http, key, ledger).await, Default::default())
    }

    /// SIGKILL: no shutdown at all, as a crash.
    pub fn kill_9(&mut self) {
        self.child.kill().expect("SIGKILL is delivered");
        self.child.wait().expect("the killed process is reaped");
    }

    /// SIGTERM, then wait up to 20 s for a clean exit (the embedded cluster is stopped
    /// on the way out), then SIGKILL.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

#[tokio::test]
async fn two_processes_share_one_gapless_chain() {
    let db = TestDatabase::new().await;
    let admin = keys::create(&db.owner().await, None, Role::Admin)
        .await
        .unwrap();
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Service::start(Some(&db.url), dirs.0.path());
    let b = Service::start(Some(&db.url), dirs.1.path());
    let http = reqwest::Client::new();
    let post = |service: &Service, path: &str, body: serde_json::Value| {
        service.post(&http, &admin, path, body)
    };
    assert_eq!(
        post(
            &a,
            "/v1/ledgers",
            json!({"id": "acme", "name": "Acme", "base_currency": "EUR"})
        )
        .await
        .status,
        201
    );
    for (code, kind, flags) in [
        ("assets:cash", "asset", json!(["no_overdraft"])),
        ("equity:capital", "equity", json!([])),
        ("expenses:x", "expense", json!([])),
    ] {
        let r = post(
            &b,
            "/v1/ledgers/acme/accounts",
            json!({"code": code, "type": kind, "flags": flags}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let path = "/v1/ledgers/acme/transactions";
    let fund = entry(&[
        ("assets:cash", "EUR", "debit", "200.00"),
        ("equity:capital", "EUR", "credit", "200.00"),
    ]);
    assert_eq!(post(&a, path, fund).await.status, 201);

    // 100 spends of 10.00 from 200.00, alternating between the processes: 20 win.
    let spend = entry(&[
        ("expenses:x", "EUR", "debit", "10.00"),
        ("assets:cash", "EUR", "credit", "10.00"),
    ]);
    let requests = (0..100).map(|i| post(if i % 2 == 0 { &a } else { &b }, path, spend.clone()));
    let replies = futures_util::future::join_all(requests).await;
    let won = replies.iter().filter(|r| r.status == 201).count();
    assert!(
        replies.iter().all(|r| r.status == 201 || r.status == 409),
        "{:?}",
        replies.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    assert_eq!(won, 20);

    // Unconstrained load from both at once.
    let refill = entry(&[
        ("expenses:x", "EUR", "credit", "1.00"),
        ("equity:capital", "EUR", "debit", "1.00"),
    ]);
    let requests = (0..200).map(|i| post(if i % 2 == 0 { &a } else { &b }, path, refill.clone()));
    let replies = futures_util::future::join_all(requests).await;
    let refused: Vec<_> = replies.iter().filter(|r| r.status != 201).collect();
    assert!(
        refused.is_empty(),
        "{:?}",
        refused
            .iter()
            .map(|r| (r.status, &r.text))
            .collect::<Vec<_>>()
    );

    let report = b.verify(&http, &admin, "acme").await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.events, 1 + 3 + 1 + 20 + 200);
}

/// Two services on one database, B logging to a file, with ledger acme and its cash
/// and sales accounts opened through A, and one sale posted through each: B's writer
/// caches the ledger, then A appends behind its back, so B's state is stale.
struct StaleWriter {
    db: TestDatabase,
    admin: String,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    log: std::path::PathBuf,
    a: Service,
    b: Service,
    http: reqwest::Client,
}

const SALES: &str = "/v1/ledgers/acme/transactions";

fn sale() -> serde_json::Value {
    entry(&[
        ("assets:cash", "EUR", "debit", "1.00"),
        ("income:sales", "EUR", "credit", "1.00"),
    ])
}

impl StaleWriter {
    async fn start() -> StaleWriter {
        let db = TestDatabase::new().await;
        let admin = keys::create(&db.owner().await, None, Role::Admin)
            .await
            .unwrap();
        let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let log = dirs.1.path().join("b.log");
        let a = Service::start(Some(&db.url), dirs.0.path());
        let b = Service::start_logging(Some(&db.url), dirs.1.path(), Some(&log));
        let s = StaleWriter {
            db,
            admin,
            _dirs: dirs,
            log,
            a,
            b,
            http: reqwest::Client::new(),
        };
        let ledger = json!({"id": "acme", "name": "Acme", "base_currency": "EUR"});
        assert_eq!(s.post(&s.a, "/v1/ledgers", ledger).await.status, 201);
        for (code, kind) in [("assets:cash", "asset"), ("income:sales", "income")] {
            let body = json!({"code": code, "type": kind});
            let r = s.post(&s.a, "/v1/ledgers/acme/accounts", body).await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
        assert_eq!(s.post(&s.b, SALES, sale()).await.status, 201);
        assert_eq!(s.post(&s.a, SALES, sale()).await.status, 201);
        s
    }

    fn post(
        &self,
        service: &Service,
        path: &str,
        body: serde_json::Value,
    ) -> impl std::future::Future<Output = Reply> + 'static {
        service.post(&self.http, &self.admin, path, body)
    }

    /// Checks the chain through A (`events` in all), that B logged a failed group,
    /// and that the projections equal a rebuild from the log (a failed group sent its
    /// COMMIT behind its rows: the database answered it with a rollback, so none of
    /// its projection rows stayed).
    async fn check(&self, events: u64) {
        let report = self.a.verify(&self.http, &self.admin, "acme").await;
        assert!(report.ok(), "{report:?}");
        assert_eq!(report.events, events);
        let logged = std::fs::read_to_string(&self.log).unwrap();
        assert!(
            logged.contains("pipelined group failed"),
            "B's first group after A's append was decided on a stale state: {logged}"
        );
        let ledger = chainbook::core::ledger::LedgerId::parse("acme").unwrap();
        let rebuilt = chainbook::store::rebuild::rebuild(&self.db.url, &ledger, 1000, |_, _| {})
            .await
            .unwrap()
            .expect("the ledger exists");
        assert!(rebuilt.identical(), "{rebuilt:?}");
    }
}

/// A writer whose cached state another process has moved past: its pipelined groups
/// fail in the database (the seq is taken, the chain does not link), and every request
/// in them and in the groups behind them is decided again on fresh state, so all of
/// them succeed, once each, in one gapless chain.
#[tokio::test]
async fn pipelined_groups_behind_a_stale_state_are_decided_again() {
    let s = StaleWriter::start().await;
    let batch = json!({"atomic": true, "entries": vec![sale(); 150]});
    let batches = (0..8).map(|i| {
        let service = if i % 2 == 0 { &s.b } else { &s.a };
        s.post(
            service,
            "/v1/ledgers/acme/transactions/batch",
            batch.clone(),
        )
    });
    for r in futures_util::future::join_all(batches).await {
        assert_eq!(r.status, 201, "{}", r.text);
    }
    s.check(1 + 2 + 2 + 8 * 150).await;
}

/// The same with single entries, which go out as one-statement groups, chained behind
/// one another on one connection while one is in flight: a group decided on the stale
/// state fails (its seq is taken), so does any group chained behind it (its chain
/// check finds no predecessor), and their requests are decided again, so every entry
/// lands once, in one gapless chain. (Whether a group was chained behind the one that
/// failed depends on how the requests arrive: on a loaded machine they may trickle in
/// as groups too small to chain, so rounds go on, up to twelve, until some were chained
/// after at least four.)
#[tokio::test]
async fn chained_groups_behind_a_stale_state_are_decided_again() {
    let s = StaleWriter::start().await;
    let chained = || async {
        let metrics = s
            .http
            .get(format!("{}/metrics", s.b.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains(r#"chainbook_writer_groups_total{form="chained",ledger="acme"}"#) {
            crate::helpers::chained_groups(&metrics, "acme")
        } else {
            0
        }
    };
    let mut rounds = 0;
    while rounds < 4 || (rounds < 12 && chained().await == 0) {
        // A appends behind the back of B's writer (again), then B takes many at once.
        if rounds > 0 {
            assert_eq!(s.post(&s.a, SALES, sale()).await.status, 201);
        }
        let singles = (0..120).map(|_| s.post(&s.b, SALES, sale()));
        for r in futures_util::future::join_all(singles).await {
            assert_eq!(r.status, 201, "{}", r.text);
        }
        rounds += 1;
    }
    assert!(
        chained().await > 0,
        "no group was chained in {rounds} rounds"
    );
    s.check(1 + 2 + 2 + (rounds - 1) + rounds * 120).await;
}

/// The last units, sold through two processes at once: exactly the available units
/// sell, and the reorder is requested once, whichever process crossed the point.
#[tokio::test]
async fn two_processes_sell_exactly_the_available_stock() {
    let db = TestDatabase::new().await;
    let admin = keys::create(&db.owner().await, None, Role::Admin)
        .await
        .unwrap();
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Service::start(Some(&db.url), dirs.0.path());
    let b = Service::start(Some(&db.url), dirs.1.path());
    let http = reqwest::Client::new();
    let post = |service: &Service, path: &str, body: serde_json::Value| {
        let request = http
            .post(format!("{}/v1{}", service.address, path))
            .bearer_auth(&admin)
            .json(&body);
        async move { reply(request.send().await.unwrap()).await }
    };
    let setup = [
        (
            "/ledgers",
            json!({"id": "shop", "name": "Shop", "base_currency": "EUR"}),
        ),
        (
            "/ledgers/shop/products",
            json!({"sku": "MUG", "name": "Mug", "warehouses": [
                {"warehouse": "berlin", "reorder_point": "5", "reorder_quantity": "40"}]}),
        ),
        (
            "/ledgers/shop/stock/receipts",
            json!({"sku": "MUG", "warehouse": "berlin", "quantity": "37", "unit_cost": "2.00", "currency": "EUR"}),
        ),
    ];
    for (i, (path, body)) in setup.into_iter().enumerate() {
        let r = post(if i % 2 == 0 { &a } else { &b }, path, body).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let orders = (0..100).map(|i| {
        let body = json!({"id": format!("O-{i}"), "customer": "C", "channel": "online", "currency": "EUR",
                          "warehouse": "berlin", "lines": [{"sku": "MUG", "quantity": "1", "unit_price": "5.00"}]});
        post(if i % 2 == 0 { &a } else { &b }, "/ledgers/shop/orders", body)
    });
    let replies = futures_util::future::join_all(orders).await;
    assert!(
        replies.iter().all(|r| r.status == 201 || r.status == 409),
        "{:?}",
        replies.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 37);
    let export = b.export(&http, &admin, "shop").await;
    assert!(verify_text(&export, Default::default()).ok());
    let reorders = export
        .lines()
        .filter(|l| l.contains(r#""type":"stock.reorder_requested""#))
        .count();
    assert_eq!(reorders, 1);
    let inventory: serde_json::Value = http
        .get(format!("{}/v1/ledgers/shop/inventory", a.address))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(inventory["inventory"][0]["available"], "0");
}
