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
    let mut hasher = Sha256::new();
    if plain(members_without_hash) {
        // serde_json writes exactly RFC 8785 here (see `plain`), several times
        // faster than the general canonicaliser, straight into the hash.
        serde_json::to_writer(HashWriter(&mut hasher), members_without_hash)
            .expect("writing into a hash cannot fail");
    } else {
        hasher.update(canonical(members_without_hash));
    }
    hex::encode(hasher.finalize())
}

/// Whether serde_json's output for these members is their RFC 8785 form: its maps
/// keep names sorted by UTF-8 bytes, which is the UTF-16 order RFC 8785 wants unless
/// a name holds a character at or above U+E000; it escapes strings as RFC 8785 does
/// (`\"`, `\\`, `\b \f \n \r \t`, other controls as lowercase `\u00xx`,
/// nothing else); and it writes integers up to 2^53 as RFC 8785 does. Other numbers
/// take the general path, which formats numbers the ECMAScript way.
fn plain(members: &Map<String, Value>) -> bool {
    fn value(v: &Value) -> bool {
        match v {
            // Integers a double holds exactly print the same either way.
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => i.unsigned_abs() <= 1 << 53,
                (None, Some(u)) => u <= 1 << 53,
                _ => false,
            },
            Value::Array(items) => items.iter().all(value),
            Value::Object(map) => plain(map),
            _ => true,
        }
    }
    members
        .iter()
        .all(|(name, v)| name.chars().all(|c| c < '\u{e000}') && value(v))
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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

    use proptest::prelude::*;

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            "\\PC{0,8}|[\u{0}-\u{1f}\"\\\\/\u{7f}\u{e000}\u{ffff}\u{10000}😀]{0,6}"
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("\\PC{0,6}|[a\u{e000}😀\u{1}]{0,3}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The fast path hashes exactly what the general canonicaliser would.
        #[test]
        fn the_fast_path_agrees_with_the_canonicaliser(members in prop::collection::btree_map("\\PC{0,6}|[a\u{e000}😀]{0,3}", arb_json(), 0..6)) {
            let map: Map<String, Value> = members.into_iter().collect();
            prop_assert_eq!(members_hash(&map), hex::encode(Sha256::digest(canonical(&map))));
        }
    }

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
