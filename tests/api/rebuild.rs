//! Rebuilding the projections from the log gives exactly the projections the live
//! service had (BRIEF §2.7). A seeded random workload of entries in several currencies,
//! a reversal, an account close, rates, a custom asset and commerce operations runs
//! over HTTP; every projection row is snapshotted, rebuilt (by the library in chunks
//! small enough that orders span chunks, and by the `chainbook rebuild` binary) and
//! compared. A tampered projection is reported and repaired; an unknown ledger changes
//! nothing.

use std::collections::BTreeSet;
use std::process::Output;

mod workload;

use chainbook::core::ledger::LedgerId;
use chainbook::store::projections::{PROJECTIONS, SOURCE_TABLES};
use chainbook::store::rebuild::{rebuild, RebuildReport};
use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rust_decimal::Decimal;
use serde_json::json;

use crate::helpers::{entry, funded_ledger, spawn_app, spawn_app_on, Reply, TestApp, TestDatabase};
use crate::processes::Service;
use crate::shop::shop;
use workload::{random_entry, workload};

type Snapshot = Vec<(&'static str, Vec<String>)>;

/// Every projection row of `ledger`, per table, as JSON text, sorted.
async fn snapshot(app: &TestApp, ledger: &str) -> Snapshot {
    let owner = app.db.owner().await;
    let mut tables = Vec::new();
    for table in PROJECTIONS {
        let sql =
            format!("SELECT to_jsonb(t)::text FROM {table} t WHERE ledger_id = $1 ORDER BY 1");
        let rows = owner.query(&sql, &[&ledger]).await.unwrap();
        tables.push((*table, rows.iter().map(|r| r.get(0)).collect()));
    }
    tables
}

async fn rebuild_in_chunks(app: &TestApp, ledger: &str, chunk: usize) -> RebuildReport {
    let ledger = LedgerId::parse(ledger).unwrap();
    let mut last = (0, 0);
    let report = rebuild(&app.db.url, &ledger, chunk, |done, total| {
        last = (done, total)
    })
    .await
    .unwrap()
    .expect("the ledger exists");
    assert_eq!(
        last,
        (report.events, report.events),
        "progress ends at the head"
    );
    report
}

/// `chainbook rebuild --ledger <ledger>` against the test database.
async fn rebuild_binary(app: &TestApp, ledger: &str) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_chainbook"))
        .args(["rebuild", "--ledger", ledger])
        .env("DATABASE_URL", &app.db.url)
        .env_remove("CHAINBOOK_DATA_DIR")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("the chainbook binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_identical(report: &RebuildReport) {
    for table in &report.tables {
        assert_eq!(table.differences, 0, "{}: {:?}", table.table, table.shown);
    }
    assert!(report.identical());
}

#[tokio::test]
async fn rebuilding_from_the_log_gives_the_live_projections_row_for_row() {
    let app = spawn_app().await;
    let s = shop(&app, "rebuilt").await;
    workload(&s, 7, 300).await;
    let live = snapshot(&app, "rebuilt").await;
    let events = app.head_seq("rebuilt").await;
    let owner = app.db.owner().await;
    let kinds: BTreeSet<String> = owner
        .query(
            "SELECT DISTINCT type FROM events WHERE ledger_id = 'rebuilt'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kinds.len(), 17, "every kind of event: {kinds:?}");
    assert!(events > 300, "a few hundred events, got {events}");
    for table in [
        "accounts",
        "balances",
        "orders",
        "sales",
        "stock_bins",
        "rates",
        "currencies",
    ] {
        let rows = &live.iter().find(|(t, _)| *t == table).unwrap().1;
        assert!(!rows.is_empty(), "the workload leaves rows in {table}");
    }

    // Chunks of 1 and 7 events put an order's placing, payments and shipments in
    // different chunks, and settled orders are forgotten between chunks.
    for chunk in [1, 7, 2_000] {
        let report = rebuild_in_chunks(&app, "rebuilt", chunk).await;
        assert_eq!(report.events, events);
        assert_identical(&report);
        assert_eq!(snapshot(&app, "rebuilt").await, live, "chunks of {chunk}");
    }

    let out = rebuild_binary(&app, "rebuilt").await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("{events} events replayed")),
        "{stdout}"
    );
    assert!(stdout.contains("identical"), "{stdout}");
    assert_eq!(snapshot(&app, "rebuilt").await, live);
    // The chain is untouched.
    assert!(app.verify("rebuilt").await.ok(), "the chain verifies");
}

/// Writers wait for the rebuild's lock and append after it; nothing is lost or
/// half-rebuilt.
#[tokio::test]
async fn writes_during_a_rebuild_wait_for_it_and_land_after_it() {
    let app = spawn_app().await;
    let s = shop(&app, "busy").await;
    workload(&s, 11, 120).await;
    let head = app.head_seq("busy").await;
    let (http, url, key) = (
        app.http.clone(),
        app.url("/v1/ledgers/busy/transactions"),
        s.key.clone(),
    );
    let writes = tokio::spawn(async move {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..30 {
            let r = http
                .post(&url)
                .bearer_auth(&key)
                .json(&random_entry(&mut rng))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        }
    });
    assert_identical(&rebuild_in_chunks(&app, "busy", 3).await);
    writes.await.unwrap();
    assert_eq!(app.head_seq("busy").await, head + 30);
    let report = rebuild_in_chunks(&app, "busy", 2_000).await;
    assert_eq!(report.events, head + 30);
    assert_identical(&report);
}

#[tokio::test]
async fn a_tampered_projection_is_reported_and_rebuilt_from_the_log() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    let rates = json!({"rates": [{"base": "USD", "quote": "EUR", "rate": "0.9", "effective_date": "2026-02-01"}]});
    let r = app.post(&key, "/v1/ledgers/acme/rates", &rates).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let live = snapshot(&app, "acme").await;

    let owner = app.db.owner().await;
    let tampered = owner
        .execute(
            "UPDATE balances SET debits = debits + 1 WHERE ledger_id = 'acme' AND account = 'assets:cash'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(tampered, 1);
    owner
        .execute("DELETE FROM rates WHERE ledger_id = 'acme'", &[])
        .await
        .unwrap();
    assert_eq!(app.balance("acme", "assets:cash", "EUR").await, "101.00");

    let out = rebuild_binary(&app, "acme").await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(r#"balances {"account": "assets:cash", "currency": "EUR"}"#),
        "{stdout}"
    );
    assert!(stdout.contains(r#"  old: {"debits": 101.00}"#), "{stdout}");
    assert!(stdout.contains(r#"  new: {"debits": 100.00}"#), "{stdout}");
    assert!(stdout.contains("  old: (no row)"), "{stdout}");
    assert!(stdout.contains("balances 1, "), "{stdout}");
    assert!(stdout.contains("rates 1, "), "{stdout}");

    // The log is the truth: the rebuilt rows were committed.
    assert_eq!(snapshot(&app, "acme").await, live);
    assert_eq!(app.balance("acme", "assets:cash", "EUR").await, "100.00");
    assert_identical(&rebuild_in_chunks(&app, "acme", 2_000).await);
}

#[tokio::test]
async fn rebuilding_an_unknown_ledger_fails_and_changes_nothing() {
    let app = spawn_app().await;
    funded_ledger(&app, "acme", "100.00").await;
    let before = snapshot(&app, "acme").await;
    let ghost = LedgerId::parse("ghost").unwrap();
    let none = rebuild(&app.db.url, &ghost, 100, |_, _| {}).await.unwrap();
    assert!(none.is_none());

    let out = rebuild_binary(&app, "ghost").await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no ledger named ghost"),
        "{}",
        text(&out.stderr)
    );
    let out = rebuild_binary(&app, "Not A Ledger").await;
    assert_eq!(out.status.code(), Some(2));

    assert_eq!(snapshot(&app, "acme").await, before);
    let owner = app.db.owner().await;
    let ledgers: i64 = owner
        .query_one("SELECT count(*) FROM ledgers", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(ledgers, 1);
}

/// Every table keyed by ledger is either rebuilt or a source of truth: a new
/// projection cannot be left out of the rebuild unnoticed.
#[tokio::test]
async fn every_ledger_table_is_a_projection_or_a_source() {
    let app = spawn_app().await;
    let owner = app.db.owner().await;
    let sql = "SELECT c.table_name::text FROM information_schema.columns c \
               JOIN information_schema.tables t USING (table_schema, table_name) \
               WHERE c.table_schema = current_schema() AND c.column_name = 'ledger_id' \
               AND t.table_type = 'BASE TABLE'";
    let tables: BTreeSet<String> = owner
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let listed: BTreeSet<String> = PROJECTIONS
        .iter()
        .chain(SOURCE_TABLES)
        .map(|t| t.to_string())
        .collect();
    let unlisted: Vec<&String> = tables.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "not listed in store::rebuild: {unlisted:?}"
    );
    for table in PROJECTIONS {
        assert!(tables.contains(*table), "projection {table} has no table");
    }
}

/// With no DATABASE_URL the command uses the embedded cluster under `--data-dir`:
/// the one a running service started, or its own, started and stopped for the run.
#[tokio::test]
async fn the_command_rebuilds_on_the_embedded_cluster() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // PostgreSQL runs as another account when we are root; it must reach the folder.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("data");
    let mut service = Service::start(None, &data);
    let admin = std::fs::read_to_string(data.join("admin.key")).unwrap();
    let created = reqwest::Client::new()
        .post(format!("{}/v1/ledgers", service.address))
        .bearer_auth(admin.trim())
        .json(&json!({"id": "acme", "name": "Acme", "base_currency": "EUR"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let run = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_chainbook"))
            .args(["rebuild", "--ledger", "acme", "--data-dir"])
            .arg(&data)
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .output()
    };
    let check = |out: Output| {
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
        assert!(stdout.contains("1 events replayed"), "{stdout}");
    };
    check(run().await.unwrap());
    // Now no cluster runs: the command starts its own, and stops it when done.
    service.stop();
    check(run().await.unwrap());
}

/// A payment for supplies whose amount varies with `n`.
async fn transfer(app: &TestApp, key: &str, n: u32) {
    let amount = format!("{}.{:02}", 1 + n % 97, n % 100);
    app.pay_supplies(key, "halves", &amount).await;
}

/// The open seq bucket's sums live in the writer's memory until its last seq, so a
/// writer that starts (or reloads) with the head inside a bucket reads them back from
/// the log. Two services take turns on one ledger, each crossing a bucket boundary
/// after the other wrote inside that bucket; the bucket rows are then exactly those a
/// replay of the log gives, and there are none yet for the bucket still open.
#[tokio::test]
async fn a_writer_starting_inside_a_seq_bucket_closes_it_with_the_postings_before_it() {
    let first = spawn_app().await;
    let key = funded_ledger(&first, "halves", "1000000.00").await;
    for n in 0..150 {
        transfer(&first, &key, n).await;
    }
    let second = spawn_app_on(TestDatabase::reuse(&first.db)).await;
    // The second service's writer starts at seq 156, inside bucket 0 (seqs 1..=256).
    for n in 150..350 {
        transfer(&second, &key, n).await;
    }
    // The first service's state is stale now; it reloads at seq 356, inside bucket 1.
    for n in 350..500 {
        transfer(&first, &key, n).await;
    }
    // And the second's, at seq 506, inside bucket 1 still; it closes bucket 1.
    for n in 500..560 {
        transfer(&second, &key, n).await;
    }
    assert_eq!(first.head_seq("halves").await, 566);
    // Levels 1 and 2 (4,096 and 262,144 seqs) are still open.
    assert_eq!(buckets_of(&first, "halves").await, vec![(0, 0), (0, 1)]);
    let live = snapshot(&first, "halves").await;
    let report = rebuild_in_chunks(&first, "halves", 100).await;
    assert_identical(&report);
    assert_eq!(snapshot(&first, "halves").await, live);
}

/// The `(level, bucket)` of every seq bucket row of `ledger`, in order.
async fn buckets_of(app: &TestApp, ledger: &str) -> Vec<(i16, i64)> {
    app.db
        .owner()
        .await
        .query(
            "SELECT DISTINCT level, bucket FROM balance_buckets WHERE ledger_id = $1 ORDER BY 1, 2",
            &[&ledger],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// The amount of the `n`-th payment of `a_writer_starting_inside_a_level_one_bucket…`.
fn nth_amount(n: u32) -> String {
    format!("{}.{:02}", 1 + n % 97, n % 100)
}

/// Payments `from..from + count` for supplies from cash, as one atomic batch.
async fn pay_in_batch(app: &TestApp, key: &str, ledger: &str, from: u32, count: u32) {
    let entries: Vec<_> = (from..from + count)
        .map(|n| {
            let amount = nth_amount(n);
            entry(&[
                ("expenses:supplies", "EUR", "debit", &amount),
                ("assets:cash", "EUR", "credit", &amount),
            ])
        })
        .collect();
    let body = json!({"atomic": true, "entries": entries});
    let r = app
        .post(
            key,
            &format!("/v1/ledgers/{ledger}/transactions/batch"),
            &body,
        )
        .await;
    assert_eq!(r.status, 201, "{}", &r.text[..r.text.len().min(500)]);
}

/// The open level-1 and level-2 buckets' sums live in the writer's memory too, until
/// their last seq; a writer that starts inside them reads them back from the rows of
/// the whole buckets below them. One service writes the first 3,000-odd seqs of
/// level-1 bucket 0 (seqs 1..=4,096), a second starts inside it and closes it: the
/// bucket's row is the sum of its sixteen level-0 rows, level 2 has none yet, a balance
/// at a seq on either side of the boundary is what the log says, and a rebuild leaves
/// the same rows.
#[tokio::test]
async fn a_writer_starting_inside_a_level_one_bucket_closes_it_with_the_sums_before_it() {
    let first = spawn_app().await;
    let key = funded_ledger(&first, "larger", "1000000.00").await;
    // Payment n is seq 7 + n.
    for batch in 0..3 {
        pay_in_batch(&first, &key, "larger", batch * 1_000, 1_000).await;
    }
    let second = spawn_app_on(TestDatabase::reuse(&first.db)).await;
    for batch in 3..5 {
        pay_in_batch(&second, &key, "larger", batch * 1_000, 1_000).await;
    }
    assert_eq!(second.head_seq("larger").await, 5_006);
    let buckets = buckets_of(&first, "larger").await;
    assert_eq!(
        buckets.iter().filter(|b| b.0 > 0).collect::<Vec<_>>(),
        [&(1, 0)]
    );
    let owner = first.db.owner().await;
    let sums = |sql: &'static str| {
        let owner = &owner;
        async move {
            owner
                .query(sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    let row: (String, Decimal, Decimal) = (r.get(0), r.get(1), r.get(2));
                    row
                })
                .collect::<Vec<_>>()
        }
    };
    let level1 = sums(
        "SELECT account, debits, credits FROM balance_buckets \
         WHERE ledger_id = 'larger' AND level = 1 AND bucket = 0 ORDER BY account",
    )
    .await;
    let sixteen = sums(
        "SELECT account, sum(debits), sum(credits) FROM balance_buckets \
         WHERE ledger_id = 'larger' AND level = 0 AND bucket < 16 GROUP BY account ORDER BY account",
    )
    .await;
    assert_eq!(level1, sixteen);
    assert_eq!(level1.len(), 3, "{level1:?}");
    let cash_at = |seq: u32| {
        let paid: Decimal = (0..(seq - 6).min(5_000))
            .map(|n| nth_amount(n).parse::<Decimal>().unwrap())
            .sum();
        (Decimal::from(1_000_000) - paid).to_string()
    };
    for seq in [4_095, 4_096, 4_097, 5_006] {
        let cash = second
            .balance_at("larger", &format!("as_of_seq={seq}"), "assets:cash")
            .await;
        assert_eq!(cash, cash_at(seq), "seq {seq}");
    }
    let live = snapshot(&first, "larger").await;
    assert_identical(&rebuild_in_chunks(&first, "larger", 700).await);
    assert_eq!(snapshot(&first, "larger").await, live);
}

/// Moves `amount` EUR from capital to cash, effective on `date`.
async fn fund_on(app: &TestApp, key: &str, ledger: &str, amount: &str, date: &str) -> Reply {
    let mut body = entry(&[
        ("assets:cash", "EUR", "debit", amount),
        ("equity:capital", "EUR", "credit", amount),
    ]);
    body["effective_date"] = json!(date);
    app.post(key, &format!("/v1/ledgers/{ledger}/transactions"), &body)
        .await
}

/// The month rows of `ledger` (month, account, debits, credits) and its open month.
async fn month_rows(app: &TestApp, ledger: &str) -> (Vec<String>, Option<NaiveDate>) {
    let owner = app.db.owner().await;
    let rows = owner
        .query(
            "SELECT to_jsonb(t)::text FROM balance_periods t \
             WHERE ledger_id = $1 AND kind = 'M' ORDER BY period, account, currency",
            &[&ledger],
        )
        .await
        .unwrap();
    let open = owner
        .query_opt(
            "SELECT open_from FROM period_bounds WHERE ledger_id = $1",
            &[&ledger],
        )
        .await
        .unwrap();
    (
        rows.iter().map(|r| r.get(0)).collect(),
        open.map(|r| r.get(0)),
    )
}

/// Cash as of each of `days`.
async fn cash_as_of(app: &TestApp, ledger: &str, days: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for day in days {
        let query = format!("as_of={day}");
        out.push(app.balance_at(ledger, &query, "assets:cash").await);
    }
    out
}

/// Month rows exist only for the months before the open month, the month of the
/// latest record in the log; a balance at a date adds up the day rows from there on.
/// Here the open month is moved back by hand (and the month rows from it on taken
/// out), as if the log's last commit had been in November 2025: a writer then first
/// writes the month rows of the months its commit closes, each the sum of the month's
/// day rows, whether the commit goes out on the locked path or pipelined behind a
/// cached state, and the rows are those a rebuild from the log gives.
#[tokio::test]
async fn a_commit_in_a_later_month_writes_the_rows_of_the_months_it_closes() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "months", "1000.00").await;
    let today = chrono::Utc::now().date_naive();
    let this_month = chainbook::core::months::month_of(today);
    for (amount, date) in [
        ("1.00", "2025-10-15"),
        ("2.00", "2025-11-30"),
        ("4.00", "2025-12-01"),
        ("8.00", "2026-02-10"),
        ("16.00", "2031-01-01"),
    ] {
        let r = fund_on(&app, &key, "months", amount, date).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let (live, open) = month_rows(&app, "months").await;
    assert_eq!(open, Some(this_month));
    let months: BTreeSet<NaiveDate> = live
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(r).unwrap()["period"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    // The funding and the entry of 2031 are in open months: day rows only.
    let closed: BTreeSet<NaiveDate> = ["2025-10-01", "2025-11-01", "2025-12-01", "2026-02-01"]
        .iter()
        .map(|d| d.parse().unwrap())
        .filter(|d| *d < this_month)
        .collect();
    assert_eq!(months, closed);
    let days = [
        "2025-10-14",
        "2025-11-29",
        "2025-11-30",
        "2026-01-31",
        "2026-02-28",
        &today.to_string(),
        "2030-12-31",
        "2031-01-01",
    ];
    let balances = cash_as_of(&app, "months", &days).await;
    assert_eq!(
        balances[..5],
        ["none", "1.00", "3.00", "7.00", "15.00"],
        "{balances:?}"
    );
    assert_eq!(balances[5..], ["1015.00", "1015.00", "1031.00"]);

    let november = || NaiveDate::from_ymd_opt(2025, 11, 1).unwrap();
    let back_to_november = || async {
        let owner = app.db.owner().await;
        owner
            .batch_execute(
                "UPDATE period_bounds SET open_from = '2025-11-01' WHERE ledger_id = 'months'; \
                 DELETE FROM balance_periods WHERE ledger_id = 'months' AND kind = 'M' \
                   AND period >= '2025-11-01';",
            )
            .await
            .unwrap();
    };
    back_to_november().await;
    assert_ne!(month_rows(&app, "months").await.0, live);
    // Read from the day rows, the balances are the same.
    assert_eq!(cash_as_of(&app, "months", &days).await, balances);

    // Locked path: a second service's first commit loads the open month and closes
    // the months since.
    let second = spawn_app_on(TestDatabase::reuse(&app.db)).await;
    let r = fund_on(&second, &key, "months", "32.00", "2025-11-15").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let after_locked = month_rows(&app, "months").await;
    assert_eq!(after_locked.1, Some(this_month));
    let with_32 = cash_as_of(&app, "months", &days).await;
    assert_eq!(
        with_32[..4],
        ["none", "33.00", "35.00", "39.00"],
        "{with_32:?}"
    );
    let live = snapshot(&app, "months").await;
    assert_identical(&rebuild_in_chunks(&app, "months", 3).await);
    assert_eq!(snapshot(&app, "months").await, live);

    // Pipelined: a third service's first batch is refused (it would overdraw cash),
    // so it loads the state (open month November again) and appends nothing; the
    // next entry goes out pipelined on that state and closes the months.
    back_to_november().await;
    let third = spawn_app_on(TestDatabase::reuse(&app.db)).await;
    let overdraw = entry(&[
        ("equity:capital", "EUR", "debit", "100000.00"),
        ("assets:cash", "EUR", "credit", "100000.00"),
    ]);
    let refused = third
        .post(&key, "/v1/ledgers/months/transactions", &overdraw)
        .await;
    refused.assert_problem(409, "overdraft");
    assert_eq!(month_rows(&app, "months").await.1, Some(november()));
    let r = fund_on(&third, &key, "months", "64.00", "2025-12-24").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(month_rows(&app, "months").await.1, Some(this_month));
    let with_64 = cash_as_of(&app, "months", &days).await;
    assert_eq!(
        with_64[..5],
        ["none", "33.00", "35.00", "103.00", "111.00"],
        "{with_64:?}"
    );
    let live = snapshot(&app, "months").await;
    assert_identical(&rebuild_in_chunks(&app, "months", 1_000).await);
    assert_eq!(snapshot(&app, "months").await, live);
}

/// Single entries that arrive together go out as one-statement groups, each chained
/// behind the one before on that group's connection, so that the database runs it
/// as soon as the one before has committed (`GroupForm::One`, `task::Follow`): many
/// at once leave the projections a rebuild from the log gives, every entry counted
/// once, and a chain the auditor's tool accepts.
#[tokio::test]
async fn groups_chained_on_one_connection_leave_what_a_rebuild_gives() {
    let app = spawn_app().await;
    let s = shop(&app, "chained").await;
    workload(&s, 5, 40).await;
    let head = app.head_seq("chained").await;
    let path = "/v1/ledgers/chained/transactions";
    let mut rng = StdRng::seed_from_u64(29);
    let mut posted = 0;
    for _ in 0..8 {
        let singles: Vec<_> = (0..120).map(|_| random_entry(&mut rng)).collect();
        let replies =
            futures_util::future::join_all(singles.iter().map(|e| app.post(&s.key, path, e))).await;
        for r in replies {
            assert_eq!(r.status, 201, "{}", r.text);
            posted += 1;
        }
    }
    assert_eq!(app.head_seq("chained").await, head + posted);
    let metrics = app.get("", "/metrics").await.text;
    assert!(crate::helpers::chained_groups(&metrics, "chained") > 0);
    let live = snapshot(&app, "chained").await;
    assert_identical(&rebuild_in_chunks(&app, "chained", 500).await);
    assert_eq!(snapshot(&app, "chained").await, live);
    assert!(app.verify("chained").await.ok());
}

/// Requests that arrive together are decided into groups that go out behind one
/// another, each storing its log rows while the one before commits and its upserts
/// once it has (`persist::GroupForm::Behind`, and `Copied` for groups of 64 events or
/// more, whose events go by COPY, their idempotency records after them): batches of
/// 40 and 80 and single entries, many at once, some of the batches with idempotency
/// keys, leave the projections a rebuild from the log gives, every entry counted, and
/// every key's first answer to replay.
#[tokio::test]
async fn groups_sent_behind_one_another_leave_what_a_rebuild_gives() {
    let app = spawn_app().await;
    let s = shop(&app, "crowd").await;
    workload(&s, 5, 40).await;
    let head = app.head_seq("crowd").await;
    let path = "/v1/ledgers/crowd/transactions";
    let batch_path = format!("{path}/batch");
    let mut rng = StdRng::seed_from_u64(17);
    let mut posted = 0;
    let mut keyed = Vec::new();
    for round in 0..6 {
        let batches: Vec<_> = (0..8)
            .map(|i| {
                let size = if i % 2 == 0 { 40 } else { 80 };
                let entries: Vec<_> = (0..size).map(|_| random_entry(&mut rng)).collect();
                // Every fourth batch, one of 80, with a key.
                let key = (i % 4 == 1).then(|| format!("crowd-{round}-{i}"));
                (key, json!({"atomic": false, "entries": entries}))
            })
            .collect();
        let singles: Vec<_> = (0..40).map(|_| random_entry(&mut rng)).collect();
        let (app, key, batch_path) = (&app, &s.key, &batch_path);
        let (batch_replies, single_replies) = futures_util::join!(
            futures_util::future::join_all(batches.iter().map(|(idem, b)| async move {
                match idem {
                    Some(idem) => app.post_idem(key, batch_path, idem, b).await,
                    None => app.post(key, batch_path, b).await,
                }
            })),
            futures_util::future::join_all(singles.iter().map(|e| app.post(key, path, e)))
        );
        for ((key, body), r) in batches.into_iter().zip(&batch_replies) {
            if let Some(key) = key {
                keyed.push((key, body, r.body.clone()));
            }
        }
        for r in batch_replies {
            assert_eq!(r.status, 200, "{}", r.text);
            for item in r.body["results"].as_array().unwrap() {
                assert_eq!(item["status"], 201, "{item}");
                posted += 1;
            }
        }
        for r in single_replies {
            assert_eq!(r.status, 201, "{}", r.text);
            posted += 1;
        }
    }
    assert_eq!(posted, 6 * (4 * 40 + 4 * 80 + 40));
    assert_eq!(app.head_seq("crowd").await, head + posted);
    assert_eq!(keyed.len(), 12);
    for (key, body, first) in &keyed {
        let again = app.post_idem(&s.key, &batch_path, key, body).await;
        assert_eq!(again.status, 200, "{}", again.text);
        assert_eq!(&again.body, first, "{key}");
    }
    assert_eq!(app.head_seq("crowd").await, head + posted);
    let live = snapshot(&app, "crowd").await;
    assert_identical(&rebuild_in_chunks(&app, "crowd", 500).await);
    assert_eq!(snapshot(&app, "crowd").await, live);
    assert!(app.verify("crowd").await.ok());
}
