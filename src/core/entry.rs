//! Journal entries: at least two postings whose debits equal their credits in every
//! currency. An `Entry` that exists balances.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::posting::{Posting, Side};
use super::{limits, CoreError};

/// Shared and never changed once made: the writer copies each posted entry from its
/// request into the event it decides, and a clone is a reference count, not a copy of
/// every posting's strings.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry(Arc<EntryData>);

#[derive(Debug, PartialEq)]
struct EntryData {
    postings: Vec<Posting>,
    description: String,
    /// The accounting date the entry belongs to; defaults to the day it is recorded.
    effective_date: Option<NaiveDate>,
    /// Client data kept in the log verbatim (bounded by `METADATA_BYTES_MAX`).
    metadata: serde_json::Map<String, serde_json::Value>,
}

impl Entry {
    pub fn new(
        postings: Vec<Posting>,
        description: String,
        effective_date: Option<NaiveDate>,
        metadata: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, CoreError> {
        check_posting_count(postings.len())?;
        check_text("description", &description, limits::TEXT_BYTES_MAX)?;
        let metadata_bytes = serde_json::to_string(&metadata).map_or(usize::MAX, |s| s.len());
        if metadata_bytes > limits::METADATA_BYTES_MAX {
            return Err(CoreError::TooLong {
                field: "metadata",
                max: limits::METADATA_BYTES_MAX,
            });
        }
        check_balanced(&postings)?;
        Ok(Self(Arc::new(EntryData {
            postings,
            description,
            effective_date,
            metadata,
        })))
    }

    pub fn postings(&self) -> &[Posting] {
        &self.0.postings
    }

    pub fn description(&self) -> &str {
        &self.0.description
    }

    pub fn effective_date(&self) -> Option<NaiveDate> {
        self.0.effective_date
    }

    pub fn metadata(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0.metadata
    }
}

pub fn check_posting_count(n: usize) -> Result<(), CoreError> {
    if n < 2 {
        return Err(CoreError::TooFewPostings);
    }
    if n > limits::POSTINGS_PER_ENTRY_MAX {
        return Err(CoreError::TooManyPostings {
            max: limits::POSTINGS_PER_ENTRY_MAX,
        });
    }
    Ok(())
}

pub fn check_text(field: &'static str, s: &str, max: usize) -> Result<(), CoreError> {
    if s.len() > max {
        return Err(CoreError::TooLong { field, max });
    }
    Ok(())
}

/// Debits equal credits per currency. The first currency (by code) that does not
/// balance is reported, so the same entry always gets the same error.
pub fn check_balanced(postings: &[Posting]) -> Result<(), CoreError> {
    let mut sums: BTreeMap<&str, (Decimal, Decimal)> = BTreeMap::new();
    for p in postings {
        let (debits, credits) = sums.entry(p.currency().code().as_str()).or_default();
        let total = match p.side() {
            Side::Debit => debits,
            Side::Credit => credits,
        };
        *total = total
            .checked_add(p.amount().value())
            .ok_or(CoreError::AmountOverflow)?;
    }
    match sums.into_iter().find(|(_, (d, c))| d != c) {
        Some((currency, (debits, credits))) => Err(CoreError::Unbalanced {
            currency: currency.to_owned(),
            debits,
            credits,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn posting(account: &str, currency: &str, side: Side, amount: &str) -> Posting {
        let (d, c) = match side {
            Side::Debit => (Some(amount), None),
            Side::Credit => (None, Some(amount)),
        };
        Posting::parse(0, account, currency, d, c).unwrap()
    }

    fn entry(postings: Vec<Posting>) -> Result<Entry, CoreError> {
        Entry::new(postings, String::new(), None, Default::default())
    }

    #[test]
    fn an_entry_that_does_not_balance_in_eur_is_refused() {
        let err = entry(vec![
            posting("assets:cash", "EUR", Side::Debit, "10.00"),
            posting("income:sales", "EUR", Side::Credit, "9.99"),
        ])
        .unwrap_err();
        assert_eq!(err.kind(), "unbalanced-entry");
    }

    #[test]
    fn each_currency_must_balance_on_its_own() {
        // 10 EUR against 10 USD is not balanced: cross-currency entries go through a
        // trading account.
        let err = entry(vec![
            posting("assets:cash", "EUR", Side::Debit, "10.00"),
            posting("income:sales", "USD", Side::Credit, "10.00"),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            CoreError::Unbalanced {
                currency: "EUR".into(),
                debits: Decimal::new(1000, 2),
                credits: Decimal::ZERO
            }
        );
        let ok = entry(vec![
            posting("assets:cash:eur", "EUR", Side::Debit, "9.00"),
            posting("equity:fx", "EUR", Side::Credit, "9.00"),
            posting("equity:fx", "USD", Side::Debit, "10.00"),
            posting("income:sales", "USD", Side::Credit, "10.00"),
        ]);
        assert!(ok.is_ok());
    }

    #[test]
    fn posting_count_is_bounded_at_both_ends() {
        let one = vec![posting("a", "USD", Side::Debit, "1")];
        assert_eq!(entry(one).unwrap_err(), CoreError::TooFewPostings);
        let mut many = Vec::new();
        for _ in 0..limits::POSTINGS_PER_ENTRY_MAX / 2 {
            many.push(posting("a", "USD", Side::Debit, "1"));
            many.push(posting("b", "USD", Side::Credit, "1"));
        }
        assert!(entry(many.clone()).is_ok());
        many.push(posting("a", "USD", Side::Debit, "1"));
        assert_eq!(entry(many).unwrap_err().kind(), "too-many-postings");
    }

    fn arb_postings() -> impl Strategy<Value = Vec<(bool, u8, u32)>> {
        // (is_debit, currency index, minor units)
        prop::collection::vec((any::<bool>(), 0u8..3, 1u32..1_000_000), 2..12)
    }

    proptest! {
        /// Validation accepts exactly the entries whose debits equal credits per currency.
        #[test]
        fn validation_accepts_exactly_the_balanced_entries(mut lines in arb_postings(), fix in any::<bool>()) {
            let currencies = ["USD", "JPY", "BHD"];
            if fix {
                // Half the cases are balanced by construction, so both answers are tried.
                for c in 0..3u8 {
                    let net: i64 = lines.iter().filter(|l| l.1 == c)
                        .map(|&(d, _, u)| if d { u as i64 } else { -(u as i64) }).sum();
                    if net != 0 {
                        lines.push((net < 0, c, net.unsigned_abs() as u32));
                    }
                }
            }
            let postings: Vec<Posting> = lines.iter().map(|&(debit, c, units)| {
                let cur = currencies[c as usize];
                let scale = [2, 0, 3][c as usize];
                let amount = Decimal::new(units.into(), scale).to_string();
                posting("a:b", cur, if debit { Side::Debit } else { Side::Credit }, &amount)
            }).collect();
            let mut net: BTreeMap<&str, i64> = BTreeMap::new();
            for &(debit, c, units) in &lines {
                *net.entry(currencies[c as usize]).or_default() += if debit { units as i64 } else { -(units as i64) };
            }
            let balanced = net.values().all(|&v| v == 0);
            prop_assert_eq!(entry(postings).is_ok(), balanced);
        }
    }
}
