//! The random workload the rebuild tests replay: entries in EUR, USD, JPY and a custom
//! asset (some across currencies), batches, reversals, an account closed, rates, and
//! commerce operations (refusals included), seeded so that a failure reproduces.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::helpers::entry;
use crate::shop::Shop;

fn amount(rng: &mut StdRng, currency: &str) -> String {
    let units = rng.gen_range(1..500u64);
    match currency {
        "JPY" => (units * 100).to_string(),
        "BTC" => format!("0.{:08}", units * 1_234),
        _ => format!("{units}.{:02}", rng.gen_range(0..100)),
    }
}

const CURRENCIES: [&str; 4] = ["EUR", "USD", "JPY", "BTC"];
const OTHERS: [&str; 4] = [
    "equity:capital",
    "income:fees",
    "expenses:rent",
    "liabilities:loan",
];

/// One entry: two to four postings in one currency, or a cross-currency exchange
/// through `equity:fx`.
pub(super) fn random_entry(rng: &mut StdRng) -> Value {
    let currency = CURRENCIES[rng.gen_range(0..CURRENCIES.len())];
    let bank = format!("assets:bank:{}", currency.to_lowercase());
    if rng.gen_bool(0.2) {
        let other = CURRENCIES[rng.gen_range(0..CURRENCIES.len())];
        let (a, b) = (amount(rng, currency), amount(rng, other));
        let other_bank = format!("assets:bank:{}", other.to_lowercase());
        return entry(&[
            (&bank, currency, "debit", &a),
            ("equity:fx", currency, "credit", &a),
            ("equity:fx", other, "debit", &b),
            (&other_bank, other, "credit", &b),
        ]);
    }
    let counter = OTHERS[rng.gen_range(0..OTHERS.len())];
    let a = amount(rng, currency);
    if rng.gen_bool(0.5) {
        return entry(&[
            (&bank, currency, "debit", &a),
            (counter, currency, "credit", &a),
        ]);
    }
    let b = amount(rng, currency);
    let second = OTHERS[rng.gen_range(0..OTHERS.len())];
    entry(&[
        (counter, currency, "debit", &a),
        (second, currency, "debit", &b),
        (&bank, currency, "credit", &a),
        (&bank, currency, "credit", &b),
    ])
}

/// Accounts, a custom asset, rates, products and stock; an order completed and one
/// cancelled after a capture, both refunded only at the very end (after they were
/// forgotten as settled); an account opened, used and closed.
async fn setup(s: &Shop<'_>) {
    let ok = |r: crate::helpers::Reply| assert_eq!(r.status, 201, "{}", r.text);
    ok(s.post("/currencies", json!({"code": "BTC", "scale": 8}))
        .await);
    ok(s.post(
        "/rates",
        json!({"rates": [
        {"base": "USD", "quote": "EUR", "rate": "0.92", "effective_date": "2026-01-01"},
        {"base": "JPY", "quote": "EUR", "rate": "0.0061", "effective_date": "2026-01-01"}]}),
    )
    .await);
    for (currency, code) in CURRENCIES.iter().map(|c| (c, c.to_lowercase())) {
        let body =
            json!({"code": format!("assets:bank:{code}"), "type": "asset", "currency": currency});
        ok(s.post("/accounts", body).await);
    }
    for (code, kind) in [
        ("equity:capital", "equity"),
        ("equity:fx", "equity"),
        ("income:fees", "income"),
        ("expenses:rent", "expense"),
        ("liabilities:loan", "liability"),
        ("assets:petty", "asset"),
    ] {
        ok(s.post("/accounts", json!({"code": code, "type": kind}))
            .await);
    }
    let petty =
        |d: &str, c: &str| entry(&[(d, "EUR", "debit", "5.00"), (c, "EUR", "credit", "5.00")]);
    ok(
        s.post("/transactions", petty("assets:petty", "equity:capital"))
            .await,
    );
    ok(
        s.post("/transactions", petty("expenses:rent", "assets:petty"))
            .await,
    );
    ok(s.post("/accounts/assets:petty/close", json!({})).await);
    s.product("MUG", 0, &[("berlin", "2", "10"), ("paris", "1", "5")])
        .await;
    s.product("TEA", 2, &[("berlin", "1.5", "5")]).await;
    ok(s.receive("MUG", "berlin", Some("A-1"), "40", "4.00").await);
    ok(s.receive("TEA", "berlin", None, "12.50", "8.00").await);
    ok(
        s.order("O-done", "alice", "online", &[("MUG", "2", "12.50")])
            .await,
    );
    ok(s.ship("O-done", &[("MUG", "2")]).await);
    ok(s.pay("O-done", "capture", "25.00").await);
    s.product("CUP", 0, &[("berlin", "5", "10")]).await;
    ok(s.receive("CUP", "berlin", None, "6", "2.00").await);
    // Available falls to the reorder point: stock.reorder_requested follows.
    ok(s.order("O-cup", "carol", "online", &[("CUP", "1", "3.00")])
        .await);
    ok(
        s.order("O-gone", "bob", "retail", &[("TEA", "1.25", "20.00")])
            .await,
    );
    ok(s.pay("O-gone", "capture", "10.00").await);
    ok(s.cancel("O-gone").await);
}

/// An order the workload placed: one line of `sku`.
struct Placed {
    id: String,
    sku: &'static str,
    /// Its quantity, a part of it, and the order's total at 9.99 a unit.
    quantity: (&'static str, &'static str),
    total: &'static str,
}

/// One random commerce operation; refusals (409/422) are part of the game.
async fn commerce_step(s: &Shop<'_>, rng: &mut StdRng, orders: &mut Vec<Placed>, n: usize) {
    let (sku, quantity, total) = if rng.gen_bool(0.5) {
        ("MUG", ("3", "1"), "29.97")
    } else {
        ("TEA", ("1.75", "0.75"), "17.48")
    };
    let warehouse = if sku == "MUG" && rng.gen_bool(0.3) {
        "paris"
    } else {
        "berlin"
    };
    let bin = [None, Some("A-1"), Some("B-2")][rng.gen_range(0..3)];
    let choice = rng.gen_range(0..11);
    let Some(order) = orders.get(rng.gen_range(0..orders.len().max(1))) else {
        if choice > 5 {
            return;
        }
        // Nothing placed yet: place one.
        return commerce_step_without_order(s, sku, quantity, total, orders, n).await;
    };
    let r = match choice {
        0 | 1 => {
            let received = if sku == "MUG" { "12" } else { "7.50" };
            s.receive(sku, warehouse, bin, received, "5.10").await
        }
        2 => {
            s.post(
                "/stock/transfers",
                json!({"sku": "MUG", "from": {"warehouse": "berlin", "location": bin},
                   "to": {"warehouse": "paris"}, "quantity": "1"}),
            )
            .await
        }
        3 => {
            s.post(
                "/stock/adjustments",
                json!({"sku": sku, "warehouse": warehouse, "location": bin,
                   "quantity": format!("-{}", quantity.1), "reason": "count"}),
            )
            .await
        }
        4 | 5 => return commerce_step_without_order(s, sku, quantity, total, orders, n).await,
        6 | 7 => {
            let part = if rng.gen_bool(0.5) {
                order.quantity.0
            } else {
                order.quantity.1
            };
            s.ship(&order.id, &[(order.sku, part)]).await
        }
        8 => s.cancel(&order.id).await,
        _ => match rng.gen_range(0..3) {
            0 => s.pay(&order.id, "capture", order.total).await,
            1 => s.pay(&order.id, "capture", "5.00").await,
            _ => s.pay(&order.id, "refund", "5.00").await,
        },
    };
    assert!([201, 409, 422].contains(&r.status.as_u16()), "{}", r.text);
}

async fn commerce_step_without_order(
    s: &Shop<'_>,
    sku: &'static str,
    quantity: (&'static str, &'static str),
    total: &'static str,
    orders: &mut Vec<Placed>,
    n: usize,
) {
    let id = format!("O-{n}");
    let customer = format!("C-{}", n % 4);
    let r = s
        .order(&id, &customer, "wholesale", &[(sku, quantity.0, "9.99")])
        .await;
    assert!([201, 409].contains(&r.status.as_u16()), "{}", r.text);
    if r.status == 201 {
        orders.push(Placed {
            id,
            sku,
            quantity,
            total,
        });
    }
}

/// The workload: setup, then `steps` random entries, batches, reversals and commerce
/// operations, then refunds of the two settled orders.
pub(super) async fn workload(s: &Shop<'_>, seed: u64, steps: usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    setup(s).await;
    let (mut orders, mut posted) = (Vec::new(), Vec::new());
    for n in 0..steps {
        match rng.gen_range(0..10) {
            0..=3 => {
                let r = s.post("/transactions", random_entry(&mut rng)).await;
                assert_eq!(r.status, 201, "{}", r.text);
                posted.push(r.body["id"].as_str().unwrap().to_owned());
            }
            4 => {
                let entries: Vec<Value> = (0..rng.gen_range(2..6))
                    .map(|_| random_entry(&mut rng))
                    .collect();
                let r = s
                    .post(
                        "/transactions/batch",
                        json!({"atomic": false, "entries": entries}),
                    )
                    .await;
                // A non-atomic batch answers 200 with a status per entry.
                assert_eq!(r.status, 200, "{}", r.text);
                for result in r.body["results"].as_array().unwrap() {
                    assert_eq!(result["status"], 201, "{}", r.text);
                }
            }
            5 if !posted.is_empty() => {
                let id = posted.swap_remove(rng.gen_range(0..posted.len()));
                let r = s
                    .post(&format!("/transactions/{id}/reverse"), json!({}))
                    .await;
                assert_eq!(r.status, 201, "{}", r.text);
            }
            _ => commerce_step(s, &mut rng, &mut orders, n).await,
        }
    }
    for (order, amount) in [("O-done", "5.00"), ("O-gone", "10.00")] {
        let r = s.pay(order, "refund", amount).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
}
