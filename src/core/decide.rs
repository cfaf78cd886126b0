//! `decide(state, command) -> event or error`: the business rules, pure. Applying the
//! resulting event (`LedgerState::apply`) cannot fail.

use std::collections::{BTreeMap, HashSet};

use rust_decimal::Decimal;
use uuid::Uuid;

use super::account::{AccountCode, AccountFlags, AccountType};
use super::commerce::decide::accounts_to_open;
use super::commerce::{self, CommerceCommand};
use super::currency::{Currency, CurrencyCode};
use super::entry::Entry;
use super::event::EventBody;
use super::posting::Posting;
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
    /// A custom asset with its scale.
    RegisterCurrency {
        code: CurrencyCode,
        scale: u32,
    },
    /// Exchange rates, each between two currencies the ledger knows.
    PublishRates {
        rates: Vec<super::rates::Rate>,
    },
    /// Products, stock, orders and payments. Submitted one per request, never inside
    /// a multi-command atomic group.
    Commerce(CommerceCommand),
}

/// What a command appends: the accounts its postings need that are not open yet, then
/// its own event.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub opens: Vec<EventBody>,
    pub event: EventBody,
}

impl From<EventBody> for Decision {
    fn from(event: EventBody) -> Self {
        Self {
            opens: vec![],
            event,
        }
    }
}

impl Command {
    /// Accounts the command needs loaded into the state before it is decided (no
    /// allocation: the writer asks for every command of every group).
    pub fn accounts(&self) -> impl Iterator<Item = &AccountCode> {
        let (named, postings): (Option<&AccountCode>, &[Posting]) = match self {
            Command::OpenAccount { code, .. } | Command::CloseAccount { code } => (Some(code), &[]),
            Command::PostEntry { entry } | Command::Reverse { entry, .. } => {
                (None, entry.postings())
            }
            // Commerce commands name their accounts through `CommerceCommand::accounts`,
            // which needs the orders loaded first.
            Command::CreateLedger { .. }
            | Command::Commerce(_)
            | Command::PublishRates { .. }
            | Command::RegisterCurrency { .. } => (None, &[]),
        };
        named
            .into_iter()
            .chain(postings.iter().map(Posting::account))
    }
}

pub fn decide(state: &LedgerState, command: &Command) -> Result<Decision, CoreError> {
    if state.head_seq == 0 && !matches!(command, Command::CreateLedger { .. }) {
        return Err(CoreError::LedgerNotFound(state.ledger.to_string()));
    }
    if let Command::Commerce(c) = command {
        return decide_commerce(state, c);
    }
    decide_ledger(state, command).map(Decision::from)
}

/// A commerce event, preceded by the opening of every account its postings need that
/// the ledger lacks (all in the same commit); its postings are checked like an entry's.
fn decide_commerce(state: &LedgerState, command: &CommerceCommand) -> Result<Decision, CoreError> {
    let event = commerce::decide::decide(state, command)?;
    let postings = event.postings();
    let to_open = accounts_to_open(state, postings);
    let opens = to_open
        .iter()
        .map(|code| EventBody::AccountOpened {
            code: (*code).clone(),
            account_type: AccountType::of_root(code),
            currency: None,
            flags: AccountFlags::default(),
        })
        .collect();
    let opening: HashSet<&AccountCode> = to_open.into_iter().collect();
    check_postings(state, postings, &opening)?;
    Ok(Decision {
        opens,
        event: EventBody::Commerce(event),
    })
}

fn decide_ledger(state: &LedgerState, command: &Command) -> Result<EventBody, CoreError> {
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
            if let Some(c) = currency.as_ref().filter(|c| !state.book().knows(c)) {
                return Err(CoreError::UnknownCurrency(c.code().to_string()));
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
        Command::RegisterCurrency { code, scale } => {
            if Currency::iso(code).is_ok() || state.book().custom(code).is_some() {
                return Err(CoreError::CurrencyExists(code.to_string()));
            }
            Currency::custom(code.clone(), *scale)?;
            Ok(EventBody::CurrencyRegistered {
                code: code.clone(),
                scale: *scale,
            })
        }
        Command::PublishRates { rates } => {
            let book = state.book();
            for code in rates.iter().flat_map(|r| [&r.base, &r.quote]) {
                book.resolve(code.as_str())?;
            }
            Ok(EventBody::RatesPublished {
                rates: rates.clone(),
            })
        }
        Command::Commerce(_) => unreachable!("decided by decide_commerce"),
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
    let book = state.book();
    if let Some(p) = entry.postings().iter().find(|p| !book.knows(p.currency())) {
        return Err(CoreError::UnknownCurrency(p.currency().code().to_string()));
    }
    check_postings(state, entry.postings(), &HashSet::new())
}

/// `opening` are accounts opened in the same decision: fresh, without a fixed
/// currency or flags, so nothing about them can be refused.
fn check_postings(
    state: &LedgerState,
    postings: &[Posting],
    opening: &HashSet<&AccountCode>,
) -> Result<(), CoreError> {
    let mut moves: BTreeMap<(&AccountCode, &CurrencyCode), Decimal> = BTreeMap::new();
    for p in postings {
        let code = p.account();
        if opening.contains(code) {
            continue;
        }
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
