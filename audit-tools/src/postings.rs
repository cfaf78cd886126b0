//! Postings of one event: shape, strictly positive amounts, and the balance
//! of debits and credits in every currency.
//!
//! Amounts are compared as exact decimals, so `"1.0"` equals `"1.00"`; the
//! verifier does not know each currency's scale (custom assets are registered
//! per ledger) and so does not check it.

use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Why an event's postings were refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PostingError {
    /// One posting is malformed; the text names its index and the problem.
    Bad(String),
    /// Every posting is well formed but a currency does not balance.
    Unbalanced(String),
}

#[derive(Default)]
struct Totals {
    debit: Decimal,
    credit: Decimal,
}

/// Checks every posting, then the balance per currency (in currency order, so
/// the same currency is named every time).
pub(crate) fn check(postings: &[Value]) -> Result<(), PostingError> {
    let mut totals: BTreeMap<&str, Totals> = BTreeMap::new();
    for (index, posting) in postings.iter().enumerate() {
        let (currency, side, amount) = read_posting(posting)
            .map_err(|why| PostingError::Bad(format!("posting {index}: {why}")))?;
        let entry = totals.entry(currency).or_default();
        let total = if side == Side::Debit {
            &mut entry.debit
        } else {
            &mut entry.credit
        };
        *total = total.checked_add(amount).ok_or_else(|| {
            PostingError::Bad(format!("posting {index}: {currency} total overflows"))
        })?;
    }
    for (currency, total) in &totals {
        if total.debit != total.credit {
            return Err(PostingError::Unbalanced(format!(
                "{currency} debits {} != credits {}",
                total.debit, total.credit
            )));
        }
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Side {
    Debit,
    Credit,
}

fn read_posting(posting: &Value) -> Result<(&str, Side, Decimal), String> {
    let posting = posting.as_object().ok_or("not an object")?;
    non_empty(posting, "account")?;
    let currency = non_empty(posting, "currency")?;
    let (side, amount) = match (posting.get("debit"), posting.get("credit")) {
        (Some(amount), None) => (Side::Debit, amount),
        (None, Some(amount)) => (Side::Credit, amount),
        (Some(_), Some(_)) => return Err("has both `debit` and `credit`".into()),
        (None, None) => return Err("has neither `debit` nor `credit`".into()),
    };
    let text = amount.as_str().ok_or("amount must be a string")?;
    Ok((currency, side, parse_amount(text)?))
}

fn non_empty<'a>(posting: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    match posting.get(name) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text),
        Some(_) => Err(format!("`{name}` must be a non-empty string")),
        None => Err(format!("`{name}` is missing")),
    }
}

/// A positive decimal written as digits with an optional fraction: no sign,
/// no exponent, no leading or trailing dot, no spaces.
pub(crate) fn parse_amount(text: &str) -> Result<Decimal, String> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return Err(format!("amount {text:?} is not a plain decimal"));
    }
    let amount =
        Decimal::from_str_exact(text).map_err(|_| format!("amount {text:?} is out of range"))?;
    if amount.is_zero() {
        return Err(format!("amount {text:?} is not positive"));
    }
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn posting(account: &str, currency: &str, side: &str, amount: &str) -> Value {
        json!({"account": account, "currency": currency, side: amount})
    }

    #[test]
    fn no_postings_balance_trivially() {
        assert_eq!(check(&[]), Ok(()));
    }

    #[test]
    fn each_currency_balances_on_its_own_and_scale_does_not_matter() {
        let postings = [
            posting("assets:bank", "JPY", "debit", "5"),
            posting("income:sales", "JPY", "credit", "5"),
            posting("assets:bank", "BHD", "debit", "1.250"),
            posting("income:sales", "BHD", "credit", "1.25"),
        ];
        assert_eq!(check(&postings), Ok(()));
    }

    #[test]
    fn a_currency_that_does_not_balance_is_named() {
        let postings = [
            posting("assets:cash", "EUR", "debit", "10.00"),
            posting("income:sales", "EUR", "credit", "9.99"),
        ];
        let expected = PostingError::Unbalanced("EUR debits 10.00 != credits 9.99".into());
        assert_eq!(check(&postings), Err(expected));
    }

    #[test]
    fn debits_in_one_currency_cannot_balance_credits_in_another() {
        let postings = [
            posting("assets:cash", "EUR", "debit", "10"),
            posting("income:sales", "USD", "credit", "10"),
        ];
        assert!(matches!(check(&postings), Err(PostingError::Unbalanced(_))));
    }

    #[test]
    fn amounts_must_be_plain_positive_decimals() {
        for bad in [
            "0",
            "0.00",
            "-1",
            "+1",
            "1e2",
            "1.",
            ".5",
            " 1",
            "1,5",
            "",
            "99999999999999999999999999999",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad:?} was accepted");
        }
        for good in ["5", "0.50", "100.00", "1.250", "0.00000001"] {
            assert!(parse_amount(good).is_ok(), "{good:?} was refused");
        }
    }

    #[test]
    fn a_posting_has_exactly_one_side_and_a_string_amount() {
        let both = json!({"account": "a", "currency": "EUR", "debit": "1", "credit": "1"});
        let neither = json!({"account": "a", "currency": "EUR"});
        let number = json!({"account": "a", "currency": "EUR", "debit": 1});
        let no_account = json!({"currency": "EUR", "debit": "1"});
        for bad in [both, neither, number, no_account, json!("x")] {
            assert!(matches!(check(&[bad]), Err(PostingError::Bad(_))));
        }
    }
}
