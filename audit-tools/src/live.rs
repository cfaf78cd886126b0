//! Verifying a live service: stream its export through the same checks as a file,
//! recompute every account balance and every stock level from the events themselves,
//! and compare them with what the service's projections report. The projections are
//! the service's claims; the events are the evidence.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::report::{Report, VerifyOptions};
use crate::verify::verify_reader_with;

/// What the service reports that the events do not support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `balance` or `stock`.
    pub what: &'static str,
    /// `account currency` or `sku warehouse`.
    pub key: String,
    /// From the events (`None`: the events have nothing there).
    pub recomputed: Option<String>,
    /// From the service's projection (`None`: it reports nothing there).
    pub reported: Option<String>,
}

#[derive(Debug, Clone)]
pub struct LiveReport {
    pub chain: Report,
    pub mismatches: Vec<Mismatch>,
}

impl LiveReport {
    pub fn ok(&self) -> bool {
        self.chain.ok() && self.mismatches.is_empty()
    }
}

/// Debits minus credits per (account, currency), and on hand per (sku, warehouse).
#[derive(Default)]
struct Recomputed {
    balances: BTreeMap<(String, String), Decimal>,
    stock: BTreeMap<(String, String), Decimal>,
}

impl Recomputed {
    fn fold(&mut self, event: &Map<String, Value>) {
        for p in event
            .get("postings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = |name: &str| p.get(name).and_then(Value::as_str);
            let (Some(account), Some(currency)) = (text("account"), text("currency")) else {
                continue;
            };
            let amount = |name: &str| text(name).and_then(|a| a.parse::<Decimal>().ok());
            let delta = amount("debit").unwrap_or_default() - amount("credit").unwrap_or_default();
            *self
                .balances
                .entry((account.to_owned(), currency.to_owned()))
                .or_default() += delta;
        }
        let movements = event
            .get("data")
            .and_then(|d| d.get("movements"))
            .and_then(Value::as_array);
        for m in movements.into_iter().flatten() {
            let text = |name: &str| m.get(name).and_then(Value::as_str);
            if let (Some(sku), Some(warehouse), Some(q)) =
                (text("sku"), text("warehouse"), text("quantity"))
            {
                if let Ok(q) = q.parse::<Decimal>() {
                    *self
                        .stock
                        .entry((sku.to_owned(), warehouse.to_owned()))
                        .or_default() += q;
                }
            }
        }
    }
}

fn get(url: &str, token: &str) -> Result<ureq::Response, String> {
    ureq::get(url)
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .map_err(|e| format!("GET {url}: {e}"))
}

fn get_json(url: &str, token: &str) -> Result<Value, String> {
    let text = get(url, token)?
        .into_string()
        .map_err(|e| format!("GET {url}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("GET {url}: not JSON: {e}"))
}

/// Verifies ledger `ledger` of the service at `base` (e.g. `http://127.0.0.1:8080`)
/// with an auditor's `token`.
pub fn verify_live(
    base: &str,
    ledger: &str,
    token: &str,
    options: &VerifyOptions,
) -> Result<LiveReport, String> {
    let base = base.trim_end_matches('/');
    let export = get(&format!("{base}/v1/ledgers/{ledger}/export"), token)?;
    let head_seq: Option<u64> = export
        .header("Chainbook-Head-Seq")
        .and_then(|s| s.parse().ok());
    let mut recomputed = Recomputed::default();
    let reader = std::io::BufReader::with_capacity(64 * 1024, export.into_reader());
    let chain = verify_reader_with(reader, options, |event| recomputed.fold(event));
    let mut mismatches = Vec::new();
    if chain.ok() {
        // The projections as of the exported head: later appends would show as
        // differences, so compare only if the service still stands there.
        let balances = get_json(&format!("{base}/v1/ledgers/{ledger}/balances"), token)?;
        if balances.get("seq").and_then(Value::as_u64) != head_seq {
            return Err("the ledger moved while it was verified; run again".into());
        }
        let mut reported: BTreeMap<(String, String), Decimal> = BTreeMap::new();
        for b in balances
            .get("balances")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = |name: &str| {
                b.get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let value = |name: &str| text(name).parse::<Decimal>().unwrap_or_default();
            reported.insert(
                (text("account"), text("currency")),
                value("debits") - value("credits"),
            );
        }
        compare("balance", &recomputed.balances, &reported, &mut mismatches);
        let mut stock: BTreeMap<(String, String), Decimal> = BTreeMap::new();
        let mut after = String::new();
        loop {
            let page = get_json(
                &format!("{base}/v1/ledgers/{ledger}/inventory?limit=1000{after}"),
                token,
            )?;
            let rows = page
                .get("inventory")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for r in &rows {
                let text = |name: &str| {
                    r.get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                stock.insert(
                    (text("sku"), text("warehouse")),
                    text("on_hand").parse().unwrap_or_default(),
                );
            }
            match rows.last() {
                Some(last) if rows.len() == 1000 => {
                    let text = |name: &str| {
                        last.get(name)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    after = format!("&after={}:{}", text("sku"), text("warehouse"));
                }
                _ => break,
            }
        }
        compare("stock", &recomputed.stock, &stock, &mut mismatches);
    }
    Ok(LiveReport { chain, mismatches })
}

/// Zero and absent are the same; everything else must agree exactly.
fn compare(
    what: &'static str,
    recomputed: &BTreeMap<(String, String), Decimal>,
    reported: &BTreeMap<(String, String), Decimal>,
    out: &mut Vec<Mismatch>,
) {
    let keys: std::collections::BTreeSet<&(String, String)> =
        recomputed.keys().chain(reported.keys()).collect();
    for key in keys {
        let (a, b) = (recomputed.get(key).copied(), reported.get(key).copied());
        if a.unwrap_or_default() != b.unwrap_or_default() {
            out.push(Mismatch {
                what,
                key: format!("{} {}", key.0, key.1),
                recomputed: a.map(|d| d.normalize().to_string()),
                reported: b.map(|d| d.normalize().to_string()),
            });
        }
    }
}

/// Has the service sign its current head and returns the checkpoint, after checking
/// its signature with `key` (by default the key the service publishes).
pub fn fetch_checkpoint(
    base: &str,
    ledger: &str,
    token: &str,
    key: Option<&ed25519_dalek::VerifyingKey>,
) -> Result<Value, String> {
    let base = base.trim_end_matches('/');
    let published;
    let key = match key {
        Some(k) => k,
        None => {
            let text = ureq::get(&format!("{base}/v1/keys/checkpoint"))
                .call()
                .map_err(|e| format!("GET the public key: {e}"))?
                .into_string()
                .map_err(|e| format!("GET the public key: {e}"))?;
            published = crate::checkpoint::public_key(&text)?;
            &published
        }
    };
    let text = ureq::post(&format!("{base}/v1/ledgers/{ledger}/checkpoints"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .map_err(|e| format!("POST the checkpoint: {e}"))?
        .into_string()
        .map_err(|e| format!("POST the checkpoint: {e}"))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("the checkpoint is not JSON: {e}"))?;
    let checkpoint = crate::checkpoint::Checkpoint::from_json(&value)?;
    if !checkpoint.signature_holds(key) {
        return Err(
            "checkpoint-signature-invalid: the service's checkpoint does not verify".into(),
        );
    }
    Ok(value)
}
