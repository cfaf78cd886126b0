//! Accounts: codes such as `assets:cash:eur`, a type that fixes the normal side, an
//! optional fixed currency and flags.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::currency::truncate;
use super::{limits, CoreError};

/// `assets:cash:eur`: lowercase segments of `a-z0-9_-` joined by `:`. Reports roll up
/// by prefix, so the segments carry meaning.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountCode(String);

impl AccountCode {
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let segment_ok = |seg: &str| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        };
        let ok = s.len() <= limits::ACCOUNT_CODE_BYTES_MAX
            && s.split(':').count() <= limits::ACCOUNT_SEGMENTS_MAX
            && s.split(':').all(segment_ok);
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(CoreError::InvalidAccountCode(truncate(s)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The five account types of double-entry bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountType {
    Asset,
    Liability,
    Equity,
    Income,
    Expense,
}

impl AccountType {
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        match s {
            "asset" => Ok(Self::Asset),
            "liability" => Ok(Self::Liability),
            "equity" => Ok(Self::Equity),
            "income" => Ok(Self::Income),
            "expense" => Ok(Self::Expense),
            _ => Err(CoreError::InvalidAccountType(truncate(s))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asset => "asset",
            Self::Liability => "liability",
            Self::Equity => "equity",
            Self::Income => "income",
            Self::Expense => "expense",
        }
    }

    /// The type an account opened by the service itself gets, from its first segment
    /// (`assets`, `liabilities`, `equity`, `income`, `expenses`).
    pub fn of_root(code: &AccountCode) -> Self {
        match code.as_str().split(':').next() {
            Some("assets") => Self::Asset,
            Some("liabilities") => Self::Liability,
            Some("income") => Self::Income,
            Some("expenses") => Self::Expense,
            _ => Self::Equity,
        }
    }

    /// Assets and expenses grow with debits; the others grow with credits.
    pub fn is_debit_normal(self) -> bool {
        matches!(self, Self::Asset | Self::Expense)
    }
}

/// Flags an account may carry. Only one exists today; the set is closed so that an
/// unknown flag is an error rather than silently ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AccountFlags {
    /// The account's normal balance may never go below zero.
    pub no_overdraft: bool,
}

impl AccountFlags {
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, CoreError> {
        let mut flags = Self::default();
        for name in names {
            match name {
                "no_overdraft" => flags.no_overdraft = true,
                other => return Err(CoreError::InvalidAccountFlag(truncate(other))),
            }
        }
        Ok(flags)
    }

    pub fn names(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.no_overdraft {
            out.push("no_overdraft");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_codes_are_lowercase_segments() {
        for good in ["assets", "assets:cash:eur", "income:sales_2026", "a-b:c"] {
            assert!(AccountCode::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Assets",
            "assets:",
            ":cash",
            "assets::cash",
            "assets cash",
            "é",
        ] {
            assert!(AccountCode::parse(bad).is_err(), "{bad}");
        }
        let long = ["a"; limits::ACCOUNT_SEGMENTS_MAX + 1].join(":");
        assert!(AccountCode::parse(&long).is_err());
        let at_bound = "a".repeat(limits::ACCOUNT_CODE_BYTES_MAX);
        assert!(AccountCode::parse(&at_bound).is_ok());
        assert!(AccountCode::parse(&format!("{at_bound}a")).is_err());
    }

    #[test]
    fn unknown_flags_and_types_are_refused() {
        assert!(AccountFlags::parse(["no_overdraft"]).unwrap().no_overdraft);
        assert!(AccountFlags::parse(["frozen"]).is_err());
        assert!(AccountType::parse("assets").is_err());
    }
}
