//! Which months of a ledger's day and month sums (`balance_periods`) have month rows.
//!
//! A balance at a date adds whole months from month rows to the days around them. A
//! month row of the current month would be rewritten by every commit, for reads that
//! can as well add up that month's few day rows; so month rows exist only for the
//! months before the ledger's *open month*, the month of the latest `recorded_at` in
//! its log (UTC). Entries effective in a month before it add to its month row as well
//! as to a day row; entries effective in it or later, to a day row only. When a commit
//! records an event in a later month, the months it closes get their month rows, each
//! the sum of its day rows, before the commit's own rows go in.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// The first day of `day`'s month.
pub fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("every month has a first day")
}

/// The earliest date the chain format can carry, and the open month before any event:
/// every month is open.
pub fn dawn() -> NaiveDate {
    NaiveDate::from_ymd_opt(1, 1, 1).expect("a valid date")
}

/// The open month once events recorded at `recorded` follow a log whose open month is
/// `open_from`: it never moves back (a clock set back leaves it alone).
pub fn open_month_after(
    open_from: NaiveDate,
    recorded: impl IntoIterator<Item = DateTime<Utc>>,
) -> NaiveDate {
    recorded
        .into_iter()
        .map(|at| month_of(at.date_naive()))
        .fold(open_from, NaiveDate::max)
}

/// Whether an entry effective on `day` adds to its month's row, in a ledger whose open
/// month is `open_from`.
pub fn has_month_row(day: NaiveDate, open_from: NaiveDate) -> bool {
    day < open_from
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn at(days: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(days * 1440 + 7)
    }

    #[test]
    fn the_open_month_is_that_of_the_latest_record() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let open = open_month_after(dawn(), [at(45), at(10)]);
        assert_eq!(open, d("2000-02-01"));
        assert!(has_month_row(d("2000-01-31"), open));
        assert!(!has_month_row(d("2000-02-01"), open));
        assert!(!has_month_row(d("2031-05-04"), open));
        // An event recorded earlier (the clock went back) does not reopen a month.
        assert_eq!(open_month_after(open, [at(3)]), open);
    }

    proptest! {
        /// Folding events one commit at a time gives the open month of folding them
        /// all at once (what a rebuild does), and it only ever moves forward.
        #[test]
        fn commits_and_a_rebuild_agree(commits in prop::collection::vec(
            prop::collection::vec(0i64..3_000, 0..5), 0..20)) {
            let mut open = dawn();
            for commit in &commits {
                let next = open_month_after(open, commit.iter().map(|&d| at(d)));
                prop_assert!(next >= open);
                prop_assert_eq!(next.day(), 1);
                open = next;
            }
            let all = open_month_after(dawn(), commits.iter().flatten().map(|&d| at(d)));
            prop_assert_eq!(open, all);
        }
    }
}
