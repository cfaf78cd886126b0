//! Amounts: exact positive decimals that fit their currency's scale. They are never
//! rounded; an amount with too many decimals is refused.

use std::fmt;

use rust_decimal::Decimal;

use super::currency::{truncate, Currency};
use super::{limits, CoreError};

/// A positive amount of one currency, at most `AMOUNT_INTEGER_DIGITS_MAX` digits before
/// the point and no more decimals than the currency allows. Rendered at exactly the
/// currency's scale (`"100.00"` for USD, `"5"` for JPY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(Decimal);

impl Amount {
    /// Parses the decimal string a client sent (`"12.50"`). No sign, no exponent, no
    /// spaces: a ledger should not guess what an odd string meant.
    pub fn parse(s: &str, currency: &Currency) -> Result<Self, CoreError> {
        let invalid = |reason| CoreError::InvalidAmount {
            value: truncate(s),
            reason,
        };
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || !frac.is_none_or(digits) {
            return Err(invalid(
                "expected a positive decimal string such as \"12.50\"",
            ));
        }
        let significant = int.trim_start_matches('0').len();
        if significant > limits::AMOUNT_INTEGER_DIGITS_MAX as usize {
            return Err(invalid("at most 15 digits before the decimal point"));
        }
        let decimals = frac.map_or(0, str::len);
        if decimals > currency.scale() as usize {
            return Err(CoreError::AmountScale {
                amount: truncate(s),
                currency: currency.code().to_string(),
                scale: currency.scale(),
            });
        }
        let value: Decimal = s.parse().map_err(|_| invalid("not a decimal number"))?;
        if value.is_zero() {
            return Err(invalid("amounts must be greater than zero"));
        }
        Ok(Self(value))
    }

    /// An amount the ledger computed itself (a line total, a cost): refused if it is
    /// not positive, does not fit the currency's scale, or is too large.
    pub fn from_value(value: Decimal, currency: &Currency) -> Result<Self, CoreError> {
        if value <= Decimal::ZERO {
            return Err(CoreError::InvalidAmount {
                value: value.to_string(),
                reason: "amounts must be greater than zero",
            });
        }
        if value.normalize().scale() > currency.scale() {
            return Err(CoreError::AmountScale {
                amount: value.to_string(),
                currency: currency.code().to_string(),
                scale: currency.scale(),
            });
        }
        if value >= Decimal::from(10u64.pow(limits::AMOUNT_INTEGER_DIGITS_MAX)) {
            return Err(CoreError::AmountOverflow);
        }
        Ok(Self(value))
    }

    pub fn value(&self) -> Decimal {
        self.0
    }

    /// The amount rendered with exactly `scale` decimals.
    pub fn render(&self, scale: u32) -> String {
        let mut d = self.0;
        d.rescale(scale);
        d.to_string()
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::currency::CurrencyCode;
    use proptest::prelude::*;

    fn cur(code: &str) -> Currency {
        Currency::iso(&CurrencyCode::parse(code).unwrap()).unwrap()
    }

    #[test]
    fn amounts_render_at_the_currency_scale() {
        assert_eq!(
            Amount::parse("100", &cur("USD")).unwrap().render(2),
            "100.00"
        );
        assert_eq!(Amount::parse("0.5", &cur("USD")).unwrap().render(2), "0.50");
        assert_eq!(Amount::parse("5", &cur("JPY")).unwrap().render(0), "5");
        assert_eq!(
            Amount::parse("1.25", &cur("BHD")).unwrap().render(3),
            "1.250"
        );
    }

    #[test]
    fn too_many_decimals_are_refused_not_rounded() {
        let err = Amount::parse("1.001", &cur("USD")).unwrap_err();
        assert_eq!(err.kind(), "amount-scale");
        assert_eq!(
            Amount::parse("5.0", &cur("JPY")).unwrap_err().kind(),
            "amount-scale"
        );
    }

    #[test]
    fn zero_negative_malformed_and_huge_amounts_are_refused() {
        for bad in [
            "0", "0.00", "-1", "+1", "1e3", " 1", "1.", ".5", "", "abc", "1,00",
        ] {
            assert!(Amount::parse(bad, &cur("USD")).is_err(), "{bad:?}");
        }
        assert!(Amount::parse("999999999999999.99", &cur("USD")).is_ok());
        assert!(Amount::parse("1000000000000000", &cur("USD")).is_err());
    }

    proptest! {
        #[test]
        fn any_minor_unit_count_round_trips(units in 1u64..=99_999_999_999_999_999) {
            let d = Decimal::new(units as i64, 2);
            let a = Amount::parse(&d.to_string(), &cur("USD")).unwrap();
            prop_assert_eq!(a.value(), d);
            prop_assert_eq!(Amount::parse(&a.render(2), &cur("USD")).unwrap(), a);
        }
    }
}
