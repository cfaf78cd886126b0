//! Projections for reports, written with every batch: custom assets, published rates, and balance
//! changes summed per day, month and seq range (`sql/V0007`).

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use deadpool_postgres::ClientWrapper;
use rust_decimal::Decimal;
use tokio_postgres::types::ToSql;

use crate::core::event::EventBody;
use crate::core::ledger::LedgerId;
use crate::core::posting::Side;
use crate::core::state::LedgerState;
use crate::store::StoreError;

use super::persist::Plan;

const INSERT_RATES: &str = "INSERT INTO rates (ledger_id, base, quote, effective_date, seq, rate) \
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::date[], $5::int8[], $6::numeric[])";
const INSERT_CURRENCIES: &str = "INSERT INTO currencies (ledger_id, code, scale, seq) \
     SELECT $1, * FROM unnest($2::text[], $3::int4[], $4::int8[])";
pub(super) const UPSERT_PERIODS: &str = "INSERT INTO balance_periods (ledger_id, kind, period, account, currency, debits, credits) \
     SELECT $1, * FROM unnest($2::text[], $3::date[], $4::text[], $5::text[], $6::numeric[], $7::numeric[]) \
     ON CONFLICT (ledger_id, kind, period, account, currency) DO UPDATE SET \
     debits = balance_periods.debits + EXCLUDED.debits, credits = balance_periods.credits + EXCLUDED.credits";
pub(super) const UPSERT_BUCKETS: &str = "INSERT INTO balance_buckets (ledger_id, level, bucket, account, currency, debits, credits) \
     SELECT $1, * FROM unnest($2::int2[], $3::int8[], $4::text[], $5::text[], $6::numeric[], $7::numeric[]) \
     ON CONFLICT (ledger_id, level, bucket, account, currency) DO UPDATE SET \
     debits = balance_buckets.debits + EXCLUDED.debits, credits = balance_buckets.credits + EXCLUDED.credits";

type Sums<'a, K> = BTreeMap<(K, &'a str, &'a str), (Decimal, Decimal)>;

fn add<'a, K: Ord>(
    sums: &mut Sums<'a, K>,
    key: K,
    account: &'a str,
    currency: &'a str,
    debits: Decimal,
    credits: Decimal,
) {
    let sum = sums.entry((key, account, currency)).or_default();
    sum.0 += debits;
    sum.1 += credits;
}

#[derive(Default)]
struct RateColumns<'a> {
    base: Vec<&'a str>,
    quote: Vec<&'a str>,
    day: Vec<NaiveDate>,
    seq: Vec<i64>,
    rate: Vec<Decimal>,
}

/// One row per key of a `Sums` map: the key's columns, then account, currency, sums.
pub(super) struct SumColumns<'a, A, B> {
    a: Vec<A>,
    b: Vec<B>,
    account: Vec<&'a str>,
    currency: Vec<&'a str>,
    debits: Vec<Decimal>,
    credits: Vec<Decimal>,
}

impl<A: ToSql + Sync, B: ToSql + Sync> SumColumns<'_, A, B> {
    /// `UPSERT_PERIODS`' or `UPSERT_BUCKETS`' parameters after the ledger, in order.
    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.a,
            &self.b,
            &self.account,
            &self.currency,
            &self.debits,
            &self.credits,
        ]
    }
}

impl<'a, A: Copy, B: Copy> SumColumns<'a, A, B> {
    fn from(sums: &Sums<'a, (A, B)>) -> Self {
        let mut c = Self {
            a: Vec::with_capacity(sums.len()),
            b: Vec::with_capacity(sums.len()),
            account: Vec::with_capacity(sums.len()),
            currency: Vec::with_capacity(sums.len()),
            debits: Vec::with_capacity(sums.len()),
            credits: Vec::with_capacity(sums.len()),
        };
        for (((a, b), account, currency), (debits, credits)) in sums {
            c.a.push(*a);
            c.b.push(*b);
            c.account.push(account);
            c.currency.push(currency);
            c.debits.push(*debits);
            c.credits.push(*credits);
        }
        c
    }
}

/// The day and month sums of a plan's postings, and the seq-bucket sums of the level-0
/// buckets it closed (`core::seq_buckets`). The postings are first summed per account,
/// currency and effective day: a batch's hundreds of postings fall into a few dozen
/// such sums, and each day and month row is a sum of some of them.
#[allow(clippy::type_complexity)]
fn sums(plan: &Plan) -> (Sums<'_, (&'static str, NaiveDate)>, Sums<'_, (i16, i64)>) {
    let mut fine: foldhash::HashMap<(&str, &str, NaiveDate), (Decimal, Decimal)> =
        foldhash::HashMap::default();
    for (sealed, body) in &plan.events {
        let postings = body.postings();
        if postings.is_empty() {
            continue;
        }
        let day = body.effective_date(sealed.recorded_at);
        for p in postings {
            let key = (p.account().as_str(), p.currency().code().as_str(), day);
            let (debits, credits) = fine.entry(key).or_default();
            match p.side() {
                Side::Debit => *debits += p.amount().value(),
                Side::Credit => *credits += p.amount().value(),
            }
        }
    }
    let mut periods: Sums<(&str, NaiveDate)> = BTreeMap::new();
    for ((account, currency, day), (debits, credits)) in fine {
        let month = day.with_day(1).expect("every month has a first day");
        add(&mut periods, ("D", day), account, currency, debits, credits);
        add(
            &mut periods,
            ("M", month),
            account,
            currency,
            debits,
            credits,
        );
    }
    let mut buckets: Sums<(i16, i64)> = BTreeMap::new();
    for closed in &plan.closed_buckets {
        for ((account, currency), (debits, credits)) in &closed.sums {
            for key in closed.rows() {
                add(
                    &mut buckets,
                    key,
                    account.as_str(),
                    currency.as_str(),
                    *debits,
                    *credits,
                );
            }
        }
    }
    (periods, buckets)
}

/// Folds the plan's events, in seq order, into the ledger's open seq bucket (loaded
/// before anything is decided), keeping the buckets they close for `UPSERT_BUCKETS`.
/// Called once a group is decided (and by a rebuild per chunk), so that an atomic
/// batch that fails never reaches it.
pub(crate) fn close_buckets(state: &mut LedgerState, plan: &mut Plan) {
    let open = state
        .open_bucket
        .as_mut()
        .expect("the open seq bucket is loaded before deciding");
    for (sealed, body) in &plan.events {
        plan.closed_buckets
            .extend(open.add(sealed.seq, body.postings()));
    }
}

/// The rows `UPSERT_PERIODS` and `UPSERT_BUCKETS` take for a plan (no periods when it
/// skips them), for the pipelined group's single statement.
#[allow(clippy::type_complexity)]
pub(super) fn sum_columns(
    plan: &Plan,
) -> (
    SumColumns<'_, &'static str, NaiveDate>,
    SumColumns<'_, i16, i64>,
) {
    let (mut periods, buckets) = sums(plan);
    if plan.skip_periods {
        periods.clear();
    }
    (SumColumns::from(&periods), SumColumns::from(&buckets))
}

pub(super) async fn persist(
    client: &ClientWrapper,
    ledger: &LedgerId,
    plan: &Plan,
) -> Result<(), StoreError> {
    let l = ledger.as_str();
    let mut rates = RateColumns::default();
    let mut currencies: (Vec<&str>, Vec<i32>, Vec<i64>) = Default::default();
    for (sealed, body) in &plan.events {
        if let EventBody::CurrencyRegistered { code, scale } = body {
            currencies.0.push(code.as_str());
            currencies.1.push(*scale as i32);
            currencies.2.push(sealed.seq as i64);
        }
        if let EventBody::RatesPublished { rates: published } = body {
            for r in published {
                rates.base.push(r.base.as_str());
                rates.quote.push(r.quote.as_str());
                rates.day.push(r.effective_date);
                rates.seq.push(sealed.seq as i64);
                rates.rate.push(r.rate);
            }
        }
    }
    let (periods, buckets) = sums(plan);
    if !currencies.0.is_empty() {
        client
            .execute(
                &client.prepare_cached(INSERT_CURRENCIES).await?,
                &[&l, &currencies.0, &currencies.1, &currencies.2],
            )
            .await?;
    }
    if !rates.base.is_empty() {
        client
            .execute(
                &client.prepare_cached(INSERT_RATES).await?,
                &[
                    &l,
                    &rates.base,
                    &rates.quote,
                    &rates.day,
                    &rates.seq,
                    &rates.rate,
                ],
            )
            .await?;
    }
    // A group with no postings may still close a bucket (its last seq opens an
    // account, say), and a group of entries mostly closes none.
    let p = SumColumns::from(&periods);
    let b = SumColumns::from(&buckets);
    let periods = async {
        if plan.skip_periods || periods.is_empty() {
            return Ok(0);
        }
        client
            .execute(
                &client.prepare_cached(UPSERT_PERIODS).await?,
                &super::persist::params(&l, &[&p.params()]),
            )
            .await
    };
    let buckets = async {
        if buckets.is_empty() {
            return Ok(0);
        }
        client
            .execute(
                &client.prepare_cached(UPSERT_BUCKETS).await?,
                &super::persist::params(&l, &[&b.params()]),
            )
            .await
    };
    futures_util::try_join!(periods, buckets)?;
    Ok(())
}

/// Day and month sums carried over many chunks of a replayed log, so that each row of
/// `balance_periods` is written once rather than once per chunk. `flush` writes (and
/// forgets) what is held; a rebuild flushes whenever it holds more than a bound.
#[derive(Default)]
pub(crate) struct PeriodTotals {
    sums: BTreeMap<(&'static str, NaiveDate, String, String), (Decimal, Decimal)>,
}

impl PeriodTotals {
    pub(crate) fn add(&mut self, plan: &Plan) {
        for (sealed, body) in &plan.events {
            let postings = body.postings();
            if postings.is_empty() {
                continue;
            }
            let day = body.effective_date(sealed.recorded_at);
            let month = day.with_day(1).expect("every month has a first day");
            for p in postings {
                for key in [("D", day), ("M", month)] {
                    let entry = self
                        .sums
                        .entry((
                            key.0,
                            key.1,
                            p.account().to_string(),
                            p.currency().code().to_string(),
                        ))
                        .or_default();
                    match p.side() {
                        Side::Debit => entry.0 += p.amount().value(),
                        Side::Credit => entry.1 += p.amount().value(),
                    }
                }
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.sums.len()
    }

    pub(crate) async fn flush(
        &mut self,
        client: &ClientWrapper,
        ledger: &LedgerId,
    ) -> Result<(), StoreError> {
        if self.sums.is_empty() {
            return Ok(());
        }
        let borrowed: Sums<(&str, NaiveDate)> = self
            .sums
            .iter()
            .map(|((kind, period, account, currency), sums)| {
                (
                    ((*kind, *period), account.as_str(), currency.as_str()),
                    *sums,
                )
            })
            .collect();
        let c = SumColumns::from(&borrowed);
        client
            .execute(
                &client.prepare_cached(UPSERT_PERIODS).await?,
                &super::persist::params(&ledger.as_str(), &[&c.params()]),
            )
            .await?;
        self.sums.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::DateTime;
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;
    use crate::core::entry::Entry;
    use crate::core::event::seal;
    use crate::core::hash::Hash;
    use crate::core::posting::Posting;
    use crate::core::seq_buckets::BUCKET_SIZES;

    const ACCOUNTS: [&str; 4] = [
        "assets:cash",
        "assets:bank",
        "income:sales",
        "expenses:rent",
    ];
    const CURRENCIES: [&str; 2] = ["USD", "EUR"];

    /// An entry moving `cents` from one account to another, on a day near a month's end.
    fn plan(entries: &[(usize, usize, usize, i64, u32)], first_seq: u64) -> Plan {
        let ledger = LedgerId::parse("acme").unwrap();
        let mut plan = Plan::default();
        for (i, &(from, to, currency, cents, day)) in entries.iter().enumerate() {
            let amount = Decimal::new(cents, 2).to_string();
            let currency = CURRENCIES[currency];
            let postings = vec![
                Posting::parse(0, ACCOUNTS[to], currency, Some(&amount), None).unwrap(),
                Posting::parse(1, ACCOUNTS[from], currency, None, Some(&amount)).unwrap(),
            ];
            let date =
                NaiveDate::from_ymd_opt(2026, 1, 30).unwrap() + chrono::Days::new(day.into());
            let entry =
                Entry::new(postings, String::new(), Some(date), Default::default()).unwrap();
            let body = EventBody::TransactionPosted { entry };
            let seq = first_seq + i as u64;
            let at = DateTime::from_timestamp_micros(1_800_000_000_000_000).unwrap();
            let sealed = seal(&ledger, seq, Hash::GENESIS, Uuid::nil(), at, &body);
            plan.events.push((Arc::new(sealed), body));
        }
        plan
    }

    proptest! {
        /// Summing through the finest grain first gives every period row the sum of
        /// exactly the postings that fall in it, and every bucket row that of the
        /// postings of the whole level-0 buckets in it.
        #[test]
        fn sums_equal_adding_each_posting_to_each_of_its_rows(
            entries in prop::collection::vec((0..4usize, 0..4usize, 0..2usize, 1i64..1_000_000, 0..4u32), 0..700),
            first_bucket in 0u64..2_400,
        ) {
            let first_seq = first_bucket * BUCKET_SIZES[0] + 1;
            let mut plan = plan(&entries, first_seq);
            let mut state = LedgerState::new(LedgerId::parse("acme").unwrap(), first_seq - 1, Hash::GENESIS);
            close_buckets(&mut state, &mut plan);
            let whole_until = (first_seq + entries.len() as u64 - 1) / BUCKET_SIZES[0] * BUCKET_SIZES[0];
            let mut periods: Sums<(&str, NaiveDate)> = BTreeMap::new();
            let mut buckets: Sums<(i16, i64)> = BTreeMap::new();
            for (sealed, body) in &plan.events {
                let day = body.effective_date(sealed.recorded_at);
                for p in body.postings() {
                    let (a, c) = (p.account().as_str(), p.currency().code().as_str());
                    let (d, cr) = match p.side() {
                        Side::Debit => (p.amount().value(), Decimal::ZERO),
                        Side::Credit => (Decimal::ZERO, p.amount().value()),
                    };
                    add(&mut periods, ("D", day), a, c, d, cr);
                    add(&mut periods, ("M", day.with_day(1).unwrap()), a, c, d, cr);
                    if sealed.seq > whole_until {
                        continue;
                    }
                    for (level, size) in BUCKET_SIZES.iter().enumerate() {
                        add(&mut buckets, (level as i16, ((sealed.seq - 1) / size) as i64), a, c, d, cr);
                    }
                }
            }
            let (got_periods, got_buckets) = sums(&plan);
            prop_assert_eq!(got_periods, periods);
            prop_assert_eq!(got_buckets, buckets);
        }
    }
}
