//! Goal: `verify_reader` reports the right kind, seq and line for each way an
//! export line can be wrong, starting from the valid fixture and changing one
//! thing at a time.

use chainbook_audit::limits::LINE_BYTES_MAX;
use chainbook_audit::{event_hash, verify_reader, FailureKind, Report, VerifyOptions};
use serde_json::{json, Value};
use std::io::{self, BufReader, Read};

const VALID_EXPORT: &str = include_str!("fixtures/valid.ndjson");

fn events() -> Vec<Value> {
    VALID_EXPORT
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn export(events: &[Value]) -> String {
    events.iter().map(|event| format!("{event}\n")).collect()
}

/// Recomputes `hash` and `prev_hash` from `from` (0-based) on, as a forger
/// with write access to the whole log would.
fn relink(events: &mut [Value], from: usize) {
    for index in from..events.len() {
        if index > 0 {
            events[index]["prev_hash"] = events[index - 1]["hash"].clone();
        }
        events[index].as_object_mut().unwrap().remove("hash");
        events[index]["hash"] = json!(event_hash(&events[index]));
    }
}

fn verify(text: &str) -> Report {
    verify_reader(text.as_bytes(), &VerifyOptions::default())
}

fn failure_of(report: &Report) -> (u64, u64, FailureKind) {
    let failure = report.failure.as_ref().expect("a failure");
    (failure.seq, failure.line, failure.kind)
}

#[test]
fn the_valid_export_reports_its_ledger_and_head() {
    let report = verify(VALID_EXPORT);
    assert!(report.ok(), "{report}");
    assert_eq!(report.ledger.as_deref(), Some("acme"));
    assert_eq!((report.events, report.head_seq), (7, 7));
    assert_eq!(
        report.head_hash.as_ref().unwrap(),
        events()[6]["hash"].as_str().unwrap()
    );
}

#[test]
fn an_export_without_lines_is_empty() {
    let report = verify("");
    assert_eq!(failure_of(&report), (1, 1, FailureKind::EmptyExport));
    assert_eq!(report.head_hash, None);
}

#[test]
fn a_blank_line_or_a_non_object_is_malformed_and_names_the_expected_seq() {
    let lines: Vec<&str> = VALID_EXPORT.lines().collect();
    for bad in ["", "[1, 2]", "{\"ledger\": ", "\"acme\""] {
        let text = format!("{}\n{}\n{bad}\n", lines[0], lines[1]);
        assert_eq!(
            failure_of(&verify(&text)),
            (3, 3, FailureKind::MalformedJson),
            "{bad:?}"
        );
    }
}

#[test]
fn a_line_that_is_not_utf8_is_malformed() {
    let mut bytes = VALID_EXPORT.lines().next().unwrap().as_bytes().to_vec();
    bytes.extend_from_slice(b"\n{\"ledger\": \"\xff\"}\n");
    let report = verify_reader(&bytes[..], &VerifyOptions::default());
    assert_eq!(failure_of(&report), (2, 2, FailureKind::MalformedJson));
}

#[test]
fn a_repeated_member_name_is_malformed_even_with_a_valid_hash() {
    let first = VALID_EXPORT.lines().next().unwrap();
    let doubled = first.replacen("\"seq\":1,", "\"seq\":1,\"seq\":1,", 1);
    assert_eq!(
        failure_of(&verify(&doubled)),
        (1, 1, FailureKind::MalformedJson)
    );
}

#[test]
fn a_line_over_the_limit_is_refused_without_being_buffered_whole() {
    let text = format!("{{\"pad\": \"{}\"}}\n", "x".repeat(LINE_BYTES_MAX));
    let report = verify(&text);
    assert_eq!(failure_of(&report), (1, 1, FailureKind::MalformedJson));
    assert!(report.failure.unwrap().reason.contains("longer than"));
}

#[test]
fn each_missing_or_mistyped_member_is_named_at_the_lines_own_seq() {
    let cases = [
        ("ledger", None),
        ("id", Some(json!("not-a-uuid"))),
        ("type", Some(json!(7))),
        ("recorded_at", Some(json!("2026-03-31T09:28:52Z"))),
        ("prev_hash", Some(json!("ABC"))),
        ("postings", Some(json!({}))),
        ("data", Some(json!([]))),
        ("hash", None),
    ];
    for (name, replacement) in cases {
        let mut events = events();
        match replacement {
            Some(value) => events[3][name] = value,
            None => drop(events[3].as_object_mut().unwrap().remove(name)),
        }
        let report = verify(&export(&events));
        assert_eq!(
            failure_of(&report),
            (4, 4, FailureKind::MissingMember),
            "{name}"
        );
        assert!(report.failure.unwrap().reason.contains(name));
    }
}

#[test]
fn an_unreadable_seq_is_reported_as_the_expected_seq() {
    let mut events = events();
    events[3]["seq"] = json!("4");
    assert_eq!(
        failure_of(&verify(&export(&events))),
        (4, 4, FailureKind::MissingMember)
    );
}

#[test]
fn a_repeated_event_is_a_seq_gap() {
    let mut events = events();
    events.insert(3, events[2].clone());
    let report = verify(&export(&events));
    assert_eq!(failure_of(&report), (4, 4, FailureKind::SeqGap));
    assert!(report.failure.unwrap().reason.contains("found seq 3"));
}

#[test]
fn the_first_event_must_be_seq_1_with_a_zero_prev_hash() {
    let events = events();
    assert_eq!(
        failure_of(&verify(&export(&events[1..]))),
        (1, 1, FailureKind::SeqGap)
    );
    let mut forged = events.clone();
    forged[0]["prev_hash"] = json!("1".repeat(64));
    relink(&mut forged, 0);
    assert_eq!(
        failure_of(&verify(&export(&forged))),
        (1, 1, FailureKind::PrevHashMismatch)
    );
}

#[test]
fn an_added_unknown_member_is_covered_by_the_hash() {
    let mut events = events();
    events[4]["note"] = json!("added later");
    assert_eq!(
        failure_of(&verify(&export(&events))),
        (5, 5, FailureKind::HashMismatch)
    );
    relink(&mut events, 4);
    assert!(
        verify(&export(&events)).ok(),
        "unknown members are allowed when hashed"
    );
}

#[test]
fn a_rehashed_bad_posting_is_refused() {
    for (field, value) in [
        ("debit", json!("0.00")),
        ("debit", json!(119)),
        ("currency", json!("")),
    ] {
        let mut events = events();
        events[3]["postings"][0][field] = value;
        relink(&mut events, 3);
        assert_eq!(
            failure_of(&verify(&export(&events))),
            (4, 4, FailureKind::BadPosting),
            "{field}"
        );
    }
}

#[test]
fn the_recorded_head_must_be_reached_and_match() {
    let events = events();
    let head_6 = events[5]["hash"].as_str().unwrap().to_owned();
    let anchored = |seq: u64, hash: &str, text: &str| {
        verify_reader(
            text.as_bytes(),
            &VerifyOptions {
                expect_head: Some((seq, hash.to_owned())),
                ..Default::default()
            },
        )
    };
    assert!(anchored(6, &head_6, VALID_EXPORT).ok());
    assert!(anchored(6, &head_6, &export(&events[..6])).ok());
    let report = anchored(6, &head_6, &export(&events[..4]));
    assert_eq!(failure_of(&report), (5, 5, FailureKind::MissingHead));
    assert_eq!(report.head_seq, 4);
    let report = anchored(6, &"0".repeat(64), VALID_EXPORT);
    assert_eq!(failure_of(&report), (6, 6, FailureKind::HeadHashMismatch));
    assert_eq!(report.head_seq, 5);
}

/// A reader that yields the valid export and then breaks.
struct Broken(io::Chain<&'static [u8], Failing>);
struct Failing;

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::other("disk on fire"))
    }
}

impl Read for Broken {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.0.read(buffer)
    }
}

#[test]
fn a_read_error_is_an_io_failure_after_the_valid_prefix() {
    let reader = BufReader::new(Broken(VALID_EXPORT.as_bytes().chain(Failing)));
    let report = verify_reader(reader, &VerifyOptions::default());
    assert_eq!(failure_of(&report), (8, 8, FailureKind::Io));
    assert_eq!(report.events, 7);
}

#[test]
fn a_long_chain_streams_through() {
    // 3,000 events made on the fly: the verifier must handle a chain far
    // longer than the fixtures without any per-event state.
    let template = events()[1].clone();
    let mut previous = events()[0]["hash"].as_str().unwrap().to_owned();
    let mut text = format!("{}\n", VALID_EXPORT.lines().next().unwrap());
    for seq in 2..=3_000u64 {
        let mut event = template.clone();
        event.as_object_mut().unwrap().remove("hash");
        event["seq"] = json!(seq);
        event["prev_hash"] = json!(previous);
        previous = event_hash(&event);
        event["hash"] = json!(previous);
        text.push_str(&format!("{event}\n"));
    }
    let report = verify(&text);
    assert!(report.ok(), "{report}");
    assert_eq!(report.head_seq, 3_000);
}
