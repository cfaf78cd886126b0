//! Exchange rates as the chain holds them, and conversion with them. Reports convert
//! only with rates published in the log (`rate.published`), so anyone holding the log
//! reproduces every converted figure.
//!
//! A rate `base → quote` says one unit of `base` is `rate` units of `quote`, effective
//! from its date. To convert on a day, the latest rate effective on or before it is
//! used (a later publication for the same day wins); failing a direct pair, the inverse
//! pair, then triangulation through the ledger's base currency.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::currency::CurrencyCode;
use super::{limits, CoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    pub base: CurrencyCode,
    pub quote: CurrencyCode,
    pub rate: Decimal,
    pub effective_date: NaiveDate,
}

/// Parses a rate as a client sent it: a positive decimal string, at most
/// `RATE_INTEGER_DIGITS_MAX` digits before the point and `RATE_SCALE_MAX` after.
pub fn parse_rate(s: &str) -> Result<Decimal, CoreError> {
    let invalid = |reason: &str| CoreError::InvalidField {
        field: "rate",
        reason: format!("{:?}: {reason}", super::currency::truncate(s)),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (s.contains('.') && frac.is_empty()) {
        return Err(invalid(
            "expected a positive decimal string such as \"1.0842\"",
        ));
    }
    if int.trim_start_matches('0').len() > limits::RATE_INTEGER_DIGITS_MAX {
        return Err(invalid("too large"));
    }
    if frac.len() > limits::RATE_SCALE_MAX as usize {
        return Err(invalid(&format!(
            "at most {} decimals",
            limits::RATE_SCALE_MAX
        )));
    }
    let rate: Decimal = s.parse().map_err(|_| invalid("not a decimal number"))?;
    if rate.is_zero() {
        return Err(invalid("must be greater than zero"));
    }
    Ok(rate.normalize())
}

/// How a conversion found its rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// The pair itself, or the same currency (rate 1, no event).
    Direct,
    /// The inverse pair, `1 / rate`.
    Inverse,
    /// Through the ledger's base currency: `from → base → to`.
    Base(CurrencyCode),
}

/// One published rate as a conversion used it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub base: CurrencyCode,
    pub quote: CurrencyCode,
    pub rate: Decimal,
    pub effective_date: NaiveDate,
    pub seq: u64,
}

/// The rate a conversion from one currency to another used on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Used {
    pub from: CurrencyCode,
    pub to: CurrencyCode,
    /// Units of `to` per unit of `from` (unrounded).
    pub rate: Decimal,
    pub via: Via,
    /// The published rates it came from (none for the same currency).
    pub sources: Vec<Published>,
}

/// Every rate of a ledger, by pair, then by date and seq.
#[derive(Debug, Clone, Default)]
pub struct RateBook {
    pairs: BTreeMap<(CurrencyCode, CurrencyCode), BTreeMap<(NaiveDate, u64), Decimal>>,
}

impl RateBook {
    pub fn insert(&mut self, published: Published) {
        self.pairs
            .entry((published.base, published.quote))
            .or_default()
            .insert((published.effective_date, published.seq), published.rate);
    }

    /// The latest rate of exactly `base → quote` effective on or before `day`.
    fn latest(
        &self,
        base: &CurrencyCode,
        quote: &CurrencyCode,
        day: NaiveDate,
    ) -> Option<Published> {
        let by_date = self.pairs.get(&(base.clone(), quote.clone()))?;
        let (&(effective_date, seq), &rate) = by_date.range(..=(day, u64::MAX)).next_back()?;
        Some(Published {
            base: base.clone(),
            quote: quote.clone(),
            rate,
            effective_date,
            seq,
        })
    }

    /// `from → to` on `day` from the pair or its inverse.
    fn one_step(
        &self,
        from: &CurrencyCode,
        to: &CurrencyCode,
        day: NaiveDate,
    ) -> Option<(Decimal, Via, Published)> {
        if let Some(p) = self.latest(from, to, day) {
            return Some((p.rate, Via::Direct, p));
        }
        let p = self.latest(to, from, day)?;
        Some((Decimal::ONE / p.rate, Via::Inverse, p))
    }

    /// The rate from `from` to `to` on `day`, or `None` if the chain has none.
    pub fn rate(
        &self,
        from: &CurrencyCode,
        to: &CurrencyCode,
        day: NaiveDate,
        base: &CurrencyCode,
    ) -> Option<Used> {
        if from == to {
            return Some(Used {
                from: from.clone(),
                to: to.clone(),
                rate: Decimal::ONE,
                via: Via::Direct,
                sources: vec![],
            });
        }
        if let Some((rate, via, source)) = self.one_step(from, to, day) {
            return Some(Used {
                from: from.clone(),
                to: to.clone(),
                rate,
                via,
                sources: vec![source],
            });
        }
        if from == base || to == base {
            return None;
        }
        let (first, _, a) = self.one_step(from, base, day)?;
        let (second, _, b) = self.one_step(base, to, day)?;
        Some(Used {
            from: from.clone(),
            to: to.clone(),
            rate: first * second,
            via: Via::Base(base.clone()),
            sources: vec![a, b],
        })
    }

    /// The rates of every `(currency, day)` needed, or the refusal listing every pair
    /// the chain lacks.
    pub fn rates_for(
        &self,
        needs: &BTreeSet<(CurrencyCode, NaiveDate)>,
        to: &CurrencyCode,
        base: &CurrencyCode,
    ) -> Result<BTreeMap<(CurrencyCode, NaiveDate), Used>, CoreError> {
        let mut found = BTreeMap::new();
        let mut missing = BTreeSet::new();
        for (from, day) in needs {
            match self.rate(from, to, *day, base) {
                Some(used) => {
                    found.insert((from.clone(), *day), used);
                }
                None => {
                    missing.insert(format!("{from}/{to} on {day}"));
                }
            }
        }
        if missing.is_empty() {
            Ok(found)
        } else {
            Err(CoreError::MissingRates(missing.into_iter().collect()))
        }
    }
}

/// Rounds a converted amount half to even at `scale` (the reporting currency's).
pub fn round_converted(value: Decimal, scale: u32) -> Decimal {
    let mut r =
        value.round_dp_with_strategy(scale, rust_decimal::RoundingStrategy::MidpointNearestEven);
    r.rescale(scale);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> CurrencyCode {
        CurrencyCode::parse(code).unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn book() -> RateBook {
        let mut b = RateBook::default();
        for (base, quote, rate, day, seq) in [
            ("EUR", "USD", "1.10", "2026-01-01", 2),
            ("EUR", "USD", "1.20", "2026-02-01", 3),
            ("EUR", "USD", "1.25", "2026-02-01", 9),
            ("JPY", "EUR", "0.0062", "2026-01-01", 4),
        ] {
            b.insert(Published {
                base: c(base),
                quote: c(quote),
                rate: rate.parse().unwrap(),
                effective_date: d(day),
                seq,
            });
        }
        b
    }

    #[test]
    fn the_latest_rate_on_or_before_the_day_wins_and_a_later_publication_supersedes() {
        let b = book();
        let eur = c("EUR");
        assert!(b.rate(&eur, &c("USD"), d("2025-12-31"), &eur).is_none());
        assert_eq!(
            b.rate(&eur, &c("USD"), d("2026-01-31"), &eur).unwrap().rate,
            "1.10".parse().unwrap()
        );
        let used = b.rate(&eur, &c("USD"), d("2026-03-01"), &eur).unwrap();
        assert_eq!(used.rate, "1.25".parse().unwrap());
        assert_eq!(used.sources[0].seq, 9);
    }

    #[test]
    fn inverse_pairs_and_the_base_currency_fill_gaps() {
        let b = book();
        let eur = c("EUR");
        let usd_eur = b.rate(&c("USD"), &eur, d("2026-01-15"), &eur).unwrap();
        assert_eq!(usd_eur.via, Via::Inverse);
        assert_eq!(usd_eur.rate, Decimal::ONE / Decimal::new(110, 2));
        // JPY → USD: JPY → EUR (0.0062), EUR → USD (1.10).
        let jpy_usd = b.rate(&c("JPY"), &c("USD"), d("2026-01-15"), &eur).unwrap();
        assert_eq!(jpy_usd.via, Via::Base(eur.clone()));
        assert_eq!(jpy_usd.rate, "0.00682".parse().unwrap());
        assert_eq!(jpy_usd.sources.len(), 2);
    }

    #[test]
    fn every_missing_pair_is_named() {
        let b = book();
        let needs: BTreeSet<_> = [
            (c("GBP"), d("2026-01-15")),
            (c("CHF"), d("2026-01-15")),
            (c("EUR"), d("2026-01-15")),
        ]
        .into_iter()
        .collect();
        let err = b.rates_for(&needs, &c("USD"), &c("EUR")).unwrap_err();
        assert_eq!(
            err,
            CoreError::MissingRates(vec![
                "CHF/USD on 2026-01-15".into(),
                "GBP/USD on 2026-01-15".into()
            ])
        );
    }

    #[test]
    fn rates_are_positive_bounded_decimals() {
        assert_eq!(parse_rate("1.0842").unwrap(), "1.0842".parse().unwrap());
        for bad in [
            "0",
            "0.000",
            "-1",
            "1e3",
            "",
            ".5",
            "1.",
            "abc",
            "1.1234567890123",
            "12345678901234567",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn converted_amounts_round_half_to_even() {
        assert_eq!(
            round_converted("2.345".parse().unwrap(), 2).to_string(),
            "2.34"
        );
        assert_eq!(
            round_converted("2.355".parse().unwrap(), 2).to_string(),
            "2.36"
        );
        assert_eq!(round_converted("7".parse().unwrap(), 0).to_string(), "7");
    }
}
