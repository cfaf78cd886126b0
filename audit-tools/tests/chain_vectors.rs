//! Goal: every vector of `tests/vectors/chain.json` canonicalises and hashes
//! as recorded, the vectors form one valid chain, the `valid.ndjson` fixture
//! is exactly that chain, and `docs/chain-spec.md` quotes the same bytes and
//! hashes.

use chainbook_audit::{
    canonical_bytes, event_hash, verify_reader, VerifyOptions, GENESIS_PREV_HASH,
};
use serde_json::Value;

const CHAIN: &str = include_str!("../../tests/vectors/chain.json");
const VALID_EXPORT: &str = include_str!("fixtures/valid.ndjson");
const SPEC: &str = include_str!("../../docs/chain-spec.md");

fn vectors() -> Vec<Value> {
    let file: Value = serde_json::from_str(CHAIN).unwrap();
    file["vectors"].as_array().unwrap().clone()
}

#[test]
fn every_chain_vector_has_the_recorded_canonical_bytes_and_hash() {
    for vector in vectors() {
        let event = &vector["event"];
        assert!(
            event.get("hash").is_none(),
            "vectors hold events without `hash`"
        );
        assert_eq!(
            hex::encode(canonical_bytes(event)),
            vector["canonical_utf8_hex"],
            "{event}"
        );
        assert_eq!(event_hash(event), vector["hash"], "{event}");
    }
}

#[test]
fn the_vectors_form_one_valid_chain_of_ledger_acme() {
    let vectors = vectors();
    assert!(vectors.len() >= 6);
    let mut previous = GENESIS_PREV_HASH.to_owned();
    for (index, vector) in vectors.iter().enumerate() {
        let event = &vector["event"];
        assert_eq!(event["ledger"], "acme");
        assert_eq!(event["seq"], index as u64 + 1);
        assert_eq!(event["prev_hash"], previous.as_str());
        previous = vector["hash"].as_str().unwrap().to_owned();
    }
    let types: Vec<&str> = vectors
        .iter()
        .map(|vector| vector["event"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(types[0], "ledger.created");
    assert_eq!(types.last(), Some(&"transaction.reversed"));
}

#[test]
fn the_valid_fixture_is_the_vector_chain_and_verifies() {
    let vectors = vectors();
    let lines: Vec<&str> = VALID_EXPORT.lines().collect();
    assert_eq!(lines.len(), vectors.len());
    for (line, vector) in lines.iter().zip(&vectors) {
        let mut event: Value = serde_json::from_str(line).unwrap();
        let hash = event.as_object_mut().unwrap().remove("hash").unwrap();
        assert_eq!(event, vector["event"]);
        assert_eq!(hash, vector["hash"]);
    }
    let report = verify_reader(VALID_EXPORT.as_bytes(), &VerifyOptions::default());
    assert!(report.ok(), "{report}");
    assert_eq!(
        report.head_hash.as_ref(),
        vectors.last().unwrap()["hash"]
            .as_str()
            .map(str::to_owned)
            .as_ref()
    );
}

#[test]
fn the_spec_quotes_every_vector_byte_for_byte() {
    for vector in vectors() {
        let bytes = hex::decode(vector["canonical_utf8_hex"].as_str().unwrap()).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            SPEC.contains(&text),
            "chain-spec.md lacks canonical text {text}"
        );
        assert!(
            SPEC.contains(vector["hash"].as_str().unwrap()),
            "chain-spec.md lacks {}",
            vector["hash"]
        );
    }
}
