//! The writer's in-memory view of one ledger: the chain head and the accounts it has
//! loaded. The store fills it lazily; `decide` reads it; `apply` folds events into it.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::account::{AccountCode, AccountFlags, AccountType};
use super::commerce::CommerceState;
use super::currency::{Currency, CurrencyBook, CurrencyCode};
use super::event::EventBody;
use super::hash::Hash;
use super::ledger::LedgerId;
use super::merkle::Frontier;
use super::seq_buckets::{OpenBuckets, BUCKET_SIZES};

#[derive(Debug, Clone, PartialEq)]
pub struct AccountState {
    pub account_type: AccountType,
    pub currency: Option<Currency>,
    pub flags: AccountFlags,
    pub closed: bool,
    /// Debits minus credits per currency, exact.
    pub balances: BTreeMap<CurrencyCode, Decimal>,
}

impl AccountState {
    /// The balance on the account's normal side (what `no_overdraft` keeps ≥ 0).
    pub fn normal_balance(&self, raw: Decimal) -> Decimal {
        if self.account_type.is_debit_normal() {
            raw
        } else {
            -raw
        }
    }
}

#[derive(Debug, Clone)]
pub struct LedgerState {
    pub ledger: LedgerId,
    /// Seq of the last event in the log (0 before `ledger.created`).
    pub head_seq: u64,
    pub head_hash: Hash,
    /// Accounts loaded so far. An account missing here is unknown to `decide`, so the
    /// store must load every account a command names before deciding it. Looked up
    /// several times per posting by the writer, so hashed with foldhash rather than
    /// SipHash (the callers are authenticated writers; its seed is still random).
    pub accounts: foldhash::HashMap<AccountCode, AccountState>,
    /// Transactions known to be reversed (loaded or appended), for the same reason.
    pub reversed: HashSet<Uuid>,
    /// Products, stock levels and orders loaded so far, under the same rule.
    pub commerce: CommerceState,
    /// The ledger's custom assets; the store loads them all (`None`: not yet).
    pub currencies: Option<CurrencyBook>,
    /// The right edge of the Merkle tree over the events so far (`None`: not loaded).
    pub merkle: Option<Frontier>,
    /// The sums of the seq buckets still open (`None`: not loaded; the store reads the
    /// open level-0 bucket's events from the log, and the larger buckets' from the
    /// rows of the whole buckets inside them). The writer folds each commit's events
    /// into them (`OpenBuckets::add`), not `apply`, so that an atomic batch that fails
    /// leaves them alone.
    pub open_buckets: Option<OpenBuckets>,
    /// The first month without month rows (`core::months`; `None`: not loaded). The
    /// writer moves it with each commit (`close_months`), not `apply`.
    pub open_month: Option<NaiveDate>,
}

impl LedgerState {
    /// The custom assets known so far (none before the store loaded them).
    pub fn book(&self) -> &CurrencyBook {
        static EMPTY: CurrencyBook = CurrencyBook::EMPTY;
        self.currencies.as_ref().unwrap_or(&EMPTY)
    }

    pub fn new(ledger: LedgerId, head_seq: u64, head_hash: Hash) -> Self {
        Self {
            ledger,
            head_seq,
            head_hash,
            accounts: foldhash::HashMap::default(),
            reversed: HashSet::new(),
            commerce: CommerceState::default(),
            currencies: None,
            merkle: None,
            // At the end of a bucket of the largest size (or before the first event)
            // every open bucket is empty.
            open_buckets: head_seq
                .is_multiple_of(BUCKET_SIZES[2])
                .then(OpenBuckets::default),
            // Before the first event every month is open.
            open_month: (head_seq == 0).then(crate::core::months::dawn),
        }
    }

    /// Folds an event into the state. It cannot fail: `decide` already checked it.
    pub fn apply(&mut self, body: &EventBody, seq: u64, hash: Hash) {
        match body {
            EventBody::LedgerCreated { .. } | EventBody::RatesPublished { .. } => {}
            EventBody::CurrencyRegistered { code, scale } => {
                self.currencies
                    .get_or_insert_with(CurrencyBook::default)
                    .register(code.clone(), *scale);
            }
            EventBody::AccountOpened {
                code,
                account_type,
                currency,
                flags,
            } => {
                let account = AccountState {
                    account_type: *account_type,
                    currency: currency.clone(),
                    flags: *flags,
                    closed: false,
                    balances: BTreeMap::new(),
                };
                self.accounts.insert(code.clone(), account);
            }
            EventBody::AccountClosed { code } => {
                if let Some(a) = self.accounts.get_mut(code) {
                    a.closed = true;
                }
            }
            EventBody::TransactionPosted { .. }
            | EventBody::TransactionReversed { .. }
            | EventBody::Commerce(_) => {
                if let EventBody::Commerce(c) = body {
                    self.commerce.apply(c);
                }
                if let Some(original) = body.reverses() {
                    self.reversed.insert(original);
                }
                for p in body.postings() {
                    let account = self
                        .accounts
                        .get_mut(p.account())
                        .expect("decide checked the account");
                    let balance = account
                        .balances
                        .entry(p.currency().code().clone())
                        .or_default();
                    *balance += p.signed_value();
                }
            }
        }
        self.head_seq = seq;
        self.head_hash = hash;
    }
}
