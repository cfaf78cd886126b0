//! Reads for reports: the rates in the chain, and balances at any date, seq or period,
//! summed from `balance_periods` / `balance_buckets` (`sql/V0007`) rather than by
//! replaying the log. Each read runs at one snapshot and names its head.

use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::Decimal;
use serde_json::Value;
use tokio_postgres::GenericClient;

use crate::core::chain_read::postings_from_json;
use crate::core::currency::{CurrencyBook, CurrencyCode};
use crate::core::ledger::LedgerId;
use crate::core::rates::{Published, RateBook};

use super::accounts::{snapshot, AtHead};
use super::events::head_of;
use super::{Pool, StoreError};

/// Seqs per bucket of each level of `balance_buckets` (`core::seq_buckets`). Level 0
/// was 64 until `sql/V0012`: a smaller level 0 means fewer events read from the log
/// for a balance at a seq, but more bucket rows written.
pub(crate) use crate::core::seq_buckets::BUCKET_SIZES;

/// Net movement of one account in one currency, with the account's type.
#[derive(Debug, Clone, PartialEq)]
pub struct Movement {
    pub account: String,
    pub account_type: String,
    pub currency: String,
    pub debits: Decimal,
    pub credits: Decimal,
}

/// The same, on one effective day (for conversion at each day's rate).
#[derive(Debug, Clone, PartialEq)]
pub struct DayMovement {
    pub day: NaiveDate,
    pub movement: Movement,
}

/// Where a balance is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// Entries effective on or before the day.
    Date(NaiveDate),
    /// Events up to and including the seq.
    Seq(u64),
}

pub struct Ledger {
    pub base_currency: String,
}

const ACCOUNT_TYPE: &str =
    "(SELECT type FROM accounts a WHERE a.ledger_id = $1 AND a.code = t.account)";

/// Day and month rows covering `[from, to]`: whole closed months from the month rows
/// (`$2` to `$3`), the days before and after them from the day rows — three index
/// range scans.
const PERIOD_ROWS: &str = "SELECT account, currency, debits, credits FROM balance_periods \
       WHERE ledger_id = $1 AND kind = 'M' AND period >= $2 AND period < $3 \
     UNION ALL SELECT account, currency, debits, credits FROM balance_periods \
       WHERE ledger_id = $1 AND kind = 'D' AND period >= $4 AND period < $2 \
     UNION ALL SELECT account, currency, debits, credits FROM balance_periods \
       WHERE ledger_id = $1 AND kind = 'D' AND period >= $3 AND period <= $5";

/// `(first whole month, end of whole months)` inside `[from, to]`; empty when none.
fn whole_months(from: NaiveDate, to: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = if from.day() == 1 {
        from
    } else {
        from.with_day(1).expect("day 1") + Months::new(1)
    };
    let after_to = to.succ_opt().unwrap_or(to);
    let end = after_to.with_day(1).expect("day 1");
    if first < end {
        (first, end)
    } else {
        (after_to, after_to)
    }
}

/// The whole months of `months` that have month rows, those before the open month
/// (`core::months`): the days of the others are read from day rows.
fn closed_months(months: (NaiveDate, NaiveDate), open_month: NaiveDate) -> (NaiveDate, NaiveDate) {
    let (first, end) = months;
    (first, end.min(open_month).max(first))
}

pub use crate::core::months::dawn;

/// The ledger's open month (`core::months`), stored with the month rows it bounds;
/// none stored yet: every month is open.
pub(crate) async fn open_month(
    client: &impl GenericClient,
    ledger: &LedgerId,
) -> Result<NaiveDate, StoreError> {
    const SQL: &str = "SELECT open_from FROM period_bounds WHERE ledger_id = $1";
    let row = client.query_opt(SQL, &[&ledger.as_str()]).await?;
    Ok(row.map_or_else(dawn, |r| r.get(0)))
}

/// The ledger's custom assets.
pub async fn currencies(pool: &Pool, ledger: &LedgerId) -> Result<CurrencyBook, StoreError> {
    const SQL: &str = "SELECT code, scale FROM currencies WHERE ledger_id = $1 ORDER BY code";
    let client = pool.get().await?;
    let mut book = CurrencyBook::default();
    for r in client.query(SQL, &[&ledger.as_str()]).await? {
        let code = CurrencyCode::parse(r.get(0)).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        book.register(code, r.get::<_, i32>(1) as u32);
    }
    Ok(book)
}

/// Whether any account is `prefix` or under it.
pub async fn prefix_exists(
    pool: &Pool,
    ledger: &LedgerId,
    prefix: &str,
) -> Result<bool, StoreError> {
    const SQL: &str = "SELECT EXISTS (SELECT 1 FROM accounts WHERE ledger_id = $1 \
                       AND (code = $2 OR starts_with(code, $2 || ':')))";
    let client = pool.get().await?;
    Ok(client
        .query_one(SQL, &[&ledger.as_str(), &prefix])
        .await?
        .get(0))
}

pub async fn ledger_and_rates(
    pool: &Pool,
    ledger: &LedgerId,
) -> Result<Option<(Ledger, RateBook)>, StoreError> {
    const LEDGER: &str = "SELECT base_currency FROM ledgers WHERE ledger_id = $1";
    const RATES: &str =
        "SELECT base, quote, effective_date, seq, rate FROM rates WHERE ledger_id = $1";
    let client = pool.get().await?;
    let l = ledger.as_str();
    let Some(row) = client.query_opt(LEDGER, &[&l]).await? else {
        return Ok(None);
    };
    let mut book = RateBook::default();
    for r in client.query(RATES, &[&l]).await? {
        let code =
            |i| CurrencyCode::parse(r.get(i)).map_err(|e| StoreError::Corrupt(e.to_string()));
        book.insert(Published {
            base: code(0)?,
            quote: code(1)?,
            effective_date: r.get(2),
            seq: r.get::<_, i64>(3) as u64,
            rate: r.get(4),
        });
    }
    Ok(Some((
        Ledger {
            base_currency: row.get(0),
        },
        book,
    )))
}

fn movement(r: &tokio_postgres::Row, offset: usize) -> Movement {
    Movement {
        account: r.get(offset),
        account_type: r.get(offset + 1),
        currency: r.get(offset + 2),
        debits: r.get(offset + 3),
        credits: r.get(offset + 4),
    }
}

/// Debits and credits per account and currency as of a date or seq.
pub async fn balances_as_of(
    pool: &Pool,
    ledger: &LedgerId,
    as_of: AsOf,
) -> Result<AtHead<Vec<Movement>>, StoreError> {
    let mut client = pool.get().await?;
    let tx = snapshot(&mut client).await?;
    let head = head_of(&*tx, ledger).await?;
    let l = ledger.as_str();
    let rows = match as_of {
        AsOf::Date(day) => {
            let sql = format!(
                "SELECT account, {ACCOUNT_TYPE}, currency, sum(debits), sum(credits) FROM ({PERIOD_ROWS}) t \
                 GROUP BY account, currency ORDER BY account, currency"
            );
            let open_month = open_month(&*tx, ledger).await?;
            let (m1, m2) = closed_months(whole_months(dawn(), day), open_month);
            tx.query(&sql, &[&l, &m1, &m2, &dawn(), &day])
                .await?
                .iter()
                .map(|r| movement(r, 0))
                .collect()
        }
        AsOf::Seq(seq) => {
            let seq = seq.min(head.as_ref().map_or(0, |h| h.seq));
            balances_at_seq(&tx, l, seq).await?
        }
    };
    tx.commit().await?;
    Ok(AtHead { head, rows })
}

/// Whole buckets of the largest size, then of each smaller size after them, then the
/// postings of the last few events (fewer than the smallest bucket) read from the log.
async fn balances_at_seq(
    tx: &deadpool_postgres::Transaction<'_>,
    l: &str,
    seq: u64,
) -> Result<Vec<Movement>, StoreError> {
    const BUCKETS: &str = "SELECT account, currency, sum(debits), sum(credits) FROM ( \
           SELECT account, currency, debits, credits FROM balance_buckets \
             WHERE ledger_id = $1 AND level = 2 AND bucket < $2 \
           UNION ALL SELECT account, currency, debits, credits FROM balance_buckets \
             WHERE ledger_id = $1 AND level = 1 AND bucket >= $3 AND bucket < $4 \
           UNION ALL SELECT account, currency, debits, credits FROM balance_buckets \
             WHERE ledger_id = $1 AND level = 0 AND bucket >= $5 AND bucket < $6) t \
         GROUP BY account, currency";
    const PARTIAL: &str =
        "SELECT canonical FROM events WHERE ledger_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq";
    const TYPES: &str = "SELECT code, type FROM accounts WHERE ledger_id = $1 AND code = ANY($2)";
    // Whole buckets of each level: level 2 from the start, each smaller level from
    // where the larger one's whole buckets end.
    let [s0, s1, s2] = BUCKET_SIZES;
    let whole2 = (seq / s2) as i64;
    let (from1, whole1) = (whole2 * (s2 / s1) as i64, (seq / s1) as i64);
    let (from0, whole0) = (whole1 * (s1 / s0) as i64, (seq / s0) as i64);
    let partial_from = whole0 * s0 as i64;
    let mut sums: std::collections::BTreeMap<(String, String), (Decimal, Decimal)> =
        Default::default();
    for r in tx
        .query(BUCKETS, &[&l, &whole2, &from1, &whole1, &from0, &whole0])
        .await?
    {
        sums.insert((r.get(0), r.get(1)), (r.get(2), r.get(3)));
    }
    for r in tx
        .query(PARTIAL, &[&l, &partial_from, &(seq as i64)])
        .await?
    {
        let event: Value = serde_json::from_str(r.get(0))
            .map_err(|e| StoreError::Corrupt(format!("event JSON: {e}")))?;
        let postings =
            postings_from_json(&event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        for p in postings {
            let (debits, credits) = sums
                .entry((p.account().to_string(), p.currency().code().to_string()))
                .or_default();
            match p.side() {
                crate::core::posting::Side::Debit => *debits += p.amount().value(),
                crate::core::posting::Side::Credit => *credits += p.amount().value(),
            }
        }
    }
    let codes: Vec<&str> = sums.keys().map(|(a, _)| a.as_str()).collect();
    let types: std::collections::HashMap<String, String> = tx
        .query(TYPES, &[&l, &codes])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Ok(sums
        .into_iter()
        .map(|((account, currency), (debits, credits))| Movement {
            account_type: types.get(&account).cloned().unwrap_or_default(),
            account,
            currency,
            debits,
            credits,
        })
        .collect())
}

/// Movements per account, currency and effective day within `[from, to]`, for
/// conversion at each day's rate.
pub async fn movements_by_day(
    pool: &Pool,
    ledger: &LedgerId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<AtHead<Vec<DayMovement>>, StoreError> {
    const SQL: &str = "SELECT period, account, (SELECT type FROM accounts a WHERE a.ledger_id = $1 AND a.code = t.account), \
         currency, debits, credits FROM balance_periods t \
         WHERE ledger_id = $1 AND kind = 'D' AND period >= $2 AND period <= $3 ORDER BY period, account, currency";
    let mut client = pool.get().await?;
    let tx = snapshot(&mut client).await?;
    let head = head_of(&*tx, ledger).await?;
    let rows = tx
        .query(SQL, &[&ledger.as_str(), &from, &to])
        .await?
        .iter()
        .map(|r| DayMovement {
            day: r.get(0),
            movement: movement(r, 1),
        })
        .collect();
    tx.commit().await?;
    Ok(AtHead { head, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn whole_months_are_those_entirely_inside_the_range() {
        assert_eq!(
            whole_months(d("2026-01-15"), d("2026-04-10")),
            (d("2026-02-01"), d("2026-04-01"))
        );
        assert_eq!(
            whole_months(d("2026-01-01"), d("2026-01-31")),
            (d("2026-01-01"), d("2026-02-01"))
        );
        // No whole month: the days cover everything.
        assert_eq!(
            whole_months(d("2026-01-02"), d("2026-01-30")),
            (d("2026-01-31"), d("2026-01-31"))
        );
        assert_eq!(
            whole_months(dawn(), d("2026-03-31")),
            (dawn(), d("2026-04-01"))
        );
    }

    #[test]
    fn months_from_the_open_month_on_are_read_as_days() {
        let months = (d("2026-02-01"), d("2026-06-01"));
        assert_eq!(closed_months(months, d("2026-09-01")), months);
        assert_eq!(
            closed_months(months, d("2026-04-01")),
            (d("2026-02-01"), d("2026-04-01"))
        );
        // None closed: the days cover the whole range.
        assert_eq!(
            closed_months(months, d("2026-01-01")),
            (d("2026-02-01"), d("2026-02-01"))
        );
        assert_eq!(
            closed_months(months, dawn()),
            (d("2026-02-01"), d("2026-02-01"))
        );
    }
}
