//! `verify-speed`: how fast `chainbook-audit verify` checks an export on one core.
//! Writes a valid export of N two-posting entries (hashes, links and Merkle tree all
//! real) to a temporary file, then times the auditor's verification (with a
//! checkpoint at the head, so the Merkle root is computed too) against a baseline
//! measured in the same run: reading and JSON-parsing the same lines, nothing else.
//! A second copy of the export, a space added to each line, shows the general path
//! (lines not in canonical form are parsed and canonicalised).

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::time::Instant;

use chainbook_audit::checkpoint::Checkpoint;
use chainbook_audit::merkle::{from_hex, RootBuilder};
use chainbook_audit::{canonical_bytes, verify_reader, VerifyOptions};
use clap::Parser;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[derive(Debug, Parser)]
#[command(
    name = "verify-speed",
    about = "Events per second of chainbook-audit verify, against reading the same file"
)]
struct Args {
    /// Events in the export.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(2..=100_000_000))]
    events: u64,
}

/// One event's export line as the service writes it (its canonical bytes with
/// `hash` added last) and its hash.
fn event(seq: u64, prev: &str) -> (String, String) {
    let mut e = if seq == 1 {
        json!({"data": {"base_currency": "EUR", "name": "Bench"}, "postings": [], "type": "ledger.created"})
    } else {
        let amount = format!("{}.{:02}", 1 + seq % 997, seq % 100);
        json!({
            "data": {"description": format!("sale {seq}"), "effective_date": "2026-11-24", "metadata": {}},
            "postings": [
                {"account": format!("assets:till:{:02}", seq % 16), "currency": "EUR", "debit": amount},
                {"account": "income:sales", "credit": amount, "currency": "EUR"},
            ],
            "type": "transaction.posted",
        })
    };
    let o = e.as_object_mut().unwrap();
    o.insert("ledger".into(), json!("bench"));
    o.insert("seq".into(), json!(seq));
    o.insert(
        "id".into(),
        json!(format!("0195e6f2-7b40-7a31-9c1e-{seq:012x}")),
    );
    o.insert("recorded_at".into(), json!("2026-11-24T10:00:00.000000Z"));
    o.insert("prev_hash".into(), json!(prev));
    let canonical = String::from_utf8(canonical_bytes(&e)).unwrap();
    let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
    let line = format!(
        r#"{},"hash":"{hash}"}}"#,
        canonical.strip_suffix('}').unwrap()
    );
    (line, hash)
}

fn main() {
    let args = Args::parse();
    // Two copies of one export: as the service writes it, and with a space after
    // every line's first brace (equally valid, but not in canonical form), which
    // takes the general path.
    let dir = std::env::temp_dir();
    let path = dir.join(format!("verify-speed-{}.ndjson", std::process::id()));
    let spaced = dir.join(format!("verify-speed-{}-spaced.ndjson", std::process::id()));
    let mut out = BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut other = BufWriter::new(std::fs::File::create(&spaced).unwrap());
    let mut prev = "0".repeat(64);
    let mut tree = RootBuilder::default();
    eprintln!("writing {} events to {}", args.events, path.display());
    for seq in 1..=args.events {
        let (line, hash) = event(seq, &prev);
        out.write_all(line.as_bytes()).unwrap();
        out.write_all(b"\n").unwrap();
        other.write_all(b"{ ").unwrap();
        other.write_all(&line.as_bytes()[1..]).unwrap();
        other.write_all(b"\n").unwrap();
        tree.push(&from_hex(&hash).unwrap());
        prev = hash;
    }
    out.flush().unwrap();
    other.flush().unwrap();
    drop((out, other));
    let bytes = std::fs::metadata(&path).unwrap().len();

    // A checkpoint at the head, signed with a throwaway key.
    let key = SigningKey::from_bytes(&[9u8; 32]);
    let mut checkpoint = Checkpoint {
        ledger: "bench".into(),
        seq: args.events,
        hash: prev.clone(),
        merkle_root: hex::encode(tree.root().unwrap()),
        signed_at: "2026-11-24T10:00:00.000000Z".into(),
        signature: String::new(),
    };
    checkpoint.signature = hex::encode(key.sign(&checkpoint.message()).to_bytes());

    // Baseline: read and parse every line, as any JSON tool must.
    let started = Instant::now();
    let mut parsed = 0u64;
    for line in BufReader::with_capacity(64 * 1024, std::fs::File::open(&path).unwrap()).lines() {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        parsed += u64::from(v.is_object());
    }
    let baseline = started.elapsed().as_secs_f64();

    let options = VerifyOptions {
        checkpoints: vec![checkpoint],
        public_key: Some(key.verifying_key()),
        ..Default::default()
    };
    let time_verify = |file: &std::path::Path| {
        let started = Instant::now();
        let report = verify_reader(
            BufReader::with_capacity(64 * 1024, std::fs::File::open(file).unwrap()),
            &options,
        );
        let seconds = started.elapsed().as_secs_f64();
        std::fs::remove_file(file).unwrap();
        assert!(report.ok(), "{report}");
        assert_eq!(report.head_seq, args.events);
        seconds
    };
    let verify = time_verify(&path);
    let general = time_verify(&spaced);
    assert_eq!(parsed, args.events);

    let rate = |s: f64| args.events as f64 / s;
    println!(
        "export: {} events, {:.1} MB, one core",
        args.events,
        bytes as f64 / 1e6
    );
    println!(
        "{:<34} {:>12} {:>12} {:>10}",
        "", "seconds", "events/s", "÷ parse"
    );
    println!(
        "{:<34} {:>12.2} {:>12.0} {:>10.2}",
        "read + JSON parse (baseline)",
        baseline,
        rate(baseline),
        1.0
    );
    println!(
        "{:<34} {:>12.2} {:>12.0} {:>10.2}",
        "chainbook-audit verify + checkpoint",
        verify,
        rate(verify),
        rate(verify) / rate(baseline)
    );
    println!(
        "{:<34} {:>12.2} {:>12.0} {:>10.2}",
        "  same, not canonical (a space)",
        general,
        rate(general),
        rate(general) / rate(baseline)
    );
}
