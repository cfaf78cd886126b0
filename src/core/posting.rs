//! Postings: one line of a journal entry — account, currency, and a debit or a credit.

use super::account::AccountCode;
use super::currency::{Currency, CurrencyBook};
use super::money::Amount;
use super::CoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Debit,
    Credit,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debit => "debit",
            Self::Credit => "credit",
        }
    }

    pub fn opposite(self) -> Self {
        match self {
            Self::Debit => Self::Credit,
            Self::Credit => Self::Debit,
        }
    }
}

/// A valid posting: its amount fits its currency. Whether the account exists and takes
/// that currency is decided against the ledger's state, not here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    account: AccountCode,
    currency: Currency,
    side: Side,
    amount: Amount,
}

impl Posting {
    /// Parses one posting as a client sent it. `index` is its position, for messages.
    /// Checks run in the order of `docs/errors.md`: side, account, currency, amount.
    pub fn parse(
        index: usize,
        account: &str,
        currency: &str,
        debit: Option<&str>,
        credit: Option<&str>,
    ) -> Result<Self, CoreError> {
        Self::parse_in(
            index,
            account,
            currency,
            debit,
            credit,
            &CurrencyBook::default(),
        )
    }

    /// Like `parse`, for a ledger that knows the custom assets of `book`.
    pub fn parse_in(
        index: usize,
        account: &str,
        currency: &str,
        debit: Option<&str>,
        credit: Option<&str>,
        book: &CurrencyBook,
    ) -> Result<Self, CoreError> {
        let (side, amount) = match (debit, credit) {
            (Some(a), None) => (Side::Debit, a),
            (None, Some(a)) => (Side::Credit, a),
            _ => return Err(CoreError::PostingSide { index }),
        };
        let account = AccountCode::parse(account)?;
        let currency = book.resolve(currency)?;
        let amount = Amount::parse(amount, &currency)?;
        Ok(Self {
            account,
            currency,
            side,
            amount,
        })
    }

    pub fn new(account: AccountCode, currency: Currency, side: Side, amount: Amount) -> Self {
        Self {
            account,
            currency,
            side,
            amount,
        }
    }

    pub fn account(&self) -> &AccountCode {
        &self.account
    }

    pub fn currency(&self) -> &Currency {
        &self.currency
    }

    pub fn side(&self) -> Side {
        self.side
    }

    pub fn amount(&self) -> Amount {
        self.amount
    }

    /// The same posting on the other side, for reversals.
    pub fn mirrored(&self) -> Self {
        Self {
            side: self.side.opposite(),
            ..self.clone()
        }
    }

    /// Debits minus credits: how this posting moves the account's raw balance.
    pub fn signed_value(&self) -> rust_decimal::Decimal {
        match self.side {
            Side::Debit => self.amount.value(),
            Side::Credit => -self.amount.value(),
        }
    }

    /// The canonical (RFC 8785) JSON of this posting, keys in their sorted order, the
    /// amount at exactly the currency's scale.
    pub fn canonical_json(&self) -> String {
        let mut out = Vec::with_capacity(96);
        self.write_canonical_json(&mut out);
        String::from_utf8(out).expect("canonical JSON is UTF-8")
    }

    /// [`Posting::canonical_json`], appended to `out`: members in RFC 8785 order
    /// (`account` < `credit` < `currency` < `debit`).
    pub fn write_canonical_json(&self, out: &mut Vec<u8>) {
        use super::canonical::write_string;
        let amount = self.amount.render(self.currency.scale());
        out.extend_from_slice(br#"{"account":"#);
        write_string(out, self.account.as_str());
        match self.side {
            Side::Debit => {
                out.extend_from_slice(br#","currency":"#);
                write_string(out, self.currency.code().as_str());
                out.extend_from_slice(br#","debit":""#);
                out.extend_from_slice(amount.as_bytes());
                out.extend_from_slice(br#""}"#);
            }
            Side::Credit => {
                out.extend_from_slice(br#","credit":""#);
                out.extend_from_slice(amount.as_bytes());
                out.extend_from_slice(br#"","currency":"#);
                write_string(out, self.currency.code().as_str());
                out.push(b'}');
            }
        }
    }
}
