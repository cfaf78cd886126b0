//! Projections for reports, written with every batch: custom assets, published rates, and balance
//! changes summed per day, month and seq range (`sql/V0007`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use deadpool_postgres::ClientWrapper;
use rust_decimal::Decimal;
use tokio_postgres::types::ToSql;

use crate::core::event::EventBody;
use crate::core::ledger::LedgerId;
use crate::core::months;
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
/// The month rows of the months a commit closes (from `$2` up to the new open month
/// `$3`), each the sum of its day rows, and the ledger's new open month. Those months
/// had no month rows; one already there means the rows are not what this code wrote,
/// and the commit fails rather than count it twice. Sent before the commit's own
/// rows, on a transaction that sees every earlier commit's day rows.
pub(crate) const CLOSE_MONTHS: &str = "WITH bound AS ( \
       INSERT INTO period_bounds (ledger_id, open_from) VALUES ($1, $3) \
       ON CONFLICT (ledger_id) DO UPDATE SET open_from = EXCLUDED.open_from) \
     INSERT INTO balance_periods (ledger_id, kind, period, account, currency, debits, credits) \
     SELECT $1, 'M', period - (extract(day FROM period)::int - 1), account, currency, sum(debits), sum(credits) \
     FROM balance_periods WHERE ledger_id = $1 AND kind = 'D' AND period >= $2 AND period < $3 \
     GROUP BY 3, account, currency";
/// The rows of the buckets a commit closed: new rows, each written once (a row already
/// there is not what this code wrote, and the commit fails rather than count it twice),
/// so no other commit ever waits for them.
pub(super) const INSERT_BUCKETS: &str = "INSERT INTO balance_buckets (ledger_id, level, bucket, account, currency, debits, credits) \
     SELECT $1, * FROM unnest($2::int2[], $3::int8[], $4::text[], $5::text[], $6::numeric[], $7::numeric[])";

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
    /// `UPSERT_PERIODS`' or `INSERT_BUCKETS`' parameters after the ledger, in order.
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
    debug_assert!(
        plan.open_month.is_some() || plan.skip_periods,
        "close_months runs before a plan's period rows are summed"
    );
    let open_month = plan.open_month.unwrap_or_else(months::dawn);
    for ((account, currency, day), (debits, credits)) in fine {
        add(&mut periods, ("D", day), account, currency, debits, credits);
        if months::has_month_row(day, open_month) {
            let month = months::month_of(day);
            add(
                &mut periods,
                ("M", month),
                account,
                currency,
                debits,
                credits,
            );
        }
    }
    let mut buckets: Sums<(i16, i64)> = BTreeMap::new();
    for closed in &plan.closed_buckets {
        for ((account, currency), (debits, credits)) in &closed.sums {
            add(
                &mut buckets,
                closed.row(),
                account.as_str(),
                currency.as_str(),
                *debits,
                *credits,
            );
        }
    }
    (periods, buckets)
}

/// Folds the plan's events, in seq order, into the ledger's open seq buckets (loaded
/// before anything is decided), keeping the buckets they close for `INSERT_BUCKETS`.
/// Called once a group is decided (and by a rebuild per chunk), so that an atomic
/// batch that fails never reaches it.
pub(crate) fn close_buckets(state: &mut LedgerState, plan: &mut Plan) {
    let open = state
        .open_buckets
        .as_mut()
        .expect("the open seq buckets are loaded before deciding");
    for (sealed, body) in &plan.events {
        open.add(sealed.seq, body.postings(), &mut plan.closed_buckets);
    }
}

/// Moves the ledger's open month (`core::months`) past the months the plan's events
/// were recorded in, keeping in the plan where it was (for `CLOSE_MONTHS`) and where
/// it is now (for its own month rows). Called once a group is decided, like
/// `close_buckets`, and again as more is decided into the same group.
pub(crate) fn close_months(state: &mut LedgerState, plan: &mut Plan) {
    let open = state
        .open_month
        .expect("the open month is loaded before deciding");
    let now = months::open_month_after(open, plan.events.iter().map(|(e, _)| e.recorded_at));
    if now > open && plan.closes_from.is_none() {
        plan.closes_from = Some(open);
    }
    state.open_month = Some(now);
    plan.open_month = Some(now);
}

/// The months a plan closes, `[from, to)`, if it moves the open month.
pub(super) fn closed_by(plan: &Plan) -> Option<(NaiveDate, NaiveDate)> {
    plan.closes_from.zip(plan.open_month)
}

/// Writes the month rows of the months `[from, to)` (`CLOSE_MONTHS`), if any.
pub(super) async fn write_closed_months(
    client: &ClientWrapper,
    ledger: &LedgerId,
    closes: Option<(NaiveDate, NaiveDate)>,
) -> Result<(), StoreError> {
    let Some((from, to)) = closes else {
        return Ok(());
    };
    client
        .execute(
            &client.prepare_cached(CLOSE_MONTHS).await?,
            &[&ledger.as_str(), &from, &to],
        )
        .await?;
    Ok(())
}

/// The rows `UPSERT_PERIODS` and `INSERT_BUCKETS` take for a plan (no periods when it
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
    // Before the plan's own month rows, which add to those of the months it closes.
    write_closed_months(client, ledger, closed_by(plan)).await?;
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
                &client.prepare_cached(INSERT_BUCKETS).await?,
                &super::persist::params(&l, &[&b.params()]),
            )
            .await
    };
    futures_util::try_join!(periods, buckets)?;
    Ok(())
}

/// Day sums carried over many chunks of a replayed log, so that each day row of
/// `balance_periods` is written once rather than once per chunk. `flush` writes (and
/// forgets) what is held; a rebuild flushes whenever it holds more than a bound, and
/// `finish`es with the month rows, summed from the day rows of the months before the
/// open month the log ends in: the rows the writer leaves, however its commits fell.
pub(crate) struct PeriodTotals {
    sums: BTreeMap<(NaiveDate, String, String), (Decimal, Decimal)>,
    open_month: NaiveDate,
}

impl Default for PeriodTotals {
    fn default() -> Self {
        Self {
            sums: BTreeMap::new(),
            open_month: months::dawn(),
        }
    }
}

impl PeriodTotals {
    pub(crate) fn add(&mut self, plan: &Plan) {
        for (sealed, body) in &plan.events {
            self.open_month = months::open_month_after(self.open_month, [sealed.recorded_at]);
            let day = body.effective_date(sealed.recorded_at);
            for p in body.postings() {
                let entry = self
                    .sums
                    .entry((
                        day,
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
            .map(|((day, account, currency), sums)| {
                ((("D", *day), account.as_str(), currency.as_str()), *sums)
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

    /// Flushes the day sums, then writes the month rows of every closed month.
    pub(crate) async fn finish(
        mut self,
        client: &ClientWrapper,
        ledger: &LedgerId,
    ) -> Result<(), StoreError> {
        self.flush(client, ledger).await?;
        let closes =
            (self.open_month > months::dawn()).then_some((months::dawn(), self.open_month));
        write_closed_months(client, ledger, closes).await
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
    use crate::core::seq_buckets::{OpenBuckets, BUCKET_SIZES};

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
        /// exactly the postings that fall in it (a month row only for a month before
        /// the open month), and every bucket row of a bucket that closes that of its
        /// postings (here none before the plan).
        #[test]
        fn sums_equal_adding_each_posting_to_each_of_its_rows(
            entries in prop::collection::vec((0..4usize, 0..4usize, 0..2usize, 1i64..1_000_000, 0..4u32), 0..700),
            first_bucket in 0u64..2_400,
            open_month in 0..3u32,
        ) {
            let first_seq = first_bucket * BUCKET_SIZES[0] + 1;
            let mut plan = plan(&entries, first_seq);
            let open_month = NaiveDate::from_ymd_opt(2026, 1 + open_month, 1).unwrap();
            plan.open_month = Some(open_month);
            let mut state = LedgerState::new(LedgerId::parse("acme").unwrap(), first_seq - 1, Hash::GENESIS);
            // Open buckets that hold nothing before `first_seq`.
            state.open_buckets = Some(OpenBuckets::default());
            close_buckets(&mut state, &mut plan);
            let last_seq = first_seq + entries.len() as u64 - 1;
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
                    if day < open_month {
                        add(&mut periods, ("M", months::month_of(day)), a, c, d, cr);
                    }
                    // Each bucket of each level that closes within the plan.
                    for (level, size) in BUCKET_SIZES.iter().enumerate() {
                        let bucket = (sealed.seq - 1) / size;
                        if (bucket + 1) * size <= last_seq {
                            add(&mut buckets, (level as i16, bucket as i64), a, c, d, cr);
                        }
                    }
                }
            }
            let (got_periods, got_buckets) = sums(&plan);
            prop_assert_eq!(got_periods, periods);
            prop_assert_eq!(got_buckets, buckets);
        }
    }
}
