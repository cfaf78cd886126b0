//! What a verification found, and the two ways of printing it.

use serde::Serialize;
use std::fmt;

/// Options of one verification.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// A head `(seq, hash)` recorded earlier from the service's
    /// `GET /v1/ledgers/{l}/chain/head`. The export must reach that seq and
    /// carry that hash there; it may go further. Without such an anchor an
    /// export whose last events were cut off would still be a valid chain.
    pub expect_head: Option<(u64, String)>,
    /// Signed checkpoints the auditor kept: each signature must hold under
    /// `public_key`, and the export must carry, at each checkpoint's seq, its
    /// hash and (over events 1..seq) its Merkle root.
    pub checkpoints: Vec<crate::checkpoint::Checkpoint>,
    pub public_key: Option<ed25519_dalek::VerifyingKey>,
}

/// The outcome of verifying one export. On failure, `events`, `head_seq` and
/// `head_hash` describe the valid prefix before the first bad event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The `ledger` of line 1, once line 1 has been read.
    pub ledger: Option<String>,
    /// Number of events that passed every check.
    pub events: u64,
    /// `seq` of the last event that passed every check (0 if none did).
    pub head_seq: u64,
    /// `hash` of that event.
    pub head_hash: Option<String>,
    /// The first failure, or `None` if everything holds.
    pub failure: Option<Failure>,
}

/// The first thing found wrong. Verification stops there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The first bad seq: the line's own seq, or the expected one when the
    /// line's seq cannot be read or is not the expected one.
    pub seq: u64,
    /// 1-based line number in the export (for a failure found at the end of
    /// the input, the line where the missing event would have been).
    pub line: u64,
    pub kind: FailureKind,
    pub reason: String,
}

/// Stable failure kinds. Their slugs are part of the tool's interface and are
/// never renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The line is not one JSON object (or repeats a member name, or is too long).
    MalformedJson,
    /// A mandatory member is missing or has the wrong type or format.
    MissingMember,
    /// The line's `ledger` differs from line 1's.
    WrongLedger,
    /// The line's `seq` is not the previous one plus 1 (gap, repeat, reorder).
    SeqGap,
    /// `prev_hash` is not the previous event's `hash` (64 zeros for seq 1).
    PrevHashMismatch,
    /// The recomputed hash differs from the `hash` member.
    HashMismatch,
    /// A posting is malformed or its amount is not a positive decimal.
    BadPosting,
    /// Debits and credits differ in some currency.
    Unbalanced,
    /// The export ends before the expected head seq.
    MissingHead,
    /// At the expected head seq the export carries another hash.
    HeadHashMismatch,
    /// The export holds no line at all.
    EmptyExport,
    /// The input could not be read.
    Io,
    /// A checkpoint's signature does not hold under the public key.
    CheckpointSignatureInvalid,
    /// At a checkpoint's seq the export has another hash or Merkle root: the
    /// history the checkpoint signed was rewritten.
    CheckpointMismatch,
    /// A checkpoint is for a seq the export does not reach, or another ledger.
    CheckpointBeyondExport,
}

impl FailureKind {
    /// The stable slug, e.g. `hash-mismatch`.
    pub fn slug(&self) -> &'static str {
        match self {
            FailureKind::MalformedJson => "malformed-json",
            FailureKind::MissingMember => "missing-member",
            FailureKind::WrongLedger => "wrong-ledger",
            FailureKind::SeqGap => "seq-gap",
            FailureKind::PrevHashMismatch => "prev-hash-mismatch",
            FailureKind::HashMismatch => "hash-mismatch",
            FailureKind::BadPosting => "bad-posting",
            FailureKind::Unbalanced => "unbalanced",
            FailureKind::MissingHead => "missing-head",
            FailureKind::HeadHashMismatch => "head-hash-mismatch",
            FailureKind::EmptyExport => "empty-export",
            FailureKind::Io => "io",
            FailureKind::CheckpointSignatureInvalid => "checkpoint-signature-invalid",
            FailureKind::CheckpointMismatch => "checkpoint-mismatch",
            FailureKind::CheckpointBeyondExport => "checkpoint-beyond-export",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str(self.slug())
    }
}

impl Report {
    /// True when no failure was found.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    /// The report as one JSON object:
    /// `{"ok", "ledger", "events", "head_seq", "head_hash", "failure"}`.
    pub fn to_json(&self) -> serde_json::Value {
        #[derive(Serialize)]
        struct WithOk<'a> {
            ok: bool,
            #[serde(flatten)]
            report: &'a Report,
        }
        serde_json::to_value(WithOk {
            ok: self.ok(),
            report: self,
        })
        .expect("a report always serialises")
    }
}

/// The one-line human summary:
/// `OK ledger acme: 7 events, head seq 7 hash …` or
/// `FAIL at seq 4 (line 4): hash-mismatch: …`.
impl fmt::Display for Report {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        match &self.failure {
            Some(failure) => write!(
                formatter,
                "FAIL at seq {} (line {}): {}: {}",
                failure.seq, failure.line, failure.kind, failure.reason
            ),
            None => write!(
                formatter,
                "OK ledger {}: {} events, head seq {} hash {}",
                self.ledger.as_deref().unwrap_or(""),
                self.events,
                self.head_seq,
                self.head_hash.as_deref().unwrap_or("")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_KINDS: [FailureKind; 12] = [
        FailureKind::MalformedJson,
        FailureKind::MissingMember,
        FailureKind::WrongLedger,
        FailureKind::SeqGap,
        FailureKind::PrevHashMismatch,
        FailureKind::HashMismatch,
        FailureKind::BadPosting,
        FailureKind::Unbalanced,
        FailureKind::MissingHead,
        FailureKind::HeadHashMismatch,
        FailureKind::EmptyExport,
        FailureKind::Io,
    ];

    #[test]
    fn the_json_form_of_a_kind_is_its_slug() {
        for kind in ALL_KINDS {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.slug());
        }
    }

    #[test]
    fn the_json_report_carries_ok_and_every_field() {
        let report = Report {
            ledger: Some("acme".into()),
            events: 3,
            head_seq: 3,
            head_hash: Some("ab".into()),
            failure: Some(Failure {
                seq: 4,
                line: 4,
                kind: FailureKind::SeqGap,
                reason: "expected seq 4, found seq 5".into(),
            }),
        };
        let json = report.to_json();
        assert_eq!(json["ok"], false);
        assert_eq!(json["head_seq"], 3);
        assert_eq!(json["failure"]["kind"], "seq-gap");
        assert_eq!(
            report.to_string(),
            "FAIL at seq 4 (line 4): seq-gap: expected seq 4, found seq 5"
        );
    }
}
