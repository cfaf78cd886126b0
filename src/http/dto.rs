//! The JSON shapes of requests. They live at the edge and convert into core values;
//! unknown members are refused so that a typo never goes unnoticed.

use std::borrow::Cow;

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::core::account::{AccountCode, AccountFlags, AccountType};
use crate::core::currency::{Currency, CurrencyBook, CurrencyCode};
use crate::core::decide::Command;
use crate::core::entry::{check_posting_count, check_text, Entry};
use crate::core::ledger::LedgerId;
use crate::core::posting::Posting;
use crate::core::{limits, CoreError};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLedger {
    /// `[a-z0-9][a-z0-9_-]*`, at most 64 bytes.
    pub id: String,
    pub name: String,
    /// ISO 4217 code, e.g. `EUR`.
    pub base_currency: String,
}

impl CreateLedger {
    pub fn into_command(self) -> Result<(LedgerId, Command), CoreError> {
        let ledger = LedgerId::parse(&self.id)?;
        check_text("name", &self.name, limits::TEXT_BYTES_MAX)?;
        let base_currency = Currency::iso(&CurrencyCode::parse(&self.base_currency)?)?;
        Ok((
            ledger,
            Command::CreateLedger {
                name: self.name,
                base_currency,
            },
        ))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenAccount {
    /// Lowercase segments joined by `:`, e.g. `assets:cash:eur`.
    pub code: String,
    /// asset, liability, equity, income or expense.
    #[serde(rename = "type")]
    pub account_type: String,
    /// If set, the only currency the account accepts.
    #[serde(default)]
    pub currency: Option<String>,
    /// e.g. `["no_overdraft"]`.
    #[serde(default)]
    pub flags: Vec<String>,
}

impl OpenAccount {
    pub fn into_command(self, book: &CurrencyBook) -> Result<Command, CoreError> {
        let code = AccountCode::parse(&self.code)?;
        let account_type = AccountType::parse(&self.account_type)?;
        let currency = self
            .currency
            .as_deref()
            .map(|c| book.resolve(c))
            .transpose()?;
        let flags = AccountFlags::parse(self.flags.iter().map(String::as_str))?;
        Ok(Command::OpenAccount {
            code,
            account_type,
            currency,
            flags,
        })
    }
}

/// A string of a request that points into its body when it holds no escapes: a batch
/// of 1,000 entries has some 6,000 of them, each an allocation if copied.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostingBody<'a> {
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub account: Text<'a>,
    /// ISO 4217 code, or a custom asset registered in the ledger.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub currency: Text<'a>,
    /// A positive decimal string with at most the currency's decimals; exactly one of
    /// `debit` and `credit`.
    #[serde(default, borrow)]
    #[schema(value_type = Option<String>)]
    pub debit: Option<Text<'a>>,
    #[serde(default, borrow)]
    #[schema(value_type = Option<String>)]
    pub credit: Option<Text<'a>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostTransaction<'a> {
    #[serde(borrow)]
    pub postings: Vec<PostingBody<'a>>,
    #[serde(default)]
    pub description: String,
    /// `YYYY-MM-DD`; defaults to the day the entry is recorded.
    #[serde(default)]
    pub effective_date: Option<String>,
    /// Free-form object kept in the log (at most 4 KiB).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

impl PostTransaction<'_> {
    /// Entry checks run in the order of `docs/errors.md`: count, then each posting,
    /// then texts, then balance.
    pub fn into_command(self, book: &CurrencyBook) -> Result<Command, CoreError> {
        check_posting_count(self.postings.len())?;
        let postings = self
            .postings
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Posting::parse_in(
                    i,
                    &p.account,
                    &p.currency,
                    p.debit.as_deref(),
                    p.credit.as_deref(),
                    book,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let effective_date = self.effective_date.as_deref().map(parse_date).transpose()?;
        let entry = Entry::new(postings, self.description, effective_date, self.metadata)?;
        Ok(Command::PostEntry { entry })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostBatch<'a> {
    /// All entries or none (default), or each on its own.
    #[serde(default = "yes")]
    pub atomic: bool,
    /// At most 1,000 entries.
    #[serde(borrow)]
    pub entries: Vec<PostTransaction<'a>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reverse {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub effective_date: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// admin, writer, reader or auditor.
    pub role: String,
}

pub fn parse_date(s: &str) -> Result<NaiveDate, CoreError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| CoreError::InvalidField {
        field: "effective_date",
        reason: "expected a date as YYYY-MM-DD".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strings without escapes point into the body; a string with escapes is decoded
    /// into its own copy and reads the same.
    #[test]
    fn posting_strings_borrow_from_the_body_unless_escaped() {
        let body = br#"{"postings":[
            {"account":"assets:cash","currency":"USD","debit":"1.00"},
            {"account":"income:\u0073ales","currency":"US\u0044","credit":"1.00"}]}"#;
        let entry: PostTransaction = serde_json::from_slice(body).unwrap();
        let [plain, escaped] = &entry.postings[..] else {
            panic!("two postings")
        };
        assert!(matches!(plain.account.0, Cow::Borrowed("assets:cash")));
        assert!(matches!(
            plain.debit.as_ref().unwrap().0,
            Cow::Borrowed("1.00")
        ));
        assert!(matches!(&escaped.account.0, Cow::Owned(s) if s == "income:sales"));
        assert_eq!(&*escaped.currency, "USD");
        assert!(escaped.debit.is_none());
        assert_eq!(escaped.credit.as_deref(), Some("1.00"));
    }
}
