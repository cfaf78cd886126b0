//! Converted reports, pure: trial balance, balance sheet and income statement from
//! movements per account and currency (per day for historical rates) and the rates
//! of the chain. Lines are rounded half to even at the reporting currency's scale; a
//! rounding line keeps the totals exact. Everything is ordered, so the same inputs
//! always give the same report, byte for byte once rendered.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::account::AccountType;
use super::currency::{Currency, CurrencyCode};
use super::rates::{round_converted, RateBook, Used};
use super::CoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateMode {
    /// One rate per currency, the latest on or before the report date.
    Closing,
    /// Each posting at the latest rate on or before its own effective date.
    Historical,
}

impl RateMode {
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        match s {
            "closing" => Ok(Self::Closing),
            "historical" => Ok(Self::Historical),
            other => Err(CoreError::InvalidField {
                field: "rate",
                reason: format!("{other:?}: expected closing or historical"),
            }),
        }
    }
}

/// What an account moved in one currency (on one day, for historical rates).
#[derive(Debug, Clone, PartialEq)]
pub struct Movement {
    pub account: String,
    pub account_type: AccountType,
    pub currency: CurrencyCode,
    pub day: NaiveDate,
    pub debits: Decimal,
    pub credits: Decimal,
}

/// One line: an account (or a roll-up of accounts) in one native currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub account: String,
    pub account_type: AccountType,
    pub currency: CurrencyCode,
    /// Debits minus credits, native.
    pub native: Decimal,
    /// The same converted and rounded.
    pub converted: Decimal,
}

impl Line {
    /// On the account's normal side (credit-normal accounts positive when in credit).
    pub fn normal(&self, value: Decimal) -> Decimal {
        if self.account_type.is_debit_normal() {
            value
        } else {
            -value
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub currency: CurrencyCode,
    pub mode: RateMode,
    pub lines: Vec<Line>,
    /// Added to the converted total so debits equal credits after per-line rounding
    /// (debit positive).
    pub rounding: Decimal,
    /// Every rate used, by currency (and day, for historical rates).
    pub rates: Vec<Used>,
}

impl Report {
    pub fn converted_debits(&self) -> Decimal {
        self.lines
            .iter()
            .map(|l| l.converted.max(Decimal::ZERO))
            .sum::<Decimal>()
            + self.rounding.max(Decimal::ZERO)
    }

    pub fn converted_credits(&self) -> Decimal {
        self.lines
            .iter()
            .map(|l| (-l.converted).max(Decimal::ZERO))
            .sum::<Decimal>()
            + (-self.rounding).max(Decimal::ZERO)
    }

    /// Converted sum of the lines of some account types, normal side of `side`.
    pub fn sum_of(&self, types: &[AccountType]) -> Decimal {
        self.lines
            .iter()
            .filter(|l| types.contains(&l.account_type))
            .map(|l| l.converted)
            .sum()
    }
}

/// `assets:cash:eur` at depth 2 is `assets:cash`.
pub fn roll_up(account: &str, depth: Option<usize>) -> String {
    match depth {
        Some(d) => account.split(':').take(d).collect::<Vec<_>>().join(":"),
        None => account.to_owned(),
    }
}

/// Converts movements into report lines at `at` (closing) or each day (historical).
pub fn convert(
    movements: &[Movement],
    book: &RateBook,
    to: &Currency,
    base: &CurrencyCode,
    mode: RateMode,
    at: NaiveDate,
    depth: Option<usize>,
) -> Result<Report, CoreError> {
    // (account, currency) → (type, per-day nets)
    type Key = (String, CurrencyCode);
    let mut groups: BTreeMap<Key, (AccountType, BTreeMap<NaiveDate, Decimal>)> = BTreeMap::new();
    for m in movements {
        let day = match mode {
            RateMode::Closing => at,
            RateMode::Historical => m.day,
        };
        let group = groups
            .entry((roll_up(&m.account, depth), m.currency.clone()))
            .or_insert_with(|| (m.account_type, BTreeMap::new()));
        *group.1.entry(day).or_default() += m.debits - m.credits;
    }
    let needs: BTreeSet<(CurrencyCode, NaiveDate)> = groups
        .iter()
        .flat_map(|((_, currency), (_, days))| days.keys().map(move |d| (currency.clone(), *d)))
        .collect();
    let rates = book.rates_for(&needs, to.code(), base)?;
    let mut lines = Vec::with_capacity(groups.len());
    for ((account, currency), (account_type, days)) in groups {
        let native: Decimal = days.values().sum();
        let mut converted = Decimal::ZERO;
        for (day, net) in &days {
            let rate = &rates[&(currency.clone(), *day)];
            converted += net
                .checked_mul(rate.rate)
                .ok_or(CoreError::AmountOverflow)?;
        }
        if native.is_zero() && converted.is_zero() {
            continue;
        }
        lines.push(Line {
            account,
            account_type,
            currency,
            native,
            converted: round_converted(converted, to.scale()),
        });
    }
    let rounded_total: Decimal = lines.iter().map(|l| l.converted).sum();
    // Balanced movements convert to an exact total of zero; what the lines' rounding
    // left over (and the last digits of inverse rates) goes on the rounding line.
    let rounding = if rounded_total.is_zero() {
        Decimal::ZERO
    } else {
        -rounded_total
    };
    Ok(Report {
        currency: to.code().clone(),
        mode,
        lines,
        rounding,
        rates: rates
            .into_values()
            .filter(|u| !u.sources.is_empty())
            .collect(),
    })
}

/// A balance sheet: asset, liability and equity lines, current earnings (the net of
/// income and expenses), and what keeps assets = liabilities + equity + earnings.
#[derive(Debug, Clone, PartialEq)]
pub struct BalanceSheet {
    pub lines: Vec<Line>,
    /// Signed like the lines (a credit is negative).
    pub earnings: Decimal,
    /// Historical rates only: assets and liabilities stand at the closing rate, equity
    /// and earnings at the rates of their postings (the current-rate method); the
    /// difference is this line, in equity. Zero at closing rates.
    pub translation_adjustment: Decimal,
    pub rounding: Decimal,
    pub rates: Vec<Used>,
}

impl BalanceSheet {
    pub fn sum_of(&self, types: &[AccountType]) -> Decimal {
        self.lines
            .iter()
            .filter(|l| types.contains(&l.account_type))
            .map(|l| l.converted)
            .sum()
    }
}

pub fn balance_sheet(
    movements: &[Movement],
    book: &RateBook,
    to: &Currency,
    base: &CurrencyCode,
    mode: RateMode,
    at: NaiveDate,
    depth: Option<usize>,
) -> Result<BalanceSheet, CoreError> {
    use AccountType::*;
    let closing = convert(movements, book, to, base, RateMode::Closing, at, depth)?;
    if mode == RateMode::Closing {
        return Ok(BalanceSheet {
            earnings: closing.sum_of(&[Income, Expense]),
            lines: closing
                .lines
                .into_iter()
                .filter(|l| matches!(l.account_type, Asset | Liability | Equity))
                .collect(),
            translation_adjustment: Decimal::ZERO,
            rounding: closing.rounding,
            rates: closing.rates,
        });
    }
    let historical = convert(movements, book, to, base, RateMode::Historical, at, depth)?;
    let mut lines: Vec<Line> = closing
        .lines
        .into_iter()
        .filter(|l| matches!(l.account_type, Asset | Liability))
        .chain(
            historical
                .lines
                .iter()
                .filter(|l| l.account_type == Equity)
                .cloned(),
        )
        .collect();
    lines.sort_by(|a, b| (&a.account, &a.currency).cmp(&(&b.account, &b.currency)));
    let earnings = historical.sum_of(&[Income, Expense]);
    let signed_total: Decimal = lines.iter().map(|l| l.converted).sum::<Decimal>() + earnings;
    let mut rates = closing.rates;
    rates.extend(historical.rates);
    Ok(BalanceSheet {
        lines,
        earnings,
        translation_adjustment: if signed_total.is_zero() {
            Decimal::ZERO
        } else {
            -signed_total
        },
        rounding: Decimal::ZERO,
        rates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rates::Published;

    fn c(code: &str) -> CurrencyCode {
        CurrencyCode::parse(code).unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn m(account: &str, t: AccountType, cur: &str, day: &str, net: &str) -> Movement {
        let net: Decimal = net.parse().unwrap();
        Movement {
            account: account.into(),
            account_type: t,
            currency: c(cur),
            day: d(day),
            debits: net.max(Decimal::ZERO),
            credits: (-net).max(Decimal::ZERO),
        }
    }

    fn book() -> RateBook {
        let mut b = RateBook::default();
        for (base, quote, rate, day, seq) in [
            ("USD", "EUR", "0.9", "2026-01-01", 5),
            ("USD", "EUR", "0.8", "2026-02-01", 6),
            ("JPY", "EUR", "0.006", "2026-01-01", 7),
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

    fn eur() -> Currency {
        Currency::iso(&c("EUR")).unwrap()
    }

    #[test]
    fn closing_converts_every_line_at_the_report_dates_rate() {
        use AccountType::*;
        let moves = [
            m("assets:cash:usd", Asset, "USD", "2026-01-10", "100.00"),
            m("income:sales", Income, "USD", "2026-01-10", "-100.00"),
            m("assets:cash:usd", Asset, "USD", "2026-02-10", "10.00"),
            m("income:sales", Income, "USD", "2026-02-10", "-10.00"),
        ];
        let r = convert(
            &moves,
            &book(),
            &eur(),
            &c("EUR"),
            RateMode::Closing,
            d("2026-02-28"),
            None,
        )
        .unwrap();
        // 110 USD at 0.8 = 88.00 each side.
        assert_eq!(r.lines[0].converted, "88.00".parse().unwrap());
        assert_eq!(r.lines[1].converted, "-88.00".parse().unwrap());
        assert_eq!(r.rounding, Decimal::ZERO);
        assert_eq!(r.rates.len(), 1);
        assert_eq!(r.rates[0].sources[0].seq, 6);
    }

    #[test]
    fn historical_converts_each_day_at_its_own_rate() {
        use AccountType::*;
        let moves = [
            m("assets:cash:usd", Asset, "USD", "2026-01-10", "100.00"),
            m("income:sales", Income, "USD", "2026-01-10", "-100.00"),
            m("assets:cash:usd", Asset, "USD", "2026-02-10", "10.00"),
            m("income:sales", Income, "USD", "2026-02-10", "-10.00"),
        ];
        let r = convert(
            &moves,
            &book(),
            &eur(),
            &c("EUR"),
            RateMode::Historical,
            d("2026-02-28"),
            Some(1),
        )
        .unwrap();
        // 100 × 0.9 + 10 × 0.8 = 98.00.
        assert_eq!(r.lines[0].account, "assets");
        assert_eq!(r.lines[0].converted, "98.00".parse().unwrap());
        assert_eq!(r.converted_debits(), r.converted_credits());
        assert_eq!(r.rates.len(), 2);
    }

    #[test]
    fn a_rounding_line_keeps_totals_exact() {
        use AccountType::*;
        // 1 JPY at 0.006 on three accounts: 0.006 each rounds to 0.01, the offset to -0.02.
        let moves = [
            m("assets:a", Asset, "JPY", "2026-01-10", "1"),
            m("assets:b", Asset, "JPY", "2026-01-10", "1"),
            m("assets:c", Asset, "JPY", "2026-01-10", "1"),
            m("equity:x", Equity, "JPY", "2026-01-10", "-3"),
        ];
        let r = convert(
            &moves,
            &book(),
            &eur(),
            &c("EUR"),
            RateMode::Closing,
            d("2026-01-31"),
            None,
        )
        .unwrap();
        // 0.006 → 0.01 (three times); -0.018 → -0.02.
        assert_eq!(r.rounding, "-0.01".parse().unwrap());
        assert_eq!(r.converted_debits(), r.converted_credits());
    }

    #[test]
    fn historically_the_balance_sheet_shows_a_translation_adjustment() {
        use AccountType::*;
        // 100 USD of capital in January (0.9) and 10 USD of sales in February (0.8);
        // the 110 USD of cash stand at the closing 0.8 = 88.00.
        let moves = [
            m("assets:cash", Asset, "USD", "2026-01-10", "100.00"),
            m("equity:capital", Equity, "USD", "2026-01-10", "-100.00"),
            m("assets:cash", Asset, "USD", "2026-02-10", "10.00"),
            m("income:sales", Income, "USD", "2026-02-10", "-10.00"),
        ];
        let bs = balance_sheet(
            &moves,
            &book(),
            &eur(),
            &c("EUR"),
            RateMode::Historical,
            d("2026-02-28"),
            None,
        )
        .unwrap();
        assert_eq!(bs.sum_of(&[Asset]), "88.00".parse().unwrap());
        // Capital 90.00 and earnings 8.00 at their own rates: 98.00; assets are 10.00 short.
        assert_eq!(bs.sum_of(&[Equity]), "-90.00".parse().unwrap());
        assert_eq!(bs.earnings, "-8.00".parse().unwrap());
        assert_eq!(bs.translation_adjustment, "10.00".parse().unwrap());
        let closing = balance_sheet(
            &moves,
            &book(),
            &eur(),
            &c("EUR"),
            RateMode::Closing,
            d("2026-02-28"),
            None,
        )
        .unwrap();
        assert_eq!(closing.translation_adjustment, Decimal::ZERO);
        assert_eq!(closing.sum_of(&[Equity]), "-80.00".parse().unwrap());
    }

    #[test]
    fn missing_rates_are_all_named() {
        use AccountType::*;
        let moves = [
            m("assets:a", Asset, "GBP", "2026-01-10", "1.00"),
            m("assets:b", Asset, "CHF", "2026-01-10", "1.00"),
        ];
        let err = convert(
            &moves,
            &book(),
            &eur(),
            &c("EUR"),
            RateMode::Closing,
            d("2026-01-31"),
            None,
        )
        .unwrap_err();
        assert_eq!(err.kind(), "missing-rates");
        assert!(
            err.to_string().contains("CHF/EUR") && err.to_string().contains("GBP/EUR"),
            "{err}"
        );
    }
}
