//! Ledger ids: the key every table starts with.

use std::fmt;

use super::currency::truncate;
use super::{limits, CoreError};

/// `acme`, `shop-eu_2`: 1–64 bytes of `a-z0-9_-`, starting with a letter or digit, so
/// the id is safe in URLs, file names and SQL identifiers alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LedgerId(String);

impl LedgerId {
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let ok = !s.is_empty()
            && s.len() <= limits::LEDGER_ID_BYTES_MAX
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(CoreError::InvalidLedgerId(truncate(s)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LedgerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_ids_are_url_safe() {
        assert!(LedgerId::parse("acme").is_ok());
        assert!(LedgerId::parse(&"a".repeat(64)).is_ok());
        for bad in ["", "-acme", "Acme", "a/b", "a b", &"a".repeat(65)] {
            assert!(LedgerId::parse(bad).is_err(), "{bad}");
        }
    }
}
