//! Writes the chain test vectors (`tests/vectors/chain.json` at the repository
//! root) and the export fixtures of the CLI tests (`tests/fixtures/`), all
//! derived from one small valid chain of ledger `acme`.
//!
//! Run from the `audit-tools` directory: `cargo run --example write_vectors`.
//! The outputs are committed; the tests check them, and rerunning this must
//! leave them unchanged.

use chainbook_audit::{canonical_bytes, event_hash, GENESIS_PREV_HASH};
use serde_json::{json, Map, Value};
use std::fs;

/// Member order of an export line. The hash does not depend on it; a natural
/// order keeps the fixtures readable and shows the verifier ignores order.
const LINE_ORDER: [&str; 9] = [
    "ledger",
    "seq",
    "id",
    "type",
    "recorded_at",
    "prev_hash",
    "postings",
    "data",
    "hash",
];

const ABOUT: &str = "One valid chain of ledger `acme` (docs/chain-spec.md). \
    For each event: the event without its `hash` member, the RFC 8785 canonical UTF-8 bytes \
    of that object as hex, and the lowercase hex SHA-256 of those bytes, which is the \
    event's `hash`. Event 1's prev_hash is 64 zeros; each later prev_hash is the previous \
    event's hash.";

fn main() {
    let chain = link(events());
    write_vectors(&chain);
    write_fixtures(&chain);
}

fn posting(account: &str, currency: &str, side: &str, amount: &str) -> Value {
    json!({"account": account, "currency": currency, side: amount})
}

fn account(code: &str, kind: &str, currency: Value, flags: Value) -> Value {
    json!({"code": code, "type": kind, "currency": currency, "flags": flags})
}

/// The events of the chain without `prev_hash` and `hash`.
fn events() -> Vec<Value> {
    let created = json!({"name": "Acme Ltd", "base_currency": "EUR"});
    let cash = account(
        "assets:cash",
        "asset",
        json!("EUR"),
        json!(["no_overdraft"]),
    );
    let sales = account("income:sales", "income", Value::Null, json!([]));
    let bank = account("assets:bank", "asset", Value::Null, json!([]));
    let sale = json!({
        "description": "Café sale €",
        "effective_date": "2026-03-31",
        "metadata": {"invoice": "F-1"}
    });
    let export_sale = json!({
        "description": "Export sale paid in JPY and BHD",
        "effective_date": "2026-04-01",
        "metadata": {}
    });
    let reversal = json!({"reverses": id(4), "description": "Reversal of the café sale", "effective_date": "2026-03-31", "metadata": {}});
    vec![
        event(1, "ledger.created", vec![], created),
        event(2, "account.opened", vec![], cash),
        event(3, "account.opened", vec![], sales),
        event(
            4,
            "transaction.posted",
            sale_postings("debit", "credit"),
            sale,
        ),
        event(5, "account.opened", vec![], bank),
        event(
            6,
            "transaction.posted",
            two_currency_postings(),
            export_sale,
        ),
        event(
            7,
            "transaction.reversed",
            sale_postings("credit", "debit"),
            reversal,
        ),
    ]
}

/// The EUR sale of seq 4; its reversal (seq 7) swaps the sides.
fn sale_postings(cash_side: &str, sales_side: &str) -> Vec<Value> {
    vec![
        posting("assets:cash", "EUR", cash_side, "119.00"),
        posting("income:sales", "EUR", sales_side, "119.00"),
    ]
}

/// Seq 6: two currencies, each balanced on its own, at their scales (JPY 0, BHD 3).
fn two_currency_postings() -> Vec<Value> {
    vec![
        posting("assets:bank", "JPY", "debit", "5"),
        posting("income:sales", "JPY", "credit", "5"),
        posting("assets:bank", "BHD", "debit", "1.250"),
        posting("income:sales", "BHD", "credit", "1.250"),
    ]
}

/// Fixed, uuid-shaped ids, so the vectors never change.
fn id(seq: u64) -> String {
    format!("0195e6f2-7b40-7a31-9c1e-{seq:012}")
}

/// Fixed `recorded_at` values, increasing with seq.
fn recorded_at(seq: u64) -> String {
    let (minute, second, micros) = (seq * 7 % 60, seq * 13 % 60, seq * 104_729 % 1_000_000);
    format!("2026-03-31T09:{minute:02}:{second:02}.{micros:06}Z")
}

fn event(seq: u64, kind: &str, postings: Vec<Value>, data: Value) -> Value {
    json!({
        "ledger": "acme",
        "seq": seq,
        "id": id(seq),
        "type": kind,
        "recorded_at": recorded_at(seq),
        "postings": postings,
        "data": data,
    })
}

/// Sets `prev_hash` and `hash` of every event, in order, from the first event
/// whose `hash` is absent or stale: the chain is rebuilt from there on.
fn link(mut events: Vec<Value>) -> Vec<Value> {
    let mut previous = GENESIS_PREV_HASH.to_owned();
    for event in &mut events {
        let members = event.as_object_mut().expect("events are objects");
        members.remove("hash");
        members.insert("prev_hash".into(), Value::String(previous.clone()));
        previous = event_hash(event);
        event["hash"] = Value::String(previous.clone());
    }
    events
}

fn without_hash(event: &Value) -> Value {
    let mut members = event.as_object().expect("events are objects").clone();
    members.remove("hash");
    Value::Object(members)
}

fn write_vectors(chain: &[Value]) {
    let vectors: Vec<Value> = chain
        .iter()
        .map(|event| {
            let bare = without_hash(event);
            json!({
                "event": bare,
                "canonical_utf8_hex": hex::encode(canonical_bytes(&bare)),
                "hash": event["hash"],
            })
        })
        .collect();
    let file = json!({
        "about": ABOUT,
        "vectors": vectors,
    });
    let text = serde_json::to_string_pretty(&file).expect("vectors serialise") + "\n";
    fs::write("../tests/vectors/chain.json", text).expect("write chain.json");
}

/// One export line with members in `LINE_ORDER`, then any others.
fn export_line(event: &Value) -> String {
    let members: &Map<String, Value> = event.as_object().expect("events are objects");
    let mut parts: Vec<String> = LINE_ORDER
        .iter()
        .filter_map(|name| members.get(*name).map(|value| member(name, value)))
        .collect();
    let others = members
        .iter()
        .filter(|(name, _)| !LINE_ORDER.contains(&name.as_str()));
    parts.extend(others.map(|(name, value)| member(name, value)));
    format!("{{{}}}", parts.join(","))
}

fn member(name: &str, value: &Value) -> String {
    format!("{}:{}", Value::from(name), value)
}

fn write_export(name: &str, events: &[Value]) {
    let text: String = events
        .iter()
        .map(|event| export_line(event) + "\n")
        .collect();
    fs::write(format!("tests/fixtures/{name}"), text).expect("write fixture");
}

/// The valid export and one tampered variant per kind of attack the CLI tests
/// exercise. Index `i` holds seq `i + 1`.
fn write_fixtures(chain: &[Value]) {
    write_export("valid.ndjson", chain);
    write_export("truncated.ndjson", &chain[..5]);

    let mut amount_changed = chain.to_vec();
    amount_changed[3]["postings"][0]["debit"] = json!("191.00");
    write_export("amount-changed.ndjson", &amount_changed);

    let mut deleted = chain.to_vec();
    deleted.remove(3);
    write_export("deleted-middle.ndjson", &deleted);

    let mut swapped = chain.to_vec();
    swapped.swap(3, 4);
    write_export("swapped.ndjson", &swapped);

    // The hashes are recomputed and relinked, so only the balance check sees it.
    let mut unbalanced = chain.to_vec();
    unbalanced[3]["postings"][1]["credit"] = json!("109.00");
    write_export("unbalanced.ndjson", &link(unbalanced));

    // Seq 4 is rewritten consistently (balanced, rehashed) but seq 5 still
    // names the old hash: the chain link breaks at seq 5.
    let mut rehashed = chain.to_vec();
    rehashed[3]["postings"][0]["debit"] = json!("191.00");
    rehashed[3]["postings"][1]["credit"] = json!("191.00");
    rehashed[3]["hash"] = json!(event_hash(&without_hash(&rehashed[3])));
    write_export("rehashed-not-relinked.ndjson", &rehashed);

    let mut other_ledger = chain.to_vec();
    other_ledger[2]["ledger"] = json!("globex");
    write_export("wrong-ledger.ndjson", &link(other_ledger));
}
