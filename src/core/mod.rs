//! The pure core: no tokio, no postgres, no actix. Everything here is a value or a
//! function of values, so it can be tested exhaustively.

pub mod account;
pub mod canonical;
pub mod chain_read;
pub mod currency;
pub mod decide;
pub mod entry;
pub mod error;
pub mod event;
pub mod hash;
pub mod ledger;
pub mod limits;
pub mod money;
pub mod posting;
pub mod role;
pub mod state;

pub use error::CoreError;
