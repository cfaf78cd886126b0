//! The mandatory members of an exported event, their JSON types and formats.
//!
//! Only the members the chain rules need are read; `data` and any unknown
//! member are opaque here (they are still covered by the hash).

use serde_json::{Map, Value};

/// What ties an event to the chain: the members every check past a single line
/// reads (the link to the head, the recorded head, the checkpoints).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Link<'a> {
    pub ledger: &'a str,
    pub seq: u64,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

/// The members of one event that the chain rules look at, borrowed from the
/// parsed line. `hash` is passed in separately because the verifier removes it
/// from the object before hashing the rest.
#[derive(Debug)]
pub(crate) struct Members<'a> {
    pub link: Link<'a>,
    pub postings: &'a [Value],
}

/// The `seq` of an event if it can be read at all, used to name a failure
/// found before the event's members were accepted.
pub(crate) fn readable_seq(event: &Map<String, Value>) -> Option<u64> {
    event.get("seq").and_then(Value::as_u64)
}

/// Checks every mandatory member, in the order they are listed in the spec,
/// and returns the first problem as a sentence.
pub(crate) fn read<'a>(
    event: &'a Map<String, Value>,
    hash: Option<&'a Value>,
) -> Result<Members<'a>, String> {
    let ledger = non_empty_string(event, "ledger")?;
    let seq = match event.get("seq") {
        None => return Err(missing("seq")),
        Some(value) => value
            .as_u64()
            .ok_or("member `seq` must be a non-negative integer")?,
    };
    let id = non_empty_string(event, "id")?;
    if !is_uuid(id) {
        return Err(format!("member `id` is not a uuid: {id:?}"));
    }
    non_empty_string(event, "type")?;
    let recorded_at = non_empty_string(event, "recorded_at")?;
    if !is_recorded_at(recorded_at) {
        return Err(format!(
            "member `recorded_at` is not RFC 3339 UTC with 6 fractional digits: {recorded_at:?}"
        ));
    }
    let prev_hash = hash_hex(event.get("prev_hash"), "prev_hash")?;
    let postings = match event.get("postings") {
        None => return Err(missing("postings")),
        Some(value) => value
            .as_array()
            .ok_or("member `postings` must be an array")?,
    };
    match event.get("data") {
        None => return Err(missing("data")),
        Some(value) if !value.is_object() => return Err("member `data` must be an object".into()),
        Some(_) => {}
    }
    let hash = hash_hex(hash, "hash")?;
    Ok(Members {
        link: Link {
            ledger,
            seq,
            prev_hash,
            hash,
        },
        postings,
    })
}

fn missing(name: &str) -> String {
    format!("member `{name}` is missing")
}

fn non_empty_string<'a>(event: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    match event.get(name) {
        None => Err(missing(name)),
        Some(Value::String(text)) if !text.is_empty() => Ok(text),
        Some(_) => Err(format!("member `{name}` must be a non-empty string")),
    }
}

fn hash_hex<'a>(value: Option<&'a Value>, name: &str) -> Result<&'a str, String> {
    match value {
        None => Err(missing(name)),
        Some(Value::String(text)) if is_hash_hex(text) => Ok(text),
        Some(_) => Err(format!("member `{name}` must be 64 lowercase hex digits")),
    }
}

/// 64 lowercase hex digits: the only spelling of a SHA-256 the format allows,
/// so that equal hashes are equal strings.
pub(crate) fn is_hash_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The hyphenated 8-4-4-4-12 hex form of a uuid (either case; the hash
/// covers the exact spelling, so the case cannot be altered unnoticed).
pub(crate) fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` naming a real calendar instant: RFC 3339 in
/// UTC with exactly microsecond precision, as the service records it.
pub(crate) fn is_recorded_at(text: &str) -> bool {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 27
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            10 => *byte == b'T',
            13 | 16 => *byte == b':',
            19 => *byte == b'.',
            26 => *byte == b'Z',
            _ => byte.is_ascii_digit(),
        });
    if !shape_ok {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> u32 { text[range].parse().unwrap_or(u32::MAX) };
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
        && number(11..13) <= 23
        && number(14..16) <= 59
        && number(17..19) <= 59
}

fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_at_needs_utc_and_exactly_six_fractional_digits() {
        assert!(is_recorded_at("2026-11-24T18:57:18.123456Z"));
        assert!(is_recorded_at("2024-02-29T23:59:59.000000Z"));
        assert!(!is_recorded_at("2026-11-24T18:57:18.12345Z"));
        assert!(!is_recorded_at("2026-11-24T18:57:18.1234567Z"));
        assert!(!is_recorded_at("2026-11-24T18:57:18.123456+00:00"));
        assert!(!is_recorded_at("2026-11-24t18:57:18.123456z"));
        assert!(!is_recorded_at("2025-02-29T00:00:00.000000Z"));
        assert!(!is_recorded_at("2026-13-01T00:00:00.000000Z"));
        assert!(!is_recorded_at("2026-01-01T24:00:00.000000Z"));
    }

    #[test]
    fn a_uuid_is_hyphenated_hex() {
        assert!(is_uuid("0195e7a0-1c00-7000-8000-000000000001"));
        assert!(is_uuid("0195E7A0-1C00-7000-8000-00000000000A"));
        assert!(!is_uuid("0195e7a01c0070008000000000000001"));
        assert!(!is_uuid("0195e7a0-1c00-7000-8000-00000000000g"));
    }

    #[test]
    fn a_hash_is_64_lowercase_hex_digits() {
        assert!(is_hash_hex(&"ab".repeat(32)));
        assert!(!is_hash_hex(&"AB".repeat(32)));
        assert!(!is_hash_hex(&"ab".repeat(31)));
    }
}
