//! RFC 8785 (JCS) canonical JSON. Whole values go through `serde_jcs`; the event
//! envelope is assembled from canonical pieces in `event.rs`, and a property test there
//! checks the assembly against `serde_jcs` on the whole object.

use serde_json::Value;

/// The canonical bytes of any JSON value.
pub fn to_vec(value: &Value) -> Vec<u8> {
    // Serialising a `Value` cannot fail: its keys are strings and its numbers finite.
    serde_jcs::to_vec(value).expect("a JSON value always canonicalises")
}

pub fn to_string(value: &Value) -> String {
    String::from_utf8(to_vec(value)).expect("canonical JSON is UTF-8")
}

/// A string literal in canonical form. JCS escapes exactly what ECMAScript's
/// `JSON.stringify` escapes, which is also what serde_json escapes.
pub fn string(s: &str) -> String {
    serde_json::to_string(s).expect("a str always serialises")
}

/// [`string`], appended to `out`.
pub fn write_string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("a str always serialises into a Vec");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vectors {
        cases: Vec<Case>,
    }

    #[derive(serde::Deserialize)]
    struct Case {
        input_json: String,
        canonical_utf8_hex: String,
    }

    /// The independent RFC 8785 cases (key order by UTF-16 units, escapes, numbers).
    #[test]
    fn independent_jcs_vectors_pass() {
        let text = include_str!("../../tests/vectors/jcs.json");
        let vectors: Vectors = serde_json::from_str(text).unwrap();
        assert!(!vectors.cases.is_empty());
        for case in vectors.cases {
            let value: Value = serde_json::from_str(&case.input_json).unwrap();
            assert_eq!(
                hex::encode(to_vec(&value)),
                case.canonical_utf8_hex,
                "{}",
                case.input_json
            );
        }
    }

    #[test]
    fn string_literals_match_whole_value_canonicalisation() {
        for s in [
            "plain",
            "caf\u{e9} \u{20ac}",
            "q\"b\\s\n\t\u{1}\u{7f}\u{2028}",
            "😀",
        ] {
            assert_eq!(string(s), to_string(&Value::String(s.into())));
        }
    }
}
