//! `chainbook-audit`: an independent verifier of chainbook's NDJSON export.
//!
//! It reads nothing but the export format written down in `docs/chain-spec.md`,
//! so an auditor can check a ledger's log without trusting the service (it
//! deliberately shares no code with the service crate).
//!
//! Map of the crate:
//! - `canonical` — RFC 8785 canonical bytes and the event hash.
//! - `canonical_line` — the fast path: a line already in canonical form, checked
//!   on its own bytes (anything it does not vouch for takes the general path).
//! - `strict_json` — parses one line, refusing duplicate member names.
//! - `members` — the mandatory members of an event and their formats.
//! - `postings` — posting shape, positive amounts, balance per currency.
//! - `verify` — the streaming check of a whole export, line by line.
//! - `report` — the outcome: `Report`, `Failure`, `FailureKind`, rendering.
//! - `merkle` — RFC 9162 roots and proof verification; `checkpoint` — signed
//!   checkpoints and their Ed25519 signatures.
//! - `live` — a running service: its export verified and its balances and stock
//!   compared with a recomputation from the events.
//! - `limits` — the bounds the verifier enforces.

mod canonical;
mod canonical_line;
pub mod checkpoint;
pub mod limits;
pub mod live;
mod members;
pub mod merkle;
mod postings;
mod report;
mod strict_json;
mod verify;

pub use canonical::{canonical_bytes, event_hash, GENESIS_PREV_HASH};
pub use report::{Failure, FailureKind, Report, VerifyOptions};
pub use verify::{verify_reader, verify_reader_with};
