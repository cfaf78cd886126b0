//! Commerce operations: products, stock movements, orders and payments, as events of
//! the same chain as journal entries. Each operation carries the postings it causes
//! (`docs/posting-rules.md`); inventory is perpetual, valued at weighted average cost
//! per SKU and warehouse.
//!
//! `ids` holds the identifiers and quantities, `event` the events, `state` what the
//! writer keeps in memory and how events fold into it, `decide` the rules.

pub mod decide;
pub mod event;
pub mod ids;
pub mod read;
pub mod state;

#[cfg(test)]
mod tests;

pub use decide::CommerceCommand;
pub use event::CommerceEvent;
pub use ids::{Channel, CustomerId, Location, OrderId, Sku, WarehouseId};
pub use state::CommerceState;
