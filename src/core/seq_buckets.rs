//! The postings of the log summed per range of seqs (`balance_buckets`), pure. A bucket
//! of each level is kept open in memory while its seqs arrive and written once, by the
//! commit that appends its last seq: a level-0 bucket's sums are those of its events,
//! and a larger bucket's the sums of the whole buckets of the level below it. A
//! balance at a seq reads only whole buckets (and the log after the last one), so a
//! bucket never needs a row before it is whole. Each commit so writes bucket rows only
//! when it completes one, as new rows: about one row per account per 256 events at
//! level 0, and sixteen times fewer at each level above.

use std::collections::BTreeMap;
use std::ops::Range;

use rust_decimal::Decimal;

use super::account::AccountCode;
use super::currency::CurrencyCode;
use super::posting::{Posting, Side};

/// Seqs per bucket of each level. Each size divides the next. Bucket `b` of size `n`
/// holds seqs `b·n + 1 ..= (b + 1)·n`.
pub const BUCKET_SIZES: [u64; 3] = [256, 4_096, 262_144];

/// Debits and credits per account and currency.
pub type Sums = BTreeMap<(AccountCode, CurrencyCode), (Decimal, Decimal)>;

/// A bucket whose last seq has been appended: its level, its index and its sums.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedBucket {
    pub level: usize,
    pub bucket: u64,
    pub sums: Sums,
}

impl ClosedBucket {
    /// Its `(level, bucket)` key in `balance_buckets`.
    pub fn row(&self) -> (i16, i64) {
        (self.level as i16, self.bucket as i64)
    }
}

/// The open bucket of each level: the one the next seq falls in. Level 0 holds the
/// sums of its events up to the head, each larger level the sums of the whole buckets
/// of the level below that it holds so far.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenBuckets {
    sizes: [u64; 3],
    open: [Sums; 3],
}

impl Default for OpenBuckets {
    fn default() -> Self {
        Self::with_sizes(BUCKET_SIZES)
    }
}

impl OpenBuckets {
    /// Open buckets of other sizes than `BUCKET_SIZES` (for tests: each size must
    /// divide the next).
    pub fn with_sizes(sizes: [u64; 3]) -> Self {
        debug_assert!(
            sizes[0] > 0 && sizes[1].is_multiple_of(sizes[0]) && sizes[2].is_multiple_of(sizes[1])
        );
        Self {
            sizes,
            open: Default::default(),
        }
    }

    /// Adds the event at `seq` (whatever its kind; it may have no postings). Each
    /// bucket whose last seq is `seq` is closed and pushed to `closed`, smallest level
    /// first, and the next one of its level starts empty. Events must come in seq
    /// order, with none left out.
    pub fn add(&mut self, seq: u64, postings: &[Posting], closed: &mut Vec<ClosedBucket>) {
        for p in postings {
            let key = (p.account().clone(), p.currency().code().clone());
            let (debits, credits) = self.open[0].entry(key).or_default();
            match p.side() {
                Side::Debit => *debits += p.amount().value(),
                Side::Credit => *credits += p.amount().value(),
            }
        }
        for level in 0..self.sizes.len() {
            if !seq.is_multiple_of(self.sizes[level]) {
                break;
            }
            let sums = std::mem::take(&mut self.open[level]);
            if let Some(above) = self.open.get_mut(level + 1) {
                add_sums(above, &sums);
            }
            closed.push(ClosedBucket {
                level,
                bucket: seq / self.sizes[level] - 1,
                sums,
            });
        }
    }

    /// The seqs of the open level-0 bucket of a log whose head is `head`: its events
    /// are summed again, from the log, when a writer starts.
    pub fn open_seqs(&self, head: u64) -> Range<u64> {
        head - head % self.sizes[0] + 1..head + 1
    }

    /// The whole buckets of level `level - 1` inside the open bucket of `level`
    /// (1 or 2) of a log whose head is `head`: that bucket's sums are theirs.
    pub fn whole_below(&self, head: u64, level: usize) -> Range<u64> {
        let (size, below) = (self.sizes[level], self.sizes[level - 1]);
        head / size * (size / below)..head / below
    }

    /// Sets the sums of the open bucket of `level` (1 or 2): the sums of the rows of
    /// `whole_below(head, level)`, for a writer that starts at `head`.
    pub fn resume(&mut self, level: usize, sums: Sums) {
        self.open[level] = sums;
    }
}

/// Adds every sum of `from` to `into`, key by key.
fn add_sums(into: &mut Sums, from: &Sums) {
    for (key, (debits, credits)) in from {
        let sum = into.entry(key.clone()).or_default();
        sum.0 += debits;
        sum.1 += credits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::currency::Currency;
    use crate::core::money::Amount;
    use proptest::prelude::*;

    /// Small buckets, so that a few hundred events close buckets of every level.
    const SIZES: [u64; 3] = [4, 16, 64];

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
        /// Whatever the commits that carry the events, and wherever the open buckets
        /// are started from (level 0 from the log's events, the others from the rows
        /// of the whole buckets below them), the closed buckets are exactly the whole
        /// buckets of every level, each with the sum of the postings of its seqs.
        #[test]
        fn closed_buckets_are_the_whole_buckets_summed(
            events in prop::collection::vec(
                prop::collection::vec((0..5usize, any::<bool>(), 1i64..100_000), 0..3),
                0..300,
            ),
            resume_at in 0usize..300,
        ) {
            let postings: Vec<Vec<Posting>> = events
                .iter()
                .map(|ps| ps.iter().map(|&(a, s, c)| posting(a, s, c)).collect())
                .collect();
            // Expected: every bucket of every level whose last seq is in the log.
            let head = postings.len() as u64;
            let mut expected: BTreeMap<(usize, u64), Sums> = BTreeMap::new();
            for (level, size) in SIZES.iter().enumerate() {
                for bucket in 0..head / size {
                    let sums = expected.entry((level, bucket)).or_default();
                    for ps in &postings[(bucket * size) as usize..((bucket + 1) * size) as usize] {
                        for p in ps {
                            let key = (p.account().clone(), p.currency().code().clone());
                            let sum = sums.entry(key).or_default();
                            match p.side() {
                                Side::Debit => sum.0 += p.amount().value(),
                                Side::Credit => sum.1 += p.amount().value(),
                            }
                        }
                    }
                }
            }
            // Got: folded event by event, but with the open buckets thrown away at
            // `resume_at` and started again, as a writer that reloads its state does.
            let resume_at = (resume_at as u64).min(head);
            let mut open = OpenBuckets::with_sizes(SIZES);
            let mut closed = Vec::new();
            for seq in 1..=resume_at {
                open.add(seq, &postings[seq as usize - 1], &mut closed);
            }
            let mut reopened = OpenBuckets::with_sizes(SIZES);
            for level in 1..SIZES.len() {
                let below = reopened.whole_below(resume_at, level);
                let mut sums = Sums::new();
                for c in closed.iter().filter(|c| c.level == level - 1 && below.contains(&c.bucket)) {
                    add_sums(&mut sums, &c.sums);
                }
                reopened.resume(level, sums);
            }
            for seq in reopened.open_seqs(resume_at) {
                let mut none = Vec::new();
                reopened.add(seq, &postings[seq as usize - 1], &mut none);
                prop_assert!(none.is_empty(), "a bucket closed before the head");
            }
            prop_assert_eq!(&reopened, &open);
            for seq in resume_at + 1..=head {
                reopened.add(seq, &postings[seq as usize - 1], &mut closed);
            }
            let mut got: BTreeMap<(usize, u64), Sums> = BTreeMap::new();
            for c in closed {
                prop_assert!(got.insert((c.level, c.bucket), c.sums).is_none(), "closed twice");
            }
            // An empty bucket (no postings) still closes, with no sums.
            expected.retain(|_, s| !s.is_empty());
            got.retain(|_, s| !s.is_empty());
            prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn a_seq_closes_the_bucket_of_each_level_it_ends() {
        let mut open = OpenBuckets::default();
        let closed_by = |open: &mut OpenBuckets, seq| {
            let mut closed = Vec::new();
            open.add(seq, &[], &mut closed);
            closed.iter().map(ClosedBucket::row).collect::<Vec<_>>()
        };
        assert_eq!(closed_by(&mut open, 255), vec![]);
        assert_eq!(closed_by(&mut open, 256), vec![(0, 0)]);
        assert_eq!(closed_by(&mut open, 4_096), vec![(0, 15), (1, 0)]);
        assert_eq!(closed_by(&mut open, 4_352), vec![(0, 16)]);
        assert_eq!(
            closed_by(&mut open, 262_144),
            vec![(0, 1_023), (1, 63), (2, 0)]
        );
    }

    #[test]
    fn a_writer_resumes_from_the_whole_buckets_inside_the_open_ones() {
        let open = OpenBuckets::default();
        assert_eq!(open.open_seqs(0), 1..1);
        assert_eq!(open.open_seqs(255), 1..256);
        assert_eq!(open.open_seqs(256), 257..257);
        assert_eq!(open.open_seqs(300), 257..301);
        assert_eq!(open.whole_below(300, 1), 0..1);
        assert_eq!(open.whole_below(4_095, 1), 0..15);
        assert_eq!(open.whole_below(4_096, 1), 16..16);
        assert_eq!(open.whole_below(5_000, 1), 16..19);
        assert_eq!(open.whole_below(5_000, 2), 0..1);
        assert_eq!(open.whole_below(270_000, 2), 64..65);
    }
}
