//! Ledger behaviour as a scenario table: each row is a command and the result it must
//! get, applied in order to one ledger's state.

use super::*;
use crate::core::event::seal;
use crate::core::hash::Hash;
use crate::core::ledger::LedgerId;
use crate::core::posting::{Posting, Side};

fn currency(code: &str) -> Currency {
    Currency::iso(&CurrencyCode::parse(code).unwrap()).unwrap()
}

fn open(code: &str, account_type: &str, fixed: Option<&str>, no_overdraft: bool) -> Command {
    Command::OpenAccount {
        code: AccountCode::parse(code).unwrap(),
        account_type: AccountType::parse(account_type).unwrap(),
        currency: fixed.map(currency),
        flags: AccountFlags { no_overdraft },
    }
}

fn post(lines: &[(&str, &str, Side, &str)]) -> Command {
    let postings = lines
        .iter()
        .map(|&(account, cur, side, amount)| {
            let (d, c) = if side == Side::Debit {
                (Some(amount), None)
            } else {
                (None, Some(amount))
            };
            Posting::parse(0, account, cur, d, c).unwrap()
        })
        .collect();
    Command::PostEntry {
        entry: Entry::new(postings, String::new(), None, Default::default()).unwrap(),
    }
}

fn close(code: &str) -> Command {
    Command::CloseAccount {
        code: AccountCode::parse(code).unwrap(),
    }
}

/// Runs the rows in order; `Ok(())` rows must succeed, `Err(kind)` rows must fail with
/// that kind and leave the state as it was.
fn run(rows: Vec<(Command, Result<(), &str>)>) -> LedgerState {
    let mut state = LedgerState::new(LedgerId::parse("acme").unwrap(), 0, Hash::GENESIS);
    for (i, (command, expected)) in rows.into_iter().enumerate() {
        let before = state.clone();
        match (decide(&state, &command), expected) {
            (Ok(decision), Ok(())) => {
                let body = decision.event;
                let sealed = seal(
                    &state.ledger,
                    state.head_seq + 1,
                    state.head_hash,
                    Uuid::nil(),
                    crate::core::event::now_micros(),
                    &body,
                );
                state.apply(&body, sealed.seq, sealed.hash);
            }
            (Err(e), Err(kind)) => {
                assert_eq!(e.kind(), kind, "row {i}: {e}");
                assert_eq!(state.head_seq, before.head_seq, "row {i} changed the state");
            }
            (got, want) => panic!("row {i}: got {got:?}, want {want:?}"),
        }
    }
    state
}

fn create() -> Command {
    Command::CreateLedger {
        name: "Acme".into(),
        base_currency: currency("EUR"),
    }
}

#[test]
fn ledger_scenario() {
    use Side::*;
    let state = run(vec![
        (
            post(&[("a", "EUR", Debit, "1"), ("b", "EUR", Credit, "1")]),
            Err("ledger-not-found"),
        ),
        (create(), Ok(())),
        (create(), Err("ledger-exists")),
        (open("assets:cash", "asset", Some("EUR"), true), Ok(())),
        (
            open("assets:cash", "asset", None, false),
            Err("account-exists"),
        ),
        (open("income:sales", "income", None, false), Ok(())),
        (open("equity:capital", "equity", None, false), Ok(())),
        (
            post(&[
                ("assets:cash", "EUR", Debit, "200.00"),
                ("equity:capital", "EUR", Credit, "200.00"),
            ]),
            Ok(()),
        ),
        (
            post(&[
                ("assets:cash", "USD", Debit, "1.00"),
                ("equity:capital", "USD", Credit, "1.00"),
            ]),
            Err("currency-mismatch"),
        ),
        (
            post(&[
                ("assets:bank", "EUR", Debit, "1.00"),
                ("equity:capital", "EUR", Credit, "1.00"),
            ]),
            Err("account-not-found"),
        ),
        (
            post(&[
                ("income:sales", "EUR", Debit, "200.01"),
                ("assets:cash", "EUR", Credit, "200.01"),
            ]),
            Err("overdraft"),
        ),
        (
            post(&[
                ("income:sales", "EUR", Debit, "200.00"),
                ("assets:cash", "EUR", Credit, "200.00"),
            ]),
            Ok(()),
        ),
        (
            post(&[
                ("income:sales", "EUR", Debit, "0.01"),
                ("assets:cash", "EUR", Credit, "0.01"),
            ]),
            Err("overdraft"),
        ),
        (close("equity:capital"), Err("account-not-empty")),
        (open("expenses:rent", "expense", None, false), Ok(())),
        (close("expenses:rent"), Ok(())),
        (close("expenses:rent"), Err("account-closed")),
        (
            post(&[
                ("expenses:rent", "EUR", Debit, "5.00"),
                ("equity:capital", "EUR", Credit, "5.00"),
            ]),
            Err("account-closed"),
        ),
        (close("liabilities:none"), Err("account-not-found")),
    ]);
    assert_eq!(state.head_seq, 8);
    let cash = &state.accounts[&AccountCode::parse("assets:cash").unwrap()];
    assert_eq!(
        cash.balances[&CurrencyCode::parse("EUR").unwrap()],
        Decimal::ZERO
    );
}

#[test]
fn a_transaction_is_reversed_once() {
    use Side::*;
    let mut state = run(vec![
        (create(), Ok(())),
        (open("assets:cash", "asset", None, false), Ok(())),
        (open("income:sales", "income", None, false), Ok(())),
    ]);
    let original = Uuid::now_v7();
    let Command::PostEntry { entry } = post(&[
        ("assets:cash", "EUR", Credit, "3.00"),
        ("income:sales", "EUR", Debit, "3.00"),
    ]) else {
        unreachable!()
    };
    let reverse = Command::Reverse { original, entry };
    let body = decide(&state, &reverse).unwrap().event;
    state.apply(&body, 4, Hash::GENESIS);
    assert_eq!(
        decide(&state, &reverse).unwrap_err(),
        CoreError::AlreadyReversed(original)
    );
}
