//! Currencies: ISO 4217 codes with their minor units, plus custom assets registered
//! per ledger with an explicit scale (`currency.registered`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use iso_currency::IntoEnumIterator;

use super::{limits, CoreError};

/// A currency code that is syntactically valid: 3 to 12 characters `A-Z0-9`, starting
/// with a letter. Whether the ledger knows it is a separate question ([`Currency`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CurrencyCode(String);

impl CurrencyCode {
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let ok = (3..=12).contains(&s.len())
            && s.as_bytes()[0].is_ascii_uppercase()
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(CoreError::InvalidCurrency(truncate(s)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The minor units of every ISO 4217 code that has them, by code. Built once from
/// `iso_currency`'s list: its own `from_code` compares the code with each of the ~180
/// codes in turn, and a journal entry looks its currencies up several times.
static ISO_SCALES: LazyLock<foldhash::HashMap<&'static str, u32>> = LazyLock::new(|| {
    iso_currency::Currency::iter()
        .filter_map(|c| Some((c.code(), u32::from(c.exponent()?))))
        .collect()
});

/// The minor units of an ISO 4217 code, if it is one, without building a [`Currency`]
/// (which copies the code).
fn iso_scale(code: &CurrencyCode) -> Option<u32> {
    ISO_SCALES.get(code.as_str()).copied()
}

/// A currency the ledger knows, with the number of decimals its amounts may carry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Currency {
    code: CurrencyCode,
    scale: u32,
}

impl Currency {
    /// Looks a code up in ISO 4217. Codes without minor units in the standard (such as
    /// XAU) are not money the ledger can post, so they are unknown here.
    pub fn iso(code: &CurrencyCode) -> Result<Self, CoreError> {
        match iso_scale(code) {
            Some(scale) => Ok(Self {
                code: code.clone(),
                scale,
            }),
            None => Err(CoreError::UnknownCurrency(code.to_string())),
        }
    }

    /// A custom asset with an explicit scale (e.g. BTC with 8).
    pub fn custom(code: CurrencyCode, scale: u32) -> Result<Self, CoreError> {
        if scale > limits::CURRENCY_SCALE_MAX {
            return Err(CoreError::InvalidField {
                field: "scale",
                reason: format!("at most {}", limits::CURRENCY_SCALE_MAX),
            });
        }
        Ok(Self { code, scale })
    }

    pub fn code(&self) -> &CurrencyCode {
        &self.code
    }

    pub fn scale(&self) -> u32 {
        self.scale
    }
}

/// The currencies one ledger knows beyond ISO 4217: its registered custom assets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurrencyBook {
    custom: BTreeMap<CurrencyCode, u32>,
}

impl CurrencyBook {
    /// A ledger with no custom assets.
    pub const EMPTY: CurrencyBook = CurrencyBook {
        custom: BTreeMap::new(),
    };

    pub fn register(&mut self, code: CurrencyCode, scale: u32) {
        self.custom.insert(code, scale);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&CurrencyCode, u32)> {
        self.custom.iter().map(|(c, s)| (c, *s))
    }

    pub fn custom(&self, code: &CurrencyCode) -> Option<u32> {
        self.custom.get(code).copied()
    }

    /// ISO 4217 first, then the ledger's custom assets.
    pub fn resolve(&self, code: &str) -> Result<Currency, CoreError> {
        let code = CurrencyCode::parse(code)?;
        match iso_scale(&code) {
            Some(scale) => Ok(Currency { code, scale }),
            None => match self.custom.get(&code) {
                Some(scale) => Currency::custom(code, *scale),
                None => Err(CoreError::UnknownCurrency(code.to_string())),
            },
        }
    }

    /// Whether the ledger may use `currency`: ISO, or registered with this scale.
    pub fn knows(&self, currency: &Currency) -> bool {
        iso_scale(currency.code()).is_some()
            || self.custom(currency.code()) == Some(currency.scale())
    }
}

/// Cuts user input that is echoed in an error message, so errors stay small.
pub(crate) fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(code: &str) -> Currency {
        Currency::iso(&CurrencyCode::parse(code).unwrap()).unwrap()
    }

    #[test]
    fn the_iso_table_agrees_with_the_standard_for_every_three_letter_code() {
        let letters = b'A'..=b'Z';
        for a in letters.clone() {
            for b in letters.clone() {
                for c in letters.clone() {
                    let code = String::from_utf8(vec![a, b, c]).unwrap();
                    let standard = iso_currency::Currency::from_code(&code)
                        .and_then(|iso| iso.exponent())
                        .map(u32::from);
                    let ours = Currency::iso(&CurrencyCode::parse(&code).unwrap())
                        .ok()
                        .map(|c| c.scale());
                    assert_eq!(ours, standard, "{code}");
                }
            }
        }
    }

    #[test]
    fn iso_currencies_carry_their_minor_units() {
        assert_eq!(iso("USD").scale(), 2);
        assert_eq!(iso("EUR").scale(), 2);
        assert_eq!(iso("JPY").scale(), 0);
        assert_eq!(iso("BHD").scale(), 3);
    }

    #[test]
    fn malformed_and_unknown_codes_are_refused() {
        for bad in ["usd", "US", "1AB", "USD$", "ABCDEFGHIJKLM", ""] {
            assert!(CurrencyCode::parse(bad).is_err(), "{bad}");
        }
        let zzz = CurrencyCode::parse("ZZZ").unwrap();
        assert_eq!(
            Currency::iso(&zzz),
            Err(CoreError::UnknownCurrency("ZZZ".into()))
        );
    }

    #[test]
    fn a_custom_scale_is_bounded() {
        let btc = CurrencyCode::parse("BTC").unwrap();
        assert_eq!(Currency::custom(btc.clone(), 8).unwrap().scale(), 8);
        assert!(Currency::custom(btc, limits::CURRENCY_SCALE_MAX + 1).is_err());
    }
}
