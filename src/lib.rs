//! chainbook: an event-sourced, hash-chained, double-entry ledger on PostgreSQL.
//!
//! The crate has three layers and the arrows point one way: `core` ← `store` ← `http`.
//!
//! - [`core`] is pure: currencies, amounts, accounts, postings, entries, the rules that
//!   turn commands into events (`decide`), canonical JSON and hashing. It does no I/O, so
//!   every rule is tested with plain unit and property tests.
//! - [`store`] is the only place that speaks SQL: the embedded cluster, the pool,
//!   migrations, the per-ledger writer (group commit) and the read queries.
//! - [`http`] is the only place that knows actix-web: request parsing, authorisation,
//!   problem+json errors and the OpenAPI document.
//!
//! [`startup`] wires them together; [`signer`] keeps the checkpoint key and signs heads
//! in the background; `main.rs` only parses the command line.

pub mod cli;
pub mod config;
pub mod core;
pub mod http;
pub mod metrics;
pub mod signer;
pub mod startup;
pub mod store;
pub mod telemetry;
