//! The streaming verification of an export: one line at a time, in constant
//! memory, stopping at the first failure.

use crate::canonical::{members_hash, GENESIS_PREV_HASH};
use crate::canonical_line;
use crate::checkpoint::Checkpoint;
use crate::limits::LINE_BYTES_MAX;
use crate::members::{self, Link};
use crate::merkle::{from_hex, Digest32, RootBuilder};
use crate::postings::{self, PostingError};
use crate::report::{Failure, FailureKind, Report, VerifyOptions};
use crate::strict_json;
use serde_json::Value;
use std::io::{self, BufRead, Read};

/// Verifies an NDJSON export read from `reader` and reports the first failure,
/// if any. Memory stays bounded by the longest line, whatever the log's
/// length: one line buffer is reused and no event is kept.
pub fn verify_reader<R: BufRead>(reader: R, options: &VerifyOptions) -> Report {
    run(reader, options, None)
}

/// `verify_reader`, handing each event that passed every check to `observe`.
pub fn verify_reader_with<R: BufRead>(
    reader: R,
    options: &VerifyOptions,
    mut observe: impl FnMut(&serde_json::Map<String, Value>),
) -> Report {
    run(reader, options, Some(&mut observe))
}

/// What sees each event that passed every check.
type Observer<'a> = dyn FnMut(&serde_json::Map<String, Value>) + 'a;

/// Without an observer, a line already in canonical form is checked on its
/// bytes (`canonical_line`); every other line, and every line when the
/// observer needs the parsed event, takes the general path.
fn run<R: BufRead>(
    mut reader: R,
    options: &VerifyOptions,
    mut observe: Option<&mut Observer>,
) -> Report {
    let mut chain = Chain::new(options);
    if let Some(failure) = chain.check_signatures() {
        return chain.report(Some(failure));
    }
    let mut line = Vec::with_capacity(8 * 1024);
    loop {
        line.clear();
        match read_line(&mut reader, &mut line) {
            Ok(0) => return chain.finish(),
            Ok(_) => chain.line += 1,
            Err(error) => {
                // The failure belongs to the line that could not be read.
                chain.line += 1;
                let failure =
                    chain.failure(FailureKind::Io, chain.expected_seq(), error.to_string());
                return chain.report(Some(failure));
            }
        }
        let outcome = match observe.as_mut() {
            Some(observe) => chain.accept(&line).map(|event| observe(&event)),
            None => match canonical_line::read(&line).filter(|_| line.len() <= LINE_BYTES_MAX) {
                Some(checked) => chain
                    .check_link(&checked.link)
                    .and_then(|()| chain.advance(&checked.link, &checked.digest)),
                None => chain.accept(&line).map(drop),
            },
        };
        if let Err(failure) = outcome {
            return chain.report(Some(failure));
        }
    }
}

/// Reads one line, newline included, refusing to buffer more than
/// `LINE_BYTES_MAX` bytes of it (one byte more is read to tell "too long").
fn read_line<R: BufRead>(reader: &mut R, line: &mut Vec<u8>) -> io::Result<usize> {
    reader
        .take(LINE_BYTES_MAX as u64 + 1)
        .read_until(b'\n', line)
}

/// What the verifier remembers between lines: the ledger and the last valid
/// seq and hash. Nothing here grows with the log.
struct Chain<'o> {
    anchor: Option<(u64, &'o str)>,
    /// The checkpoints by seq, and the Merkle root of the events so far
    /// (O(log n) state).
    checkpoints: Vec<&'o Checkpoint>,
    public_key: Option<&'o ed25519_dalek::VerifyingKey>,
    tree: RootBuilder,
    ledger: Option<String>,
    line: u64,
    head_seq: u64,
    head_hash: String,
}

impl<'o> Chain<'o> {
    fn new(options: &'o VerifyOptions) -> Self {
        Chain {
            anchor: options
                .expect_head
                .as_ref()
                .map(|(seq, hash)| (*seq, hash.as_str())),
            checkpoints: {
                let mut list: Vec<&Checkpoint> = options.checkpoints.iter().collect();
                list.sort_by_key(|c| c.seq);
                list
            },
            public_key: options.public_key.as_ref(),
            tree: RootBuilder::default(),
            ledger: None,
            line: 0,
            head_seq: 0,
            head_hash: GENESIS_PREV_HASH.to_owned(),
        }
    }

    fn expected_seq(&self) -> u64 {
        self.head_seq + 1
    }

    fn failure(&self, kind: FailureKind, seq: u64, reason: String) -> Failure {
        Failure {
            seq,
            line: self.line,
            kind,
            reason,
        }
    }

    /// Runs every check on one line, in the order the spec lists them, and
    /// moves the head forward if they all hold.
    fn accept(&mut self, line: &[u8]) -> Result<serde_json::Map<String, Value>, Failure> {
        let expected = self.expected_seq();
        if line.len() > LINE_BYTES_MAX {
            let reason = format!("line is longer than {LINE_BYTES_MAX} bytes");
            return Err(self.failure(FailureKind::MalformedJson, expected, reason));
        }
        let value = strict_json::parse(line).map_err(|error| {
            // Each parse sees one line, so serde_json's line number is always 1.
            let reason = error
                .to_string()
                .replace(" at line 1 column ", " at column ");
            self.failure(FailureKind::MalformedJson, expected, reason)
        })?;
        let Value::Object(mut event) = value else {
            let reason = "line is not a JSON object".to_owned();
            return Err(self.failure(FailureKind::MalformedJson, expected, reason));
        };
        let claimed_hash = event.remove("hash");
        let members = members::read(&event, claimed_hash.as_ref()).map_err(|reason| {
            let seq = members::readable_seq(&event).unwrap_or(expected);
            self.failure(FailureKind::MissingMember, seq, reason)
        })?;
        let link = &members.link;
        self.check_link(link)?;
        let recomputed = members_hash(&event);
        if recomputed != link.hash {
            let reason = format!(
                "recomputed hash {recomputed} differs from member hash {}",
                link.hash
            );
            return Err(self.failure(FailureKind::HashMismatch, link.seq, reason));
        }
        postings::check(members.postings).map_err(|error| match error {
            PostingError::Bad(reason) => self.failure(FailureKind::BadPosting, link.seq, reason),
            PostingError::Unbalanced(reason) => {
                self.failure(FailureKind::Unbalanced, link.seq, reason)
            }
        })?;
        let digest = from_hex(link.hash).expect("members checked the hash's format");
        self.advance(link, &digest)?;
        Ok(event)
    }

    /// The checks past a single line, for an event whose own checks and link held:
    /// the recorded head, the Merkle tree and the checkpoints; then the head moves.
    fn advance(&mut self, link: &Link, digest: &Digest32) -> Result<(), Failure> {
        self.check_anchor(link)?;
        self.tree.push(digest);
        self.check_checkpoints(link)?;
        self.head_seq = link.seq;
        self.head_hash.clear();
        self.head_hash.push_str(link.hash);
        Ok(())
    }

    /// Ledger, seq and prev_hash: what ties this event to the ones before it.
    fn check_link(&mut self, link: &Link) -> Result<(), Failure> {
        let expected = self.expected_seq();
        match &self.ledger {
            None => self.ledger = Some(link.ledger.to_owned()),
            Some(ledger) if ledger != link.ledger => {
                let reason = format!("ledger {:?} differs from line 1's {ledger:?}", link.ledger);
                return Err(self.failure(FailureKind::WrongLedger, link.seq, reason));
            }
            Some(_) => {}
        }
        if link.seq != expected {
            let why = if link.seq > expected {
                format!("seq {expected} is missing or out of order")
            } else {
                "seq repeated or out of order".to_owned()
            };
            let reason = format!("expected seq {expected}, found seq {}: {why}", link.seq);
            return Err(self.failure(FailureKind::SeqGap, expected, reason));
        }
        if link.prev_hash != self.head_hash {
            let reason = match self.head_seq {
                0 => format!(
                    "prev_hash of seq 1 must be 64 zeros, found {}",
                    link.prev_hash
                ),
                previous => format!(
                    "prev_hash {} is not the hash of seq {previous} ({})",
                    link.prev_hash, self.head_hash
                ),
            };
            return Err(self.failure(FailureKind::PrevHashMismatch, link.seq, reason));
        }
        Ok(())
    }

    /// Compares the event at the recorded head seq with the recorded hash as
    /// soon as it is read, so a rewritten history is reported at its seq.
    fn check_anchor(&self, link: &Link) -> Result<(), Failure> {
        match self.anchor {
            Some((seq, hash)) if seq == link.seq && !hash.eq_ignore_ascii_case(link.hash) => {
                let reason = format!(
                    "recorded head hash at seq {seq} is {hash}, the export has {}",
                    link.hash
                );
                Err(self.failure(FailureKind::HeadHashMismatch, seq, reason))
            }
            _ => Ok(()),
        }
    }

    /// Every checkpoint's signature, before reading the export.
    fn check_signatures(&self) -> Option<Failure> {
        let checkpoint = self.checkpoints.iter().find(|c| match self.public_key {
            Some(key) => !c.signature_holds(key),
            None => true,
        })?;
        let reason = match self.public_key {
            Some(_) => format!(
                "the signature of the checkpoint at seq {} does not hold under the public key",
                checkpoint.seq
            ),
            None => "checkpoints need the public key to check them against".to_owned(),
        };
        Some(self.failure(
            FailureKind::CheckpointSignatureInvalid,
            checkpoint.seq,
            reason,
        ))
    }

    /// At a checkpoint's seq, the export must carry its hash and Merkle root.
    fn check_checkpoints(&self, link: &Link) -> Result<(), Failure> {
        for c in self.checkpoints.iter().filter(|c| c.seq == link.seq) {
            if c.ledger != link.ledger {
                let reason = format!(
                    "the checkpoint is for ledger {:?}, the export for {:?}",
                    c.ledger, link.ledger
                );
                return Err(self.failure(FailureKind::CheckpointBeyondExport, c.seq, reason));
            }
            let root = self.tree.root().expect("an event was just added");
            if !c.hash.eq_ignore_ascii_case(link.hash) || c.root() != Some(root) {
                let reason = format!(
                    "the checkpoint signed hash {} and root {} at seq {}; the export has hash {} and root {}: history was rewritten",
                    c.hash,
                    c.merkle_root,
                    c.seq,
                    link.hash,
                    hex::encode(root)
                );
                return Err(self.failure(FailureKind::CheckpointMismatch, c.seq, reason));
            }
        }
        Ok(())
    }

    /// Checks that need the whole input: that there was an event at all, and
    /// that the export reaches the recorded head.
    fn finish(self) -> Report {
        let failure = self.end_failure();
        self.report(failure)
    }

    fn end_failure(&self) -> Option<Failure> {
        // Reported at the line where the missing event would have been.
        let line = self.line + 1;
        if self.line == 0 {
            let reason = "the export holds no events".to_owned();
            return Some(Failure {
                seq: 1,
                line,
                kind: FailureKind::EmptyExport,
                reason,
            });
        }
        if let Some(c) = self.checkpoints.iter().find(|c| c.seq > self.head_seq) {
            let reason = format!(
                "the export ends at seq {} but a checkpoint signed seq {}: events are missing",
                self.head_seq, c.seq
            );
            return Some(Failure {
                seq: self.expected_seq(),
                line,
                kind: FailureKind::CheckpointBeyondExport,
                reason,
            });
        }
        let (anchor_seq, _) = self.anchor?;
        if self.head_seq >= anchor_seq {
            return None;
        }
        let missing = self.expected_seq();
        let reason = format!(
            "the export ends at seq {} but the recorded head is seq {anchor_seq}: \
             seq {missing} onwards is missing",
            self.head_seq
        );
        Some(Failure {
            seq: missing,
            line,
            kind: FailureKind::MissingHead,
            reason,
        })
    }

    fn report(self, failure: Option<Failure>) -> Report {
        Report {
            ledger: self.ledger,
            events: self.head_seq,
            head_seq: self.head_seq,
            head_hash: (self.head_seq > 0).then_some(self.head_hash),
            failure,
        }
    }
}
