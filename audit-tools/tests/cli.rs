//! Goal: the `chainbook-audit` binary catches each kind of tampering in the
//! fixtures (derived from `tests/vectors/chain.json`), names the first bad
//! seq, and exits 0 only for an intact export.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const HEAD_SEQ_6_HASH: &str = "a345231f5fcd750461b0d9b211c98e1fa17a740cabab0f1caf70cde2969f6f41";
const HEAD_SEQ_7_HASH: &str = "fcce1a270315b3cdb3312d973cd87cb797b15d996eddbadc7b5d0b6f1f46adff";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn audit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chainbook-audit"))
        .args(args)
        .output()
        .expect("run chainbook-audit")
}

fn verify(name: &str, extra: &[&str]) -> (i32, String) {
    let path = fixture(name);
    let mut args = vec!["verify", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = audit(&args);
    (
        output.status.code().expect("exit code"),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[test]
fn an_intact_export_exits_0_with_a_summary() {
    let (code, stdout) = verify("valid.ndjson", &[]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        stdout.trim(),
        format!("OK ledger acme: 7 events, head seq 7 hash {HEAD_SEQ_7_HASH}")
    );
}

#[test]
fn a_changed_amount_is_a_hash_mismatch_at_its_seq() {
    let (code, stdout) = verify("amount-changed.ndjson", &[]);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("FAIL at seq 4 (line 4): hash-mismatch: "),
        "{stdout}"
    );
}

#[test]
fn an_event_deleted_from_the_middle_is_a_seq_gap_naming_the_missing_seq() {
    let (code, stdout) = verify("deleted-middle.ndjson", &[]);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("FAIL at seq 4 (line 4): seq-gap: expected seq 4, found seq 5"),
        "{stdout}"
    );
}

#[test]
fn two_swapped_events_are_a_seq_gap() {
    let (code, stdout) = verify("swapped.ndjson", &[]);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("FAIL at seq 4 (line 4): seq-gap: "),
        "{stdout}"
    );
}

#[test]
fn a_rehashed_unbalanced_entry_is_caught_by_the_balance_check() {
    let (code, stdout) = verify("unbalanced.ndjson", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        stdout.trim(),
        "FAIL at seq 4 (line 4): unbalanced: EUR debits 119.00 != credits 109.00"
    );
}

#[test]
fn a_rewritten_event_whose_successor_was_not_relinked_breaks_the_link() {
    let (code, stdout) = verify("rehashed-not-relinked.ndjson", &[]);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("FAIL at seq 5 (line 5): prev-hash-mismatch: "),
        "{stdout}"
    );
}

#[test]
fn an_event_of_another_ledger_is_refused() {
    let (code, stdout) = verify("wrong-ledger.ndjson", &[]);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("FAIL at seq 3 (line 3): wrong-ledger: "),
        "{stdout}"
    );
}

#[test]
fn a_truncated_export_is_valid_alone_but_fails_against_the_recorded_head() {
    assert_eq!(verify("truncated.ndjson", &[]).0, 0);
    let anchor = format!("6:{HEAD_SEQ_6_HASH}");
    let (code, stdout) = verify("truncated.ndjson", &["--expect-head", &anchor]);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("FAIL at seq 6 (line 6): missing-head: "),
        "{stdout}"
    );
}

#[test]
fn an_export_that_goes_past_the_recorded_head_is_fine() {
    let anchor = format!("6:{}", HEAD_SEQ_6_HASH.to_uppercase());
    assert_eq!(verify("valid.ndjson", &["--expect-head", &anchor]).0, 0);
}

#[test]
fn a_different_hash_at_the_recorded_head_is_reported() {
    let anchor = format!("6:{HEAD_SEQ_7_HASH}");
    let (code, stdout) = verify("valid.ndjson", &["--expect-head", &anchor]);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("FAIL at seq 6 (line 6): head-hash-mismatch: "),
        "{stdout}"
    );
}

#[test]
fn a_malformed_anchor_is_a_usage_error() {
    let path = fixture("valid.ndjson");
    let zero_seq = format!("0:{HEAD_SEQ_6_HASH}");
    for anchor in ["6", zero_seq.as_str(), "6:abc"] {
        let output = audit(&["verify", path.to_str().unwrap(), "--expect-head", anchor]);
        assert_eq!(output.status.code(), Some(2), "{anchor}");
    }
}

#[test]
fn standard_input_is_read_when_the_file_is_a_dash() {
    let export = std::fs::read(fixture("valid.ndjson")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chainbook-audit"))
        .args(["verify", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&export).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8(output.stdout)
        .unwrap()
        .starts_with("OK ledger acme: 7 events"));
}

#[test]
fn json_output_is_one_object_with_the_failure() {
    let (code, stdout) = verify("deleted-middle.ndjson", &["--json"]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["ledger"], "acme");
    assert_eq!(report["events"], 3);
    assert_eq!(report["head_seq"], 3);
    assert_eq!(report["failure"]["seq"], 4);
    assert_eq!(report["failure"]["line"], 4);
    assert_eq!(report["failure"]["kind"], "seq-gap");

    let (code, stdout) = verify("valid.ndjson", &["--json"]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["head_hash"], HEAD_SEQ_7_HASH);
    assert!(report["failure"].is_null());
}

#[test]
fn a_missing_file_is_an_io_failure() {
    let (code, stdout) = verify("no-such-file.ndjson", &[]);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("FAIL at seq 1 (line 0): io: cannot open "),
        "{stdout}"
    );
}
