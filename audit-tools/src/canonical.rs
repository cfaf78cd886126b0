//! RFC 8785 (JCS) canonical serialisation and the event hash built on it.
//!
//! The `serde_jcs` crate does the canonicalisation: it sorts member names by
//! UTF-16 code units and prints numbers the ECMAScript way, and it passes
//! every case of `tests/vectors/jcs.json`.

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// `prev_hash` of the first event of every ledger: 64 zeros.
pub const GENESIS_PREV_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// The RFC 8785 canonical UTF-8 bytes of `value`.
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    canonical(value)
}

/// Lowercase hex SHA-256 of the canonical bytes of an event object from which
/// the `hash` member has already been removed.
pub fn event_hash(event_without_hash: &Value) -> String {
    hex::encode(Sha256::digest(canonical(event_without_hash)))
}

/// `event_hash` of an event's members, without wrapping them in a `Value`
/// (the verifier holds the members it has just taken `hash` out of).
pub(crate) fn members_hash(members_without_hash: &Map<String, Value>) -> String {
    hex::encode(Sha256::digest(canonical(members_without_hash)))
}

fn canonical<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // JSON values hold only finite numbers and valid strings, the two things
    // that could make canonical serialisation fail, so failure here is a bug.
    serde_jcs::to_vec(value).expect("a JSON value always canonicalises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn member_names_are_sorted_and_whitespace_dropped() {
        let bytes = canonical_bytes(&json!({"b": [1, 2], "a": {"d": null, "c": true}}));
        assert_eq!(bytes, br#"{"a":{"c":true,"d":null},"b":[1,2]}"#);
    }

    #[test]
    fn the_hash_is_lowercase_hex_sha256_of_the_canonical_bytes() {
        // SHA-256 of the two bytes `{}`.
        assert_eq!(
            event_hash(&json!({})),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
