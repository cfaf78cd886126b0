//! The postings of the log summed per range of seqs (`balance_buckets`), pure. A level-0
//! bucket's sums are kept open while its events arrive and are written once, by the
//! commit that appends its last seq; the larger levels then gain those sums. A balance
//! at a seq reads only whole buckets (and the log after the last one), so a bucket
//! never needs a row before it is whole, and each commit writes bucket rows only when
//! it completes one: about one row per account per 256 events, instead of one per
//! account per commit.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::account::AccountCode;
use super::currency::CurrencyCode;
use super::posting::{Posting, Side};

/// Seqs per bucket of each level. Each size divides the next. Bucket `b` of size `n`
/// holds seqs `b·n + 1 ..= (b + 1)·n`.
pub const BUCKET_SIZES: [u64; 3] = [256, 4_096, 262_144];

/// Debits and credits per account and currency.
pub type Sums = BTreeMap<(AccountCode, CurrencyCode), (Decimal, Decimal)>;

/// A level-0 bucket whose last seq has been appended: its index and its sums.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedBucket {
    pub bucket: u64,
    pub sums: Sums,
}

impl ClosedBucket {
    /// The `(level, bucket)` rows it adds to, level 0 first.
    pub fn rows(&self) -> [(i16, i64); 3] {
        let mut rows = [(0, 0); 3];
        for (level, size) in BUCKET_SIZES.iter().enumerate() {
            rows[level] = (
                level as i16,
                (self.bucket / (size / BUCKET_SIZES[0])) as i64,
            );
        }
        rows
    }
}

/// The sums of the level-0 bucket the next seq falls in, from its first seq up to the
/// head.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenBucket {
    sums: Sums,
}

impl OpenBucket {
    /// Adds the event at `seq` (whatever its kind; it may have no postings). When
    /// `seq` is the last of its bucket, the bucket is closed and returned, and the
    /// next one starts empty. Events must come in seq order, with none left out.
    pub fn add(&mut self, seq: u64, postings: &[Posting]) -> Option<ClosedBucket> {
        for p in postings {
            let key = (p.account().clone(), p.currency().code().clone());
            let (debits, credits) = self.sums.entry(key).or_default();
            match p.side() {
                Side::Debit => *debits += p.amount().value(),
                Side::Credit => *credits += p.amount().value(),
            }
        }
        seq.is_multiple_of(BUCKET_SIZES[0]).then(|| ClosedBucket {
            bucket: seq / BUCKET_SIZES[0] - 1,
            sums: std::mem::take(&mut self.sums),
        })
    }

    /// The first seq of the bucket that holds `seq + 1`: where the open bucket of a
    /// log whose head is `seq` starts.
    pub fn start_after(seq: u64) -> u64 {
        seq - seq % BUCKET_SIZES[0] + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::currency::Currency;
    use crate::core::money::Amount;
    use proptest::prelude::*;

    fn posting(account: usize, side: bool, cents: i64) -> Posting {
        let eur = Currency::iso(&CurrencyCode::parse("EUR").unwrap()).unwrap();
        let amount = Amount::parse(&format!("{}.{:02}", cents / 100, cents % 100), &eur).unwrap();
        let side = if side { Side::Debit } else { Side::Credit };
        Posting::new(
            AccountCode::parse(&format!("assets:a{account}")).unwrap(),
            eur,
            side,
            amount,
        )
    }

    proptest! {
        /// Whatever the commits that carry the events, and wherever an open bucket is
        /// started from, the closed buckets are exactly the whole level-0 buckets, each
        /// with the sum of the postings of its seqs.
        #[test]
        fn closed_buckets_are_the_whole_buckets_summed(
            events in prop::collection::vec(
                prop::collection::vec((0..5usize, any::<bool>(), 1i64..100_000), 0..3),
                0..900,
            ),
            resume_at in 0usize..900,
        ) {
            let postings: Vec<Vec<Posting>> = events
                .iter()
                .map(|ps| ps.iter().map(|&(a, s, c)| posting(a, s, c)).collect())
                .collect();
            // Expected: every bucket whose last seq is in the log.
            let head = postings.len() as u64;
            let mut expected: BTreeMap<u64, Sums> = BTreeMap::new();
            for (i, ps) in postings.iter().enumerate() {
                let bucket = i as u64 / BUCKET_SIZES[0];
                if (bucket + 1) * BUCKET_SIZES[0] > head {
                    break;
                }
                let sums = expected.entry(bucket).or_default();
                for p in ps {
                    let sum = sums.entry((p.account().clone(), p.currency().code().clone())).or_default();
                    match p.side() {
                        Side::Debit => sum.0 += p.amount().value(),
                        Side::Credit => sum.1 += p.amount().value(),
                    }
                }
            }
            // Got: folded event by event, but with the open bucket thrown away at
            // `resume_at` and started again from its first seq, as a writer that
            // reloads its state does.
            let resume_at = (resume_at as u64).min(head);
            let mut open = OpenBucket::default();
            let mut got: BTreeMap<u64, Sums> = BTreeMap::new();
            let fold = |open: &mut OpenBucket, from: u64, to: u64, got: &mut BTreeMap<u64, Sums>| -> Result<(), TestCaseError> {
                for seq in from..=to {
                    if let Some(closed) = open.add(seq, &postings[seq as usize - 1]) {
                        prop_assert!(got.insert(closed.bucket, closed.sums).is_none());
                    }
                }
                Ok(())
            };
            fold(&mut open, 1, resume_at, &mut got)?;
            let mut reopened = OpenBucket::default();
            let start = OpenBucket::start_after(resume_at);
            fold(&mut reopened, start, resume_at, &mut got)?;
            prop_assert_eq!(&reopened, &open);
            fold(&mut reopened, resume_at + 1, head, &mut got)?;
            // An empty bucket (no postings) still closes, with no sums.
            expected.retain(|_, s| !s.is_empty());
            got.retain(|_, s| !s.is_empty());
            prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn a_closed_bucket_adds_to_the_bucket_of_each_level_that_holds_it() {
        let closed = |bucket| ClosedBucket {
            bucket,
            sums: Sums::new(),
        };
        assert_eq!(closed(0).rows(), [(0, 0), (1, 0), (2, 0)]);
        assert_eq!(closed(15).rows(), [(0, 15), (1, 0), (2, 0)]);
        assert_eq!(closed(16).rows(), [(0, 16), (1, 1), (2, 0)]);
        assert_eq!(closed(1_024).rows(), [(0, 1_024), (1, 64), (2, 1)]);
    }

    #[test]
    fn the_open_bucket_starts_after_the_last_whole_one() {
        assert_eq!(OpenBucket::start_after(0), 1);
        assert_eq!(OpenBucket::start_after(255), 1);
        assert_eq!(OpenBucket::start_after(256), 257);
        assert_eq!(OpenBucket::start_after(300), 257);
    }
}
