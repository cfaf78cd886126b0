//! Rates in the chain, balances at a date or seq, and converted reports, checked by
//! hand and against a naive reference computed separately here.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("{v}")).parse().unwrap()
}

async fn open(app: &TestApp, key: &str, ledger: &str, code: &str, kind: &str) {
    app.open(key, ledger, code, kind, json!({})).await;
}

/// Posts a two-line entry `(debit account, credit account, currency, amount, date)`.
async fn post(app: &TestApp, key: &str, ledger: &str, line: (&str, &str, &str, &str, &str)) {
    let (debit, credit, currency, amount, date) = line;
    let body = json!({"effective_date": date, "postings": [
        {"account": debit, "currency": currency, "debit": amount},
        {"account": credit, "currency": currency, "credit": amount}]});
    let r = app
        .post(key, &format!("/v1/ledgers/{ledger}/transactions"), &body)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn rates(
    app: &TestApp,
    key: &str,
    ledger: &str,
    rates: &[(&str, &str, &str, &str)],
) -> crate::helpers::Reply {
    let rates: Vec<Value> = rates
        .iter()
        .map(|(b, q, r, d)| json!({"base": b, "quote": q, "rate": r, "effective_date": d}))
        .collect();
    app.post(
        key,
        &format!("/v1/ledgers/{ledger}/rates"),
        &json!({"rates": rates}),
    )
    .await
}

#[tokio::test]
async fn rates_are_events_and_bad_ones_are_refused() {
    let app = spawn_app().await;
    let key = app.ledger("fx").await;
    let r = rates(
        &app,
        &key,
        "fx",
        &[
            ("USD", "EUR", "0.92", "2026-01-01"),
            ("JPY", "EUR", "0.0061", "2026-01-01"),
        ],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["type"], "rate.published");
    assert_eq!(
        r.body["data"]["rates"][1],
        json!({"base": "JPY", "quote": "EUR", "rate": "0.0061", "effective_date": "2026-01-01"})
    );
    let head = app.head_seq("fx").await;
    for (body, slug) in [
        (
            json!({"rates": [{"base": "XXX1", "quote": "EUR", "rate": "1", "effective_date": "2026-01-01"}]}),
            "unknown-currency",
        ),
        (
            json!({"rates": [{"base": "EUR", "quote": "EUR", "rate": "1", "effective_date": "2026-01-01"}]}),
            "invalid-field",
        ),
        (
            json!({"rates": [{"base": "USD", "quote": "EUR", "rate": "0", "effective_date": "2026-01-01"}]}),
            "invalid-field",
        ),
        (
            json!({"rates": [{"base": "USD", "quote": "EUR", "rate": "-1", "effective_date": "2026-01-01"}]}),
            "invalid-field",
        ),
        (
            json!({"rates": [{"base": "USD", "quote": "EUR", "rate": "1", "effective_date": "2026-13-01"}]}),
            "invalid-field",
        ),
        (json!({"rates": []}), "invalid-field"),
    ] {
        app.post(&key, "/v1/ledgers/fx/rates", &body)
            .await
            .assert_problem(422, slug);
    }
    assert_eq!(app.head_seq("fx").await, head);
    assert!(app.verify("fx").await.ok());
}

/// Cash in ledger acme at `query` (`as_of=…` or `as_of_seq=…`).
async fn cash_at(app: &TestApp, query: &str) -> String {
    app.balance_at("acme", query, "assets:cash").await
}

/// Balances at a date count entries by effective date; at a seq, by position in the
/// log, across bucket boundaries and inside a partial bucket.
#[tokio::test]
async fn balances_at_a_date_or_a_seq() {
    let app = spawn_app().await;
    let key = app.ledger("acme").await;
    open(&app, &key, "acme", "assets:cash", "asset").await;
    open(&app, &key, "acme", "income:sales", "income").await;
    post(
        &app,
        &key,
        "acme",
        ("assets:cash", "income:sales", "EUR", "10.00", "2026-01-31"),
    )
    .await;
    post(
        &app,
        &key,
        "acme",
        ("assets:cash", "income:sales", "EUR", "5.00", "2026-03-01"),
    )
    .await;
    // Back-dated: recorded later, effective earlier.
    post(
        &app,
        &key,
        "acme",
        ("assets:cash", "income:sales", "EUR", "1.00", "2026-01-15"),
    )
    .await;
    assert_eq!(cash_at(&app, "as_of=2026-01-14").await, "none");
    assert_eq!(cash_at(&app, "as_of=2026-01-15").await, "1.00");
    assert_eq!(cash_at(&app, "as_of=2026-02-28").await, "11.00");
    assert_eq!(cash_at(&app, "as_of=2026-03-01").await, "16.00");
    // seq 1 ledger, 2-3 accounts, 4-6 the entries.
    assert_eq!(cash_at(&app, "as_of_seq=4").await, "10.00");
    assert_eq!(cash_at(&app, "as_of_seq=5").await, "15.00");
    assert_eq!(cash_at(&app, "as_of_seq=6").await, "16.00");

    // 700 more entries of 1.00 in batches: seqs 7..=706 cross buckets of 256.
    for chunk in 0..7 {
        let entries: Vec<Value> = (0..100)
            .map(|_| {
                json!({"effective_date": "2026-04-01", "postings": [
                {"account": "assets:cash", "currency": "EUR", "debit": "1.00"},
                {"account": "income:sales", "currency": "EUR", "credit": "1.00"}]})
            })
            .collect();
        let r = app
            .post(
                &key,
                "/v1/ledgers/acme/transactions/batch",
                &json!({"entries": entries}),
            )
            .await;
        assert_eq!(r.status, 201, "chunk {chunk}: {}", r.text);
    }
    // And 3,600 more, past the first bucket of 4,096 seqs.
    for chunk in 0..4 {
        let entries: Vec<Value> = (0..900)
            .map(|_| {
                json!({"effective_date": "2026-05-01", "postings": [
                {"account": "assets:cash", "currency": "EUR", "debit": "1.00"},
                {"account": "income:sales", "currency": "EUR", "credit": "1.00"}]})
            })
            .collect();
        let r = app
            .post(
                &key,
                "/v1/ledgers/acme/transactions/batch",
                &json!({"entries": entries}),
            )
            .await;
        assert_eq!(r.status, 201, "chunk {chunk}: {}", r.text);
    }
    for seq in [
        7u64, 63, 64, 65, 128, 255, 256, 257, 300, 706, 4095, 4096, 4097, 4306,
    ] {
        let expected = Decimal::from(16) + Decimal::from(seq - 6);
        assert_eq!(
            cash_at(&app, &format!("as_of_seq={seq}")).await,
            format!("{expected}.00"),
            "seq {seq}"
        );
    }
    assert_eq!(cash_at(&app, "as_of=2026-04-30").await, "716.00");
    let r = app
        .get(&app.admin, "/v1/ledgers/acme/balances?as_of_seq=4307")
        .await;
    r.assert_problem(422, "invalid-request");
    let r = app
        .get(&app.admin, "/v1/ledgers/acme/balances?as_of=2026-02-30")
        .await;
    r.assert_problem(422, "invalid-request");
    let r = app
        .get(
            &app.admin,
            "/v1/ledgers/acme/balances?as_of=2026-01-01&as_of_seq=3",
        )
        .await;
    r.assert_problem(422, "invalid-request");
}

/// Converted reports worked out by hand: closing and historical rates, roll-up, the
/// balance sheet's equation, the income statement's period, refusals.
#[tokio::test]
async fn converted_reports_by_hand() {
    let app = spawn_app().await;
    let key = app.ledger("acme").await;
    for (code, kind) in [
        ("assets:bank:usd", "asset"),
        ("assets:bank:eur", "asset"),
        ("income:sales", "income"),
        ("equity:capital", "equity"),
    ] {
        open(&app, &key, "acme", code, kind).await;
    }
    // Rates to EUR: USD 0.90 from Jan, 0.80 from Feb.
    let r = rates(
        &app,
        &key,
        "acme",
        &[
            ("USD", "EUR", "0.90", "2026-01-01"),
            ("USD", "EUR", "0.80", "2026-02-01"),
        ],
    )
    .await;
    assert_eq!(r.status, 201);
    post(
        &app,
        &key,
        "acme",
        (
            "assets:bank:eur",
            "equity:capital",
            "EUR",
            "50.00",
            "2026-01-05",
        ),
    )
    .await;
    post(
        &app,
        &key,
        "acme",
        (
            "assets:bank:usd",
            "income:sales",
            "USD",
            "100.00",
            "2026-01-10",
        ),
    )
    .await;
    post(
        &app,
        &key,
        "acme",
        (
            "assets:bank:usd",
            "income:sales",
            "USD",
            "10.00",
            "2026-02-10",
        ),
    )
    .await;

    let tb = app
        .get(
            &key,
            "/v1/ledgers/acme/reports/trial-balance?as_of=2026-02-28",
        )
        .await;
    assert_eq!(tb.status, 200, "{}", tb.text);
    // Closing at 0.80: 110 USD = 88.00 EUR.
    let line = |r: &crate::helpers::Reply, account: &str, currency: &str| {
        r.body["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["account"] == account && l["currency"] == currency)
            .cloned()
            .unwrap_or_else(|| panic!("{account} {currency}: {}", r.text))
    };
    assert_eq!(
        line(&tb, "assets:bank:usd", "USD")["native_debit"],
        "110.00"
    );
    assert_eq!(line(&tb, "assets:bank:usd", "USD")["debit"], "88.00");
    assert_eq!(line(&tb, "income:sales", "USD")["credit"], "88.00");
    assert_eq!(
        tb.body["totals"],
        json!({"debit": "138.00", "credit": "138.00"})
    );
    assert_eq!(tb.body["rates"][0]["published"][0]["seq"], r.body["seq"]);

    // Historical: 100 × 0.90 + 10 × 0.80 = 98.00.
    let hist = app
        .get(
            &key,
            "/v1/ledgers/acme/reports/trial-balance?as_of=2026-02-28&rate=historical&depth=2",
        )
        .await;
    assert_eq!(
        line(&hist, "assets:bank", "USD")["debit"],
        "98.00",
        "{}",
        hist.text
    );
    assert_eq!(hist.body["totals"]["debit"], hist.body["totals"]["credit"]);

    // Balance sheet: assets 138.00 = equity 50.00 + current earnings 88.00.
    let bs = app
        .get(
            &key,
            "/v1/ledgers/acme/reports/balance-sheet?as_of=2026-02-28&depth=1",
        )
        .await;
    assert_eq!(bs.status, 200, "{}", bs.text);
    assert_eq!(bs.body["totals"]["assets"], "138.00");
    assert_eq!(bs.body["totals"]["liabilities_and_equity"], "138.00");
    assert_eq!(bs.body["totals"]["current_earnings"], "88.00");

    // Historical: cash at the closing 0.80 (50.00 + 88.00), capital and earnings at
    // their own rates (50.00 + 90.00 + 8.00): a translation adjustment of -10.00.
    let bs = app
        .get(
            &key,
            "/v1/ledgers/acme/reports/balance-sheet?as_of=2026-02-28&rate=historical",
        )
        .await;
    assert_eq!(bs.body["totals"]["assets"], "138.00", "{}", bs.text);
    assert_eq!(bs.body["totals"]["current_earnings"], "98.00");
    assert_eq!(bs.body["totals"]["translation_adjustment"], "-10.00");
    assert_eq!(bs.body["totals"]["liabilities_and_equity"], "138.00");

    // Only what is under a prefix.
    let bank = app
        .get(
            &key,
            "/v1/ledgers/acme/reports/trial-balance?as_of=2026-02-28&account=assets:bank",
        )
        .await;
    let accounts: Vec<&str> = bank.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["account"].as_str().unwrap())
        .collect();
    assert_eq!(
        accounts,
        ["assets:bank:eur", "assets:bank:usd"],
        "{}",
        bank.text
    );
    app.get(
        &key,
        "/v1/ledgers/acme/reports/trial-balance?account=assets:ban",
    )
    .await
    .assert_problem(422, "account-not-found");

    // February only: 10 USD of sales at 0.80 = 8.00.
    let is = app
        .get(
            &key,
            "/v1/ledgers/acme/reports/income-statement?from=2026-02-01&to=2026-02-28",
        )
        .await;
    assert_eq!(is.body["totals"]["net_income"], "8.00", "{}", is.text);

    // Before any rate: every missing pair is named, nothing is guessed.
    let early = app
        .get(
            &key,
            "/v1/ledgers/acme/reports/trial-balance?as_of=2025-12-31&currency=JPY",
        )
        .await;
    assert_eq!(early.status, 200, "{}", early.text);
    let missing = app
        .get(
            &key,
            "/v1/ledgers/acme/reports/trial-balance?as_of=2026-02-28&currency=JPY",
        )
        .await;
    missing.assert_problem(422, "missing-rates");
    assert!(
        missing.body["detail"].as_str().unwrap().contains("EUR/JPY"),
        "{}",
        missing.text
    );
    assert!(
        missing.body["detail"].as_str().unwrap().contains("USD/JPY"),
        "{}",
        missing.text
    );

    for (path, slug) in [
        ("trial-balance?currency=XXX1", "unknown-currency"),
        ("trial-balance?rate=spot", "invalid-field"),
        ("trial-balance?as_of=yesterday", "invalid-request"),
        ("trial-balance?depth=0", "invalid-request"),
        (
            "income-statement?from=2026-03-01&to=2026-02-01",
            "invalid-request",
        ),
        ("income-statement?as_of=2026-02-01", "invalid-request"),
        ("balance-sheet?from=2026-02-01", "invalid-request"),
    ] {
        app.get(&key, &format!("/v1/ledgers/acme/reports/{path}"))
            .await
            .assert_problem(422, slug);
    }

    // The same query at the same head gives the same bytes, also as CSV.
    let again = app
        .get(
            &key,
            "/v1/ledgers/acme/reports/trial-balance?as_of=2026-02-28",
        )
        .await;
    assert_eq!(again.text, tb.text);
    let csv = app
        .http
        .get(app.url("/v1/ledgers/acme/reports/trial-balance?as_of=2026-02-28"))
        .bearer_auth(&key)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.starts_with("account,type,currency,native_debit,native_credit,debit,credit\n"),
        "{csv}"
    );
    assert!(
        csv.contains("assets:bank:usd,asset,USD,110.00,,88.00,\n"),
        "{csv}"
    );
}

#[tokio::test]
async fn reports_on_an_empty_ledger_are_empty() {
    let app = spawn_app().await;
    let key = app.ledger("empty").await;
    for report in ["trial-balance", "balance-sheet", "income-statement"] {
        let r = app
            .get(
                &key,
                &format!("/v1/ledgers/empty/reports/{report}?currency=USD"),
            )
            .await;
        assert_eq!(r.status, 200, "{report}: {}", r.text);
        assert_eq!(r.body["seq"], 1);
    }
    let tb = app
        .get(&key, "/v1/ledgers/empty/reports/trial-balance")
        .await;
    assert_eq!(tb.body["lines"], json!([]));
    assert_eq!(
        tb.body["totals"],
        json!({"debit": "0.00", "credit": "0.00"})
    );
    app.get(&key, "/v1/ledgers/nope/reports/trial-balance")
        .await
        .assert_problem(403, "forbidden");
}

// ---- The reference: a deliberately naive second computation ----

const CURRENCIES: [(&str, u32); 5] = [("EUR", 2), ("USD", 2), ("JPY", 0), ("BHD", 3), ("GBP", 2)];

/// The rates a test published, looked up the slow way.
struct NaiveRates(Vec<(String, String, Decimal, String)>);

impl NaiveRates {
    fn direct(&self, from: &str, to: &str, day: &str) -> Option<Decimal> {
        // Later in the list = later seq, so `>=` keeps the last publication of a day.
        let mut best: Option<(&str, Decimal)> = None;
        for (b, q, r, d) in &self.0 {
            if b == from
                && q == to
                && d.as_str() <= day
                && best.is_none_or(|(bd, _)| d.as_str() >= bd)
            {
                best = Some((d, *r));
            }
        }
        best.map(|(_, r)| r)
    }

    fn rate(&self, from: &str, to: &str, day: &str) -> Option<Decimal> {
        if from == to {
            return Some(Decimal::ONE);
        }
        let step = |a: &str, b: &str| {
            self.direct(a, b, day)
                .or_else(|| self.direct(b, a, day).map(|r| Decimal::ONE / r))
        };
        step(from, to).or_else(|| Some(step(from, "EUR")? * step("EUR", to)?))
    }
}

fn round_even(v: Decimal, scale: u32) -> Decimal {
    let mut r = v.round_dp_with_strategy(scale, RoundingStrategy::MidpointNearestEven);
    r.rescale(scale);
    r
}

#[tokio::test]
async fn converted_reports_agree_with_a_naive_reference_to_the_minor_unit() {
    let app = spawn_app().await;
    let key = app.ledger("world").await;
    let accounts = [
        ("assets:cash", "asset"),
        ("assets:bank", "asset"),
        ("liabilities:loans", "liability"),
        ("income:sales", "income"),
        ("expenses:rent", "expense"),
        ("equity:capital", "equity"),
    ];
    for (code, kind) in accounts {
        open(&app, &key, "world", code, kind).await;
    }
    let mut rng = StdRng::seed_from_u64(42);
    let days: Vec<String> = (1..=28)
        .step_by(3)
        .map(|d| format!("2026-02-{d:02}"))
        .collect();
    // Rates to and from EUR (and one direct USD→JPY) on several days.
    let mut published = Vec::new();
    for day in days.iter().step_by(2) {
        let mut batch = Vec::new();
        for (code, _) in &CURRENCIES[1..] {
            let rate = Decimal::new(rng.gen_range(50..5000), 3);
            let (base, quote) = if rng.gen_bool(0.5) {
                (*code, "EUR")
            } else {
                ("EUR", *code)
            };
            batch.push(json!({"base": base, "quote": quote, "rate": rate.to_string(), "effective_date": day}));
            published.push((base.to_owned(), quote.to_owned(), rate, day.clone()));
        }
        let usd_jpy = Decimal::new(rng.gen_range(100_000..200_000), 3);
        batch.push(json!({"base": "USD", "quote": "JPY", "rate": usd_jpy.to_string(), "effective_date": day}));
        published.push(("USD".into(), "JPY".into(), usd_jpy, day.clone()));
        let r = app
            .post(&key, "/v1/ledgers/world/rates", &json!({"rates": batch}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let naive = NaiveRates(published);
    // A few hundred entries: (debit, credit, currency, minor units, day).
    let mut entries = Vec::new();
    for _ in 0..300 {
        let (currency, scale) = CURRENCIES[rng.gen_range(0..CURRENCIES.len())];
        let a = rng.gen_range(0..accounts.len());
        let b = (a + rng.gen_range(1..accounts.len())) % accounts.len();
        let units = rng.gen_range(1..1_000_000i64);
        let amount = Decimal::new(units, scale);
        let day = days[rng.gen_range(0..days.len())].clone();
        entries.push((accounts[a].0, accounts[b].0, currency, amount, day));
    }
    for chunk in entries.chunks(100) {
        let body: Vec<Value> = chunk
            .iter()
            .map(|(d, c, cur, amount, day)| {
                json!({"effective_date": day, "postings": [
                {"account": d, "currency": cur, "debit": amount.to_string()},
                {"account": c, "currency": cur, "credit": amount.to_string()}]})
            })
            .collect();
        let r = app
            .post(
                &key,
                "/v1/ledgers/world/transactions/batch",
                &json!({"entries": body}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }

    let as_of = "2026-02-28";
    let kind_of = |account: &str| accounts.iter().find(|(a, _)| *a == account).unwrap().1;
    // The reference: every posting converted on its own at the day the mode says,
    // summed per line, then rounded half to even.
    let reference = |to: &str, scale: u32, from: &str, until: &str, rate_day: Option<&str>| {
        let mut lines: BTreeMap<(String, String), Decimal> = BTreeMap::new();
        for (d, c, cur, amount, day) in &entries {
            if day.as_str() < from || day.as_str() > until {
                continue;
            }
            let on = rate_day.unwrap_or(day.as_str());
            let rate = naive
                .rate(cur, to, on)
                .unwrap_or_else(|| panic!("{cur}/{to} {on}"));
            *lines.entry((d.to_string(), cur.to_string())).or_default() += *amount * rate;
            *lines.entry((c.to_string(), cur.to_string())).or_default() -= *amount * rate;
        }
        lines
            .into_iter()
            .map(|(k, exact)| (k, round_even(exact, scale)))
            .collect::<BTreeMap<_, _>>()
    };
    let fetch = |url: String| {
        let app = &app;
        let key = &key;
        async move {
            let r = app.get(key, &url).await;
            assert_eq!(r.status, 200, "{url}: {}", r.text);
            let mut got: BTreeMap<(String, String), Decimal> = BTreeMap::new();
            for l in r.body["lines"].as_array().unwrap() {
                if l["type"].is_null() {
                    continue; // rounding, earnings, adjustment
                }
                let value = match l["debit"].as_str() {
                    Some(debit) => debit.parse().unwrap(),
                    None => -dec(&l["credit"]),
                };
                got.insert(
                    (
                        l["account"].as_str().unwrap().into(),
                        l["currency"].as_str().unwrap().into(),
                    ),
                    value,
                );
            }
            (r, got)
        }
    };
    let same = |what: &str,
                expected: &BTreeMap<(String, String), Decimal>,
                got: &BTreeMap<(String, String), Decimal>| {
        for (key, value) in expected {
            if value.is_zero() && !got.contains_key(key) {
                continue;
            }
            assert_eq!(got.get(key), Some(value), "{what} {key:?}");
        }
        for key in got.keys() {
            assert!(
                expected.contains_key(key),
                "{what}: unexpected line {key:?}"
            );
        }
    };
    for (to, scale) in [("EUR", 2u32), ("USD", 2), ("JPY", 0), ("BHD", 3)] {
        let closing = reference(to, scale, "0000-01-01", as_of, Some(as_of));
        let historical = reference(to, scale, "0000-01-01", as_of, None);
        for (mode, expected) in [("closing", &closing), ("historical", &historical)] {
            let (r, got) = fetch(format!(
                "/v1/ledgers/world/reports/trial-balance?as_of={as_of}&currency={to}&rate={mode}"
            ))
            .await;
            same(&format!("trial balance {to} {mode}"), expected, &got);
            assert_eq!(
                r.body["totals"]["debit"], r.body["totals"]["credit"],
                "{to} {mode}"
            );
        }

        // Income statement of 5–20 February: income and expense lines only.
        let (from, until) = ("2026-02-05", "2026-02-20");
        for (mode, rate_day) in [("closing", Some(until)), ("historical", None)] {
            let expected: BTreeMap<_, _> = reference(to, scale, from, until, rate_day)
                .into_iter()
                .filter(|((a, _), _)| matches!(kind_of(a), "income" | "expense"))
                .collect();
            let (r, got) = fetch(format!(
                "/v1/ledgers/world/reports/income-statement?from={from}&to={until}&currency={to}&rate={mode}"
            ))
            .await;
            same(&format!("income statement {to} {mode}"), &expected, &got);
            let net: Decimal = -expected.values().sum::<Decimal>();
            assert_eq!(dec(&r.body["totals"]["net_income"]), net, "{to} {mode}");
        }

        // Balance sheet: closing, then the current-rate method with its adjustment.
        let kinds = |lines: &BTreeMap<(String, String), Decimal>,
                     wanted: &[&str]|
         -> BTreeMap<(String, String), Decimal> {
            lines
                .iter()
                .filter(|((a, _), _)| wanted.contains(&kind_of(a)))
                .map(|(k, v)| (k.clone(), *v))
                .collect()
        };
        let (r, got) = fetch(format!(
            "/v1/ledgers/world/reports/balance-sheet?as_of={as_of}&currency={to}"
        ))
        .await;
        same(
            &format!("balance sheet {to} closing"),
            &kinds(&closing, &["asset", "liability", "equity"]),
            &got,
        );
        assert_eq!(
            r.body["totals"]["assets"], r.body["totals"]["liabilities_and_equity"],
            "{to}"
        );
        let mut expected = kinds(&closing, &["asset", "liability"]);
        expected.extend(kinds(&historical, &["equity"]));
        let earnings: Decimal = kinds(&historical, &["income", "expense"]).values().sum();
        let adjustment = -(expected.values().sum::<Decimal>() + earnings);
        let (r, got) = fetch(format!(
            "/v1/ledgers/world/reports/balance-sheet?as_of={as_of}&currency={to}&rate=historical"
        ))
        .await;
        same(&format!("balance sheet {to} historical"), &expected, &got);
        assert_eq!(
            dec(&r.body["totals"]["translation_adjustment"]),
            -adjustment,
            "{to}"
        );
        assert_eq!(
            r.body["totals"]["assets"], r.body["totals"]["liabilities_and_equity"],
            "{to}"
        );
    }
}

/// A custom asset is registered by an event, then posts, converts and exports like any
/// currency, at its own scale.
#[tokio::test]
async fn custom_assets_are_registered_and_used_at_their_scale() {
    let app = spawn_app().await;
    let key = app.ledger("vault").await;
    let path = "/v1/ledgers/vault/currencies";
    let r = app
        .post(&key, path, &json!({"code": "BTC", "scale": 8}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["type"], "currency.registered");
    app.post(&key, path, &json!({"code": "BTC", "scale": 8}))
        .await
        .assert_problem(409, "currency-exists");
    app.post(&key, path, &json!({"code": "USD", "scale": 2}))
        .await
        .assert_problem(409, "currency-exists");
    app.post(&key, path, &json!({"code": "ETH", "scale": 13}))
        .await
        .assert_problem(422, "invalid-field");
    app.post(&key, path, &json!({"code": "eth", "scale": 8}))
        .await
        .assert_problem(422, "invalid-currency");
    let list = app.get(&key, path).await;
    assert_eq!(
        list.body["currencies"],
        json!([{"code": "BTC", "scale": 8}])
    );

    app.open(
        &key,
        "vault",
        "assets:btc",
        "asset",
        json!({"currency": "BTC"}),
    )
    .await;
    open(&app, &key, "vault", "equity:capital", "equity").await;
    post(
        &app,
        &key,
        "vault",
        (
            "assets:btc",
            "equity:capital",
            "BTC",
            "0.50000001",
            "2026-03-01",
        ),
    )
    .await;
    let bad = |amount: &str, currency: &str| {
        json!({"postings": [
            {"account": "assets:btc", "currency": currency, "debit": amount},
            {"account": "equity:capital", "currency": currency, "credit": amount}]})
    };
    app.post(
        &key,
        "/v1/ledgers/vault/transactions",
        &bad("0.000000001", "BTC"),
    )
    .await
    .assert_problem(422, "amount-scale");
    app.post(&key, "/v1/ledgers/vault/transactions", &bad("1", "DOGE"))
        .await
        .assert_problem(422, "unknown-currency");
    app.open(&key, "vault", "assets:eth", "asset", json!({}))
        .await;
    let r = app
        .post(
            &key,
            "/v1/ledgers/vault/accounts",
            &json!({"code": "assets:doge", "type": "asset", "currency": "DOGE"}),
        )
        .await;
    r.assert_problem(422, "unknown-currency");
    assert_eq!(
        app.balance("vault", "assets:btc", "BTC").await,
        "0.50000001"
    );

    // 1 BTC = 60,000 EUR: 0.50000001 BTC = 30,000.0006 → 30000.00 EUR.
    let r = rates(
        &app,
        &key,
        "vault",
        &[("BTC", "EUR", "60000", "2026-01-01")],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let tb = app
        .get(
            &key,
            "/v1/ledgers/vault/reports/trial-balance?as_of=2026-03-31",
        )
        .await;
    assert_eq!(
        tb.body["lines"][0]["native_debit"], "0.50000001",
        "{}",
        tb.text
    );
    assert_eq!(tb.body["lines"][0]["debit"], "30000.00");
    let in_btc = app
        .get(
            &key,
            "/v1/ledgers/vault/reports/trial-balance?as_of=2026-03-31&currency=BTC",
        )
        .await;
    assert_eq!(
        in_btc.body["totals"]["debit"], "0.50000001",
        "{}",
        in_btc.text
    );
    assert!(app.verify("vault").await.ok());
}

/// `sql/V0012` turns level-0 buckets of 64 seqs into buckets of 256: each new row is the
/// sum of the four old rows it covers, per account and currency, and the other levels
/// are left alone.
#[tokio::test]
async fn the_coarser_level_zero_migration_sums_four_old_buckets_into_one() {
    let db = crate::helpers::TestDatabase::new().await;
    let owner = db.owner().await;
    owner
        .batch_execute("DELETE FROM balance_buckets")
        .await
        .unwrap();
    const INSERT: &str = "INSERT INTO balance_buckets \
         (ledger_id, level, bucket, account, currency, debits, credits) \
         VALUES ('l', $1, $2, $3, 'EUR', $4, $5)";
    // Old level-0 buckets 0..=8 of one account and 3..=5 of another, and a level-1 row.
    for bucket in 0..=8_i64 {
        let (d, c) = (Decimal::from(bucket), Decimal::from(bucket * 10));
        owner
            .execute(INSERT, &[&0_i16, &bucket, &"assets:cash", &d, &c])
            .await
            .unwrap();
    }
    for bucket in 3..=5_i64 {
        let (d, c) = (Decimal::from(1), Decimal::ZERO);
        owner
            .execute(INSERT, &[&0_i16, &bucket, &"income:sales", &d, &c])
            .await
            .unwrap();
    }
    let one = (Decimal::from(7), Decimal::from(70));
    owner
        .execute(INSERT, &[&1_i16, &0_i64, &"assets:cash", &one.0, &one.1])
        .await
        .unwrap();

    let migration = include_str!("../../sql/V0012__coarser_seq_buckets.sql");
    owner
        .batch_execute(&format!("BEGIN; {migration} COMMIT;"))
        .await
        .unwrap();

    let rows: Vec<(i16, i64, String, Decimal, Decimal)> = owner
        .query(
            "SELECT level, bucket, account, debits, credits FROM balance_buckets \
             ORDER BY level, account, bucket",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let row = |level: i16, bucket: i64, account: &str, d: i64, c: i64| {
        let (d, c) = (Decimal::from(d), Decimal::from(c));
        (level, bucket, account.to_owned(), d, c)
    };
    assert_eq!(
        rows,
        vec![
            row(0, 0, "assets:cash", 6, 60),
            row(0, 1, "assets:cash", 22, 220),
            row(0, 2, "assets:cash", 8, 80),
            row(0, 0, "income:sales", 1, 0),
            row(0, 1, "income:sales", 2, 0),
            row(1, 0, "assets:cash", 7, 70),
        ]
    );
}

/// `sql/V0014` keeps only whole level-0 buckets: where the writer before it had added
/// the open level-0 bucket's postings to a level-0 row of that bucket and to the
/// level-1 and level-2 rows holding it, the migration leaves the rows the writer then
/// left (levels 1 and 2 the sums of the whole level-0 buckets); and `sql/V0018`, which
/// keeps only whole buckets at every level, the rows the writer now leaves.
#[tokio::test]
async fn the_whole_buckets_migrations_take_out_what_the_open_buckets_added() {
    let app = spawn_app().await;
    let key = crate::helpers::funded_ledger(&app, "opened", "100000.00").await;
    for n in 0..300 {
        let amount = format!("{}.{:02}", 1 + n % 13, n % 100);
        app.pay_supplies(&key, "opened", &amount).await;
    }
    assert_eq!(app.head_seq("opened").await, 306);
    let owner = app.db.owner().await;
    let rows = || async {
        owner
            .query(
                "SELECT level, bucket, account, debits, credits FROM balance_buckets \
                 WHERE ledger_id = 'opened' ORDER BY level, bucket, account",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let row: (i16, i64, String, Decimal, Decimal) =
                    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
                row
            })
            .collect::<Vec<_>>()
    };
    let whole = rows().await;
    // Bucket 0 of level 0, for cash, capital and supplies; none for bucket 1, nor for
    // levels 1 and 2 (`sql/V0018`).
    let levels: Vec<(i16, i64, &str)> = whole.iter().map(|r| (r.0, r.1, &*r.2)).collect();
    let accounts = ["assets:cash", "equity:capital", "expenses:supplies"];
    let expected: Vec<(i16, i64, &str)> = accounts.map(|a| (0, 0, a)).to_vec();
    assert_eq!(levels, expected);
    // What the writer before V0018 also held: level 1 and 2 rows of the whole level-0
    // buckets so far.
    owner
        .batch_execute(
            "INSERT INTO balance_buckets SELECT ledger_id, 1, 0, account, currency, debits, credits \
               FROM balance_buckets WHERE ledger_id = 'opened' AND level = 0; \
             INSERT INTO balance_buckets SELECT ledger_id, 2, 0, account, currency, debits, credits \
               FROM balance_buckets WHERE ledger_id = 'opened' AND level = 0;",
        )
        .await
        .unwrap();
    let before_v0018 = rows().await;
    assert_eq!(before_v0018.len(), 9);
    // What the writer before V0014 also held for the open bucket 1 (seqs 257..=306).
    owner
        .batch_execute(
            "INSERT INTO balance_buckets VALUES ('opened', 0, 1, 'assets:cash', 'EUR', 0, 50); \
             INSERT INTO balance_buckets VALUES ('opened', 0, 1, 'expenses:supplies', 'EUR', 50, 0); \
             UPDATE balance_buckets SET credits = credits + 50 \
               WHERE ledger_id = 'opened' AND level > 0 AND account = 'assets:cash'; \
             UPDATE balance_buckets SET debits = debits + 50 \
               WHERE ledger_id = 'opened' AND level > 0 AND account = 'expenses:supplies'; \
             INSERT INTO balance_buckets VALUES ('opened', 1, 0, 'income:sales', 'EUR', 0, 9); \
             INSERT INTO balance_buckets VALUES ('opened', 2, 0, 'income:sales', 'EUR', 0, 9);",
        )
        .await
        .unwrap();
    assert_ne!(rows().await, before_v0018);

    let migration = include_str!("../../sql/V0014__whole_seq_buckets_only.sql");
    owner
        .batch_execute(&format!("BEGIN; {migration} COMMIT;"))
        .await
        .unwrap();
    assert_eq!(rows().await, before_v0018);
    let migration = include_str!("../../sql/V0018__whole_buckets_at_every_level.sql");
    owner
        .batch_execute(&format!("BEGIN; {migration} COMMIT;"))
        .await
        .unwrap();
    assert_eq!(rows().await, whole);
}

/// `sql/V0016` keeps month rows for closed months only: where the writer before it
/// had added every entry to its month's row as well as to its day's, the migration
/// leaves the rows the writer now leaves, and the open month it now keeps.
#[tokio::test]
async fn the_closed_months_migration_takes_out_the_rows_of_open_months() {
    let app = spawn_app().await;
    let key = crate::helpers::funded_ledger(&app, "monthly", "1000.00").await;
    for (amount, date) in [
        ("1.00", "2025-06-30"),
        ("2.00", "2025-07-01"),
        ("4.00", "2031-01-01"),
    ] {
        post(
            &app,
            &key,
            "monthly",
            ("assets:cash", "equity:capital", "EUR", amount, date),
        )
        .await;
    }
    let owner = app.db.owner().await;
    let rows = || async {
        let periods = owner
            .query(
                "SELECT to_jsonb(t)::text FROM balance_periods t WHERE ledger_id = 'monthly' \
                 ORDER BY kind, period, account",
                &[],
            )
            .await
            .unwrap();
        let bounds = owner
            .query("SELECT to_jsonb(t)::text FROM period_bounds t", &[])
            .await
            .unwrap();
        periods
            .iter()
            .chain(&bounds)
            .map(|r| r.get(0))
            .collect::<Vec<String>>()
    };
    let now = rows().await;
    let months = now.iter().filter(|r| r.contains(r#""kind": "M""#)).count();
    // June and July 2025, for cash and capital; the funding (this month) and 2031 open.
    assert_eq!(months, 4, "{now:#?}");
    // What the writer before V0016 held: a month row for every month, no open month.
    owner
        .batch_execute(
            "DROP TABLE period_bounds; \
             INSERT INTO balance_periods \
               SELECT ledger_id, 'M', period - (extract(day FROM period)::int - 1), account, \
                      currency, sum(debits), sum(credits) \
               FROM balance_periods WHERE ledger_id = 'monthly' AND kind = 'D' \
                 AND period >= date_trunc('month', now() AT TIME ZONE 'UTC')::date \
               GROUP BY 1, 3, 4, 5;",
        )
        .await
        .unwrap();
    let month_rows = owner
        .query_one(
            "SELECT count(*) FROM balance_periods WHERE ledger_id = 'monthly' AND kind = 'M'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(month_rows, 8);

    let migration = include_str!("../../sql/V0016__month_rows_for_closed_months.sql");
    owner
        .batch_execute(&format!("BEGIN; {migration} COMMIT;"))
        .await
        .unwrap();
    assert_eq!(rows().await, now);
}

/// A seq bucket whose last seq is an event with no postings (here an account opened)
/// is written all the same, with the postings of the seqs before it.
#[tokio::test]
async fn a_bucket_closed_by_an_event_without_postings_is_written() {
    let app = spawn_app().await;
    let key = crate::helpers::funded_ledger(&app, "edge", "1000.00").await;
    for _ in 0..249 {
        app.pay_supplies(&key, "edge", "1.00").await;
    }
    assert_eq!(app.head_seq("edge").await, 255);
    app.open(&key, "edge", "assets:bank", "asset", json!({}))
        .await;
    app.pay_supplies(&key, "edge", "1.00").await;
    let owner = app.db.owner().await;
    let cash: Vec<(i16, i64, Decimal, Decimal)> = owner
        .query(
            "SELECT level, bucket, debits, credits FROM balance_buckets \
             WHERE ledger_id = 'edge' AND account = 'assets:cash' ORDER BY level, bucket",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let (debits, credits) = (Decimal::from(1000), Decimal::from(249));
    // Levels 1 and 2 are still open.
    assert_eq!(cash, vec![(0, 0, debits, credits)]);
    for (seq, balance) in [(255, "751.00"), (256, "751.00"), (257, "750.00")] {
        let cash = app
            .balance_at("edge", &format!("as_of_seq={seq}"), "assets:cash")
            .await;
        assert_eq!(cash, balance, "seq {seq}");
    }
}
