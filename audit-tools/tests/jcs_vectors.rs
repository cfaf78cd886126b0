//! Goal: the canonicaliser agrees byte for byte with an independent RFC 8785
//! implementation on every case of `tests/vectors/jcs.json` (key order by
//! UTF-16 code units, string escapes, ECMAScript number forms).

use chainbook_audit::canonical_bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};

const VECTORS: &str = include_str!("../../tests/vectors/jcs.json");

#[test]
fn every_jcs_vector_canonicalises_to_the_expected_bytes_and_hash() {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    let cases = vectors["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in cases {
        let input: Value = serde_json::from_str(case["input_json"].as_str().unwrap()).unwrap();
        let bytes = canonical_bytes(&input);
        let expected = case["canonical_utf8_hex"].as_str().unwrap();
        if hex::encode(&bytes) != expected {
            failures.push(format!(
                "input {}\n  got      {}\n  expected {}",
                case["input_json"],
                String::from_utf8_lossy(&bytes),
                String::from_utf8_lossy(&hex::decode(expected).unwrap())
            ));
        }
        assert_eq!(
            hex::encode(Sha256::digest(hex::decode(expected).unwrap())),
            case["sha256"]
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
