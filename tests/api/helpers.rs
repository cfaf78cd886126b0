//! The test harness: a throwaway cluster per run (or `TEST_DATABASE_URL`), a migrated
//! template database, a database per test, and the app on port 0.

use std::sync::OnceLock;

use chainbook::core::role::Role;
use chainbook::startup::Application;
use chainbook::store::cluster::EphemeralCluster;
use chainbook::store::{keys, migrate, pool};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

const TEMPLATE: &str = "chainbook_template";

/// Where test databases live: libpq URLs for a database name.
enum Backend {
    Cluster(EphemeralCluster),
    /// `TEST_DATABASE_URL` without its database name; names are appended.
    External(String),
}

impl Backend {
    fn url(&self, dbname: &str) -> String {
        match self {
            Backend::Cluster(c) => c.connection_url(dbname),
            Backend::External(base) => format!("{base} dbname={dbname}"),
        }
    }
}

fn backend() -> &'static Backend {
    static BACKEND: OnceLock<Backend> = OnceLock::new();
    BACKEND.get_or_init(|| {
        if std::env::var("TEST_LOG").is_ok() {
            chainbook::telemetry::init();
        }
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) => Backend::External(url),
            Err(_) => {
                Backend::Cluster(EphemeralCluster::start().expect("a throwaway PostgreSQL cluster"))
            }
        }
    })
}

/// Creates and migrates the template once per run.
async fn template() {
    static TEMPLATE_READY: OnceCell<()> = OnceCell::const_new();
    TEMPLATE_READY
        .get_or_init(|| async {
            let admin = pool::connect_owner(&backend().url("postgres"))
                .await
                .unwrap();
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)"))
                .await
                .unwrap();
            admin
                .batch_execute(&format!("CREATE DATABASE {TEMPLATE}"))
                .await
                .unwrap();
            let mut owner = pool::connect_owner(&backend().url(TEMPLATE)).await.unwrap();
            migrate::run(&mut owner).await.unwrap();
        })
        .await;
}

/// A fresh, migrated database for one test.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    /// Whether dropping this handle drops the database (false for a second handle).
    owned: bool,
}

impl TestDatabase {
    pub async fn new() -> Self {
        template().await;
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let admin = pool::connect_owner(&backend().url("postgres"))
            .await
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
            .await
            .unwrap();
        let url = backend().url(&name);
        Self {
            name,
            url,
            owned: true,
        }
    }

    /// Another handle on the same database, for a second service on it; the first
    /// handle still drops the database.
    pub fn reuse(other: &TestDatabase) -> Self {
        Self {
            name: other.name.clone(),
            url: other.url.clone(),
            owned: false,
        }
    }

    /// A connection as the database owner (not the service role).
    pub async fn owner(&self) -> tokio_postgres::Client {
        pool::connect_owner(&self.url).await.unwrap()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        let name = self.name.clone();
        let url = backend().url("postgres");
        // Drop runs outside async; a short-lived runtime on its own thread does it.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = pool::connect_owner(&url).await {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    /// Instance-wide admin key.
    pub admin: String,
    pub db: TestDatabase,
}

pub async fn spawn_app() -> TestApp {
    let db = TestDatabase::new().await;
    spawn_app_on(db).await
}

pub async fn spawn_app_on(db: TestDatabase) -> TestApp {
    let app = Application::build("127.0.0.1:0".parse().unwrap(), &db.url, 8)
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let admin = keys::create(&db.owner().await, None, Role::Admin)
        .await
        .unwrap();
    TestApp {
        address,
        http: reqwest::Client::new(),
        admin,
        db,
    }
}

/// A response: status, content type and parsed body (`Value::Null` if not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Reply {
    /// Asserts an RFC 9457 problem with this status and `type` slug.
    pub fn assert_problem(&self, status: u16, slug: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(
            self.content_type, "application/problem+json",
            "{}",
            self.text
        );
        assert_eq!(
            self.body["type"],
            format!("urn:chainbook:problem:{slug}"),
            "{}",
            self.text
        );
        assert_eq!(self.body["status"], status, "{}", self.text);
        assert!(self.body["detail"].is_string());
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        content_type,
        headers,
        text,
        body,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, key: &str, path: &str) -> Reply {
        reply(
            self.http
                .get(self.url(path))
                .bearer_auth(key)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn post(&self, key: &str, path: &str, body: &Value) -> Reply {
        reply(
            self.http
                .post(self.url(path))
                .bearer_auth(key)
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn post_raw(&self, key: &str, path: &str, body: impl Into<reqwest::Body>) -> Reply {
        let request = self
            .http
            .post(self.url(path))
            .bearer_auth(key)
            .header("content-type", "application/json");
        reply(request.body(body).send().await.unwrap()).await
    }

    pub async fn post_idem(&self, key: &str, path: &str, idem: &str, body: &Value) -> Reply {
        let request = self
            .http
            .post(self.url(path))
            .bearer_auth(key)
            .header("Idempotency-Key", idem);
        reply(request.json(body).send().await.unwrap()).await
    }

    /// Creates a ledger (base EUR) and returns a key of `role` for it.
    pub async fn ledger(&self, id: &str) -> String {
        let created = self
            .post(
                &self.admin,
                "/v1/ledgers",
                &json!({"id": id, "name": id, "base_currency": "EUR"}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        self.key(id, "writer").await
    }

    pub async fn key(&self, ledger: &str, role: &str) -> String {
        let r = self
            .post(
                &self.admin,
                &format!("/v1/ledgers/{ledger}/keys"),
                &json!({"role": role}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["key"].as_str().unwrap().to_owned()
    }

    pub async fn open(
        &self,
        key: &str,
        ledger: &str,
        code: &str,
        account_type: &str,
        extra: Value,
    ) -> Reply {
        let mut body = json!({"code": code, "type": account_type});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        let r = self
            .post(key, &format!("/v1/ledgers/{ledger}/accounts"), &body)
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r
    }

    pub async fn transfer(
        &self,
        key: &str,
        ledger: &str,
        from: &str,
        to: &str,
        currency: &str,
        amount: &str,
    ) -> Reply {
        let body = entry(&[
            (to, currency, "debit", amount),
            (from, currency, "credit", amount),
        ]);
        self.post(key, &format!("/v1/ledgers/{ledger}/transactions"), &body)
            .await
    }

    /// Moves `amount` EUR from cash to supplies in a `funded_ledger`; it must succeed.
    /// Returns the answer.
    pub async fn pay_supplies(&self, key: &str, ledger: &str, amount: &str) -> Reply {
        let r = self
            .transfer(
                key,
                ledger,
                "assets:cash",
                "expenses:supplies",
                "EUR",
                amount,
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r
    }

    pub async fn head_seq(&self, ledger: &str) -> u64 {
        let r = self
            .get(&self.admin, &format!("/v1/ledgers/{ledger}/chain/head"))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["seq"].as_u64().unwrap()
    }

    pub async fn balance(&self, ledger: &str, code: &str, currency: &str) -> String {
        let r = self
            .get(
                &self.admin,
                &format!("/v1/ledgers/{ledger}/accounts/{code}"),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let balances = r.body["balances"].as_array().unwrap();
        balances
            .iter()
            .find(|b| b["currency"] == currency)
            .map_or("0".into(), |b| b["balance"].as_str().unwrap().to_owned())
    }

    /// `account`'s balance in `…/balances?{query}` (`as_of=…` or `as_of_seq=…`), or
    /// "none" if it has none there.
    pub async fn balance_at(&self, ledger: &str, query: &str, account: &str) -> String {
        let r = self
            .get(
                &self.admin,
                &format!("/v1/ledgers/{ledger}/balances?{query}"),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["account"] == account)
            .map_or("none".to_owned(), |b| {
                b["balance"].as_str().unwrap().to_owned()
            })
    }

    pub async fn export(&self, ledger: &str) -> String {
        let response = self
            .http
            .get(self.url(&format!("/v1/ledgers/{ledger}/export")))
            .bearer_auth(&self.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// Runs the auditor's verifier over this ledger's export.
    pub async fn verify(&self, ledger: &str) -> chainbook_audit::Report {
        verify_text(&self.export(ledger).await, Default::default())
    }
}

pub fn verify_text(
    export: &str,
    options: chainbook_audit::VerifyOptions,
) -> chainbook_audit::Report {
    chainbook_audit::verify_reader(std::io::Cursor::new(export.as_bytes()), &options)
}

/// A transaction body from (account, currency, side, amount) lines.
pub fn entry(lines: &[(&str, &str, &str, &str)]) -> Value {
    let postings: Vec<Value> =
        lines.iter().map(|(account, currency, side, amount)| json!({"account": account, "currency": currency, *side: amount})).collect();
    json!({"postings": postings, "description": "test"})
}

/// A ledger `id` with cash (no_overdraft, EUR), equity and income accounts, funded
/// with `funding` EUR of capital. Returns a writer key.
pub async fn funded_ledger(app: &TestApp, id: &str, funding: &str) -> String {
    let key = app.ledger(id).await;
    app.open(
        &key,
        id,
        "assets:cash",
        "asset",
        json!({"currency": "EUR", "flags": ["no_overdraft"]}),
    )
    .await;
    app.open(&key, id, "equity:capital", "equity", json!({}))
        .await;
    app.open(&key, id, "income:sales", "income", json!({}))
        .await;
    app.open(&key, id, "expenses:supplies", "expense", json!({}))
        .await;
    let r = app
        .transfer(&key, id, "equity:capital", "assets:cash", "EUR", funding)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    key
}

/// How many groups of `ledger` went out chained behind another on its connection, from
/// a `/metrics` text (`chainbook_writer_groups_total`); fails if none is counted.
pub fn chained_groups(metrics: &str, ledger: &str) -> u64 {
    let line = format!(r#"chainbook_writer_groups_total{{form="chained",ledger="{ledger}"}} "#);
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&line))
        .unwrap_or_else(|| panic!("no {line} in\n{metrics}"))
        .parse()
        .unwrap()
}
