//! Storage: the only layer with SQL. Everything is parameterised; statements are
//! constants next to the function that runs them.

pub mod accounts;
pub mod checkpoints;
pub mod cluster;
pub mod commerce;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod keys;
pub mod ledgers;
pub mod merkle;
pub mod migrate;
pub mod pool;
pub mod projections;
pub mod rebuild;
pub mod reporting;
pub mod writer;

pub use error::StoreError;
pub use pool::Pool;
