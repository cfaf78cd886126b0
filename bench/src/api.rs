//! The few calls the benchmark makes, and the bodies of the entries it posts.

use std::time::Duration;

use serde_json::{json, Value};

use crate::service::BoxError;

/// The ledger the single and batch scenarios write to (the spread scenario adds
/// `bench-1`, `bench-2`, …).
pub const LEDGER: &str = "bench";

/// The name of the `i`-th ledger of the run.
pub fn ledger(i: usize) -> String {
    if i == 0 {
        LEDGER.to_owned()
    } else {
        format!("{LEDGER}-{i}")
    }
}
/// Debits spread over this many asset accounts, credits over `INCOME_ACCOUNTS`, so
/// the balances the service keeps are not all one row.
pub const ASSET_ACCOUNTS: usize = 16;
pub const INCOME_ACCOUNTS: usize = 4;
/// A request slower than this counts as an error rather than hanging the run.
const REQUEST_TIMEOUT_SECONDS: u64 = 60;

#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base_url: String,
    auth: String,
}

impl Api {
    pub fn new(base_url: &str, token: &str, connections: usize) -> Result<Self, BoxError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(REQUEST_TIMEOUT_SECONDS))
            .pool_max_idle_per_host(connections)
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            client,
            base_url: base_url.to_owned(),
            auth: format!("Bearer {token}"),
        })
    }

    /// POSTs an already serialised JSON body to `url` and returns the status code.
    /// Taking bytes keeps serialisation out of the timed part of a request.
    pub async fn post(&self, url: &str, body: Vec<u8>) -> Result<u16, reqwest::Error> {
        let response = self
            .client
            .post(url)
            .header("Authorization", &self.auth)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        // Read the body so the connection goes back to the pool ready for reuse.
        response.bytes().await?;
        Ok(status)
    }

    /// `http://host:port` of the service.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The `Authorization` header value of every request.
    pub fn authorization(&self) -> &str {
        &self.auth
    }

    /// The full address of `path` under `/v1/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v1/{path}", self.base_url)
    }

    /// POSTs and insists on 201, returning the response text in the error otherwise.
    async fn create(&self, path: &str, body: Value) -> Result<(), BoxError> {
        let response = self
            .client
            .post(format!("{}/v1/{path}", self.base_url))
            .header("Authorization", &self.auth)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        if status != reqwest::StatusCode::CREATED {
            let text = response.text().await.unwrap_or_default();
            return Err(format!("POST /v1/{path} answered {status}: {text}").into());
        }
        Ok(())
    }

    /// Creates `ledgers` ledgers with their accounts and one sample entry each.
    pub async fn setup(&self, ledgers: usize) -> Result<usize, BoxError> {
        let mut accounts = 0;
        for i in 0..ledgers {
            accounts += self.setup_ledger(&ledger(i)).await?;
        }
        Ok(accounts)
    }

    async fn setup_ledger(&self, ledger: &str) -> Result<usize, BoxError> {
        self.create(
            "ledgers",
            json!({"id": ledger, "name": "Bench", "base_currency": "USD"}),
        )
        .await?;
        let mut accounts = 0;
        let assets = (0..ASSET_ACCOUNTS).map(|i| (asset_code(i), "asset"));
        let incomes = (0..INCOME_ACCOUNTS).map(|i| (income_code(i), "income"));
        for (code, kind) in assets.chain(incomes) {
            self.create(
                &format!("ledgers/{ledger}/accounts"),
                json!({"code": code, "type": kind}),
            )
            .await?;
            accounts += 1;
        }
        // One entry before any measurement, so the first ceiling can copy the size of
        // the canonical JSON the service really stores.
        self.create(&format!("ledgers/{ledger}/transactions"), entry(0, 123_456))
            .await?;
        Ok(accounts)
    }

    /// The seqs of the last events of the first `ledgers` ledgers, added up.
    pub async fn head_seqs(&self, ledgers: usize) -> Result<i64, BoxError> {
        let mut total = 0;
        for i in 0..ledgers {
            total += self.head_seq(&ledger(i)).await?;
        }
        Ok(total)
    }

    /// The seq of a ledger's last event.
    async fn head_seq(&self, ledger: &str) -> Result<i64, BoxError> {
        let response = self
            .client
            .get(format!("{}/v1/ledgers/{ledger}/chain/head", self.base_url))
            .header("Authorization", &self.auth)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        body.get("seq")
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("chain head answered {status}: {body}").into())
    }
}

/// `assets:cash` plus numbered tills, so that debits spread over several balances.
fn asset_code(i: usize) -> String {
    if i == 0 {
        "assets:cash".to_owned()
    } else {
        format!("assets:till:{i:02}")
    }
}

/// `income:sales` plus numbered sub-accounts, for the same reason.
fn income_code(i: usize) -> String {
    if i == 0 {
        "income:sales".to_owned()
    } else {
        format!("income:sales:{i:02}")
    }
}

/// One two-posting entry. `n` picks the accounts and the amount, so consecutive
/// entries from one client touch different balances.
pub fn entry(client: usize, n: u64) -> Value {
    let debit = asset_code((client + n as usize) % ASSET_ACCOUNTS);
    let credit = income_code((client + n as usize / 7) % INCOME_ACCOUNTS);
    let amount = format!("{}.{:02}", 1 + n % 500, n % 100);
    json!({
        "postings": [
            {"account": debit, "currency": "USD", "debit": amount},
            {"account": credit, "currency": "USD", "credit": amount},
        ],
        "description": format!("bench sale {client}-{n}"),
    })
}

/// `entry(client, n)` written straight as JSON bytes: the load generator shares the
/// machine with the service, so its bodies are built without a `Value` tree (its
/// names and numbers never need escaping). `entry_body_matches_entry` keeps the two equal.
pub fn write_entry(out: &mut Vec<u8>, client: usize, n: u64) {
    use std::io::Write;
    let i = client + n as usize;
    let debit = i % ASSET_ACCOUNTS;
    let credit = (client + n as usize / 7) % INCOME_ACCOUNTS;
    out.extend_from_slice(br#"{"description":"bench sale "#);
    write!(out, r#"{client}-{n}","postings":[{{"account":""#).expect("writing to a Vec");
    if debit == 0 {
        out.extend_from_slice(b"assets:cash");
    } else {
        write!(out, "assets:till:{debit:02}").expect("writing to a Vec");
    }
    let amount = format_args!("{}.{:02}", 1 + n % 500, n % 100);
    write!(
        out,
        r#"","currency":"USD","debit":"{amount}"}},{{"account":""#
    )
    .expect("writing to a Vec");
    if credit == 0 {
        out.extend_from_slice(b"income:sales");
    } else {
        write!(out, "income:sales:{credit:02}").expect("writing to a Vec");
    }
    let amount = format_args!("{}.{:02}", 1 + n % 500, n % 100);
    write!(out, r#"","credit":"{amount}","currency":"USD"}}]}}"#).expect("writing to a Vec");
}

/// The body of one entry, as `write_entry` writes it.
pub fn entry_body(client: usize, n: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(200);
    write_entry(&mut out, client, n);
    out
}

/// The body of an atomic batch of `size` entries.
pub fn batch_body(client: usize, first: u64, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(40 + 200 * size);
    out.extend_from_slice(br#"{"atomic":true,"entries":["#);
    for i in 0..size as u64 {
        if i > 0 {
            out.push(b',');
        }
        write_entry(&mut out, client, first + i);
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_body_matches_entry() {
        for (client, n) in [(0, 0), (3, 7), (63, 1_234_567), (17, 499), (1, 100)] {
            let body: Value = serde_json::from_slice(&entry_body(client, n)).unwrap();
            assert_eq!(body, entry(client, n));
        }
        let batch: Value = serde_json::from_slice(&batch_body(5, 40, 3)).unwrap();
        let entries: Vec<Value> = (40..43).map(|n| entry(5, n)).collect();
        assert_eq!(batch, json!({"atomic": true, "entries": entries}));
    }
}
