//! `decide(state, command) -> event or error`: the business rules, pure. Applying the
//! resulting event (`LedgerState::apply`) cannot fail.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use uuid::Uuid;

use super::account::{AccountCode, AccountFlags, AccountType};
use super::currency::{Currency, CurrencyCode};
use super::entry::Entry;
use super::event::EventBody;
use super::state::LedgerState;
use super::CoreError;

/// A request to change a ledger, already parsed into valid values.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    CreateLedger {
        name: String,
        base_currency: Currency,
    },
    OpenAccount {
        code: AccountCode,
        account_type: AccountType,
        currency: Option<Currency>,
        flags: AccountFlags,
    },
    CloseAccount {
        code: AccountCode,
    },
    PostEntry {
        entry: Entry,
    },
    /// `entry` holds the original's postings mirrored; the original is known to be a
    /// posted transaction (the log is immutable, so that was checked before).
    Reverse {
        original: Uuid,
        entry: Entry,
    },
}

impl Command {
    /// Accounts the command needs loaded into the state before it is decided.
    pub fn accounts(&self) -> Vec<&AccountCode> {
        match self {
            Command::CreateLedger { .. } => vec![],
            Command::OpenAccount { code, .. } | Command::CloseAccount { code } => vec![code],
            Command::PostEntry { entry } | Command::Reverse { entry, .. } => {
                entry.postings().iter().map(|p| p.account()).collect()
            }
        }
    }
}

pub fn decide(state: &LedgerState, command: &Command) -> Result<EventBody, CoreError> {
    if state.head_seq == 0 && !matches!(command, Command::CreateLedger { .. }) {
        return Err(CoreError::LedgerNotFound(state.ledger.to_string()));
    }
    match command {
        Command::CreateLedger {
            name,
            base_currency,
        } => {
            if state.head_seq > 0 {
                return Err(CoreError::LedgerExists(state.ledger.to_string()));
            }
            Ok(EventBody::LedgerCreated {
                name: name.clone(),
                base_currency: base_currency.clone(),
            })
        }
        Command::OpenAccount {
            code,
            account_type,
            currency,
            flags,
        } => {
            if state.accounts.contains_key(code) {
                return Err(CoreError::AccountExists(code.to_string()));
            }
            Ok(EventBody::AccountOpened {
                code: code.clone(),
                account_type: *account_type,
                currency: currency.clone(),
                flags: *flags,
            })
        }
        Command::CloseAccount { code } => decide_close(state, code),
        Command::PostEntry { entry } => {
            check_entry(state, entry)?;
            Ok(EventBody::TransactionPosted {
                entry: entry.clone(),
            })
        }
        Command::Reverse { original, entry } => {
            if state.reversed.contains(original) {
                return Err(CoreError::AlreadyReversed(*original));
            }
            check_entry(state, entry)?;
            Ok(EventBody::TransactionReversed {
                reverses: *original,
                entry: entry.clone(),
            })
        }
    }
}

fn decide_close(state: &LedgerState, code: &AccountCode) -> Result<EventBody, CoreError> {
    let account = state
        .accounts
        .get(code)
        .ok_or_else(|| CoreError::AccountNotFound(code.to_string()))?;
    if account.closed {
        return Err(CoreError::AccountClosed(code.to_string()));
    }
    if let Some((currency, balance)) = account.balances.iter().find(|(_, b)| !b.is_zero()) {
        return Err(CoreError::AccountNotEmpty {
            account: code.to_string(),
            currency: currency.to_string(),
            balance: account.normal_balance(*balance),
        });
    }
    Ok(EventBody::AccountClosed { code: code.clone() })
}

/// The state-dependent checks of an entry, in the order of `docs/errors.md`: every
/// account exists, is open and takes the currency; then no `no_overdraft` account
/// ends below zero.
fn check_entry(state: &LedgerState, entry: &Entry) -> Result<(), CoreError> {
    let mut moves: BTreeMap<(&AccountCode, &CurrencyCode), Decimal> = BTreeMap::new();
    for p in entry.postings() {
        let code = p.account();
        let account = state
            .accounts
            .get(code)
            .ok_or_else(|| CoreError::AccountNotFound(code.to_string()))?;
        if account.closed {
            return Err(CoreError::AccountClosed(code.to_string()));
        }
        if let Some(fixed) = &account.currency {
            if fixed.code() != p.currency().code() {
                return Err(CoreError::CurrencyMismatch {
                    account: code.to_string(),
                    expected: fixed.code().to_string(),
                    got: p.currency().code().to_string(),
                });
            }
        }
        let sum = moves.entry((code, p.currency().code())).or_default();
        *sum = sum
            .checked_add(p.signed_value())
            .ok_or(CoreError::AmountOverflow)?;
    }
    for ((code, currency), delta) in moves {
        let account = &state.accounts[code];
        let before = account.balances.get(currency).copied().unwrap_or_default();
        let after = before.checked_add(delta).ok_or(CoreError::AmountOverflow)?;
        if account.flags.no_overdraft && account.normal_balance(after) < Decimal::ZERO {
            return Err(CoreError::Overdraft {
                account: code.to_string(),
                currency: currency.to_string(),
                balance: account.normal_balance(after),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
