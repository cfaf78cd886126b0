//! A property over HTTP: whatever random sequence of operations runs (refusals
//! included), each warehouse's inventory value equals its inventory account's balance,
//! stock never goes negative, reservations match the open orders, and the chain
//! verifies with the auditor's tool.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::spawn_app;
use crate::shop::{shop, Shop};

const SKUS: [(&str, u32); 2] = [("MUG", 0), ("TEA", 2)];
const WAREHOUSES: [&str; 2] = ["berlin", "paris"];
const BINS: [Option<&str>; 3] = [None, Some("A-1"), Some("B-2")];

fn quantity(rng: &mut StdRng, scale: u32) -> String {
    let units = rng.gen_range(1..=6) as i64;
    if scale == 0 {
        units.to_string()
    } else {
        Decimal::new(units * 100 + rng.gen_range(0..100), 2).to_string()
    }
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.gen_range(0..items.len())]
}

/// What one random step did.
enum Step {
    Placed(String),
    Applied,
    Refused,
}

/// One random operation.
async fn step(s: &Shop<'_>, rng: &mut StdRng, orders: &[String], n: usize) -> Step {
    let Some(step) = try_step(s, rng, orders, n).await else {
        return Step::Refused;
    };
    step
}

async fn try_step(s: &Shop<'_>, rng: &mut StdRng, orders: &[String], n: usize) -> Option<Step> {
    let (sku, scale) = pick(rng, &SKUS);
    let warehouse = pick(rng, &WAREHOUSES);
    let bin = pick(rng, &BINS);
    let order = (!orders.is_empty()).then(|| orders[rng.gen_range(0..orders.len())].clone());
    let (path, body) = match rng.gen_range(0..9) {
        0 | 1 => (
            "/stock/receipts".to_owned(),
            json!({"sku": sku, "warehouse": warehouse, "location": bin, "quantity": quantity(rng, scale),
                   "unit_cost": format!("{}.{:02}", rng.gen_range(1..20), rng.gen_range(0..100)), "currency": "EUR"}),
        ),
        2 => (
            "/stock/transfers".to_owned(),
            json!({"sku": sku, "from": {"warehouse": warehouse, "location": bin},
                   "to": {"warehouse": pick(rng, &WAREHOUSES), "location": pick(rng, &BINS)},
                   "quantity": quantity(rng, scale)}),
        ),
        3 => {
            let q = quantity(rng, scale);
            let q = if rng.gen_bool(0.6) {
                format!("-{q}")
            } else {
                q
            };
            (
                "/stock/adjustments".to_owned(),
                json!({"sku": sku, "warehouse": warehouse, "location": bin, "quantity": q, "reason": "count"}),
            )
        }
        4 | 5 => {
            let id = format!("O-{n}");
            let r = s
                .post(
                    "/orders",
                    json!({"id": id, "customer": format!("C-{}", rng.gen_range(0..3)), "channel": "online",
                           "currency": "EUR", "warehouse": warehouse,
                           "lines": [{"sku": sku, "quantity": quantity(rng, scale), "unit_price": "9.99"}]}),
                )
                .await;
            assert!(
                r.status.is_success() || r.status.is_client_error(),
                "{}",
                r.text
            );
            return Some(if r.status == 201 {
                Step::Placed(id)
            } else {
                Step::Refused
            });
        }
        6 => (
            format!("/orders/{}/shipments", order?),
            json!({"lines": [{"sku": sku, "quantity": quantity(rng, scale)}]}),
        ),
        7 => (format!("/orders/{}/cancel", order?), json!({})),
        _ => (
            format!("/orders/{}/payments", order?),
            json!({"action": if rng.gen_bool(0.7) { "capture" } else { "refund" },
                   "amount": format!("{}.00", rng.gen_range(1..30)), "currency": "EUR"}),
        ),
    };
    let r = s.post(&path, body).await;
    assert!(
        r.status.is_success() || r.status.is_client_error(),
        "{path}: {}",
        r.text
    );
    Some(if r.status == 201 {
        Step::Applied
    } else {
        Step::Refused
    })
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

/// The invariants, read back over HTTP.
async fn check(s: &Shop<'_>, orders: &[String]) {
    let inventory = s.get("/inventory?limit=1000").await;
    let mut value: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut reserved: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    for row in inventory.body["inventory"].as_array().unwrap() {
        let warehouse = row["warehouse"].as_str().unwrap().to_owned();
        let on_hand = dec(&row["on_hand"]);
        assert!(on_hand >= Decimal::ZERO, "{row}");
        let in_bins: Decimal = row["locations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let held = l.as_str().unwrap().split('=').nth(1).unwrap();
                let held: Decimal = held.parse().unwrap();
                assert!(held >= Decimal::ZERO, "{row}");
                held
            })
            .sum();
        assert_eq!(in_bins, on_hand, "{row}");
        if !row["value"].is_null() {
            *value.entry(warehouse.clone()).or_default() += dec(&row["value"]);
        }
        reserved.insert(
            (row["sku"].as_str().unwrap().to_owned(), warehouse),
            dec(&row["reserved"]),
        );
    }
    for warehouse in WAREHOUSES {
        // The account opens with the warehouse's first valued movement.
        let account = s
            .get(&format!("/accounts/assets:inventory:{warehouse}"))
            .await;
        let balance = match account.body["balances"].as_array() {
            Some(balances) => balances.iter().map(|b| dec(&b["balance"])).sum::<Decimal>(),
            None => Decimal::ZERO,
        };
        assert_eq!(
            value.get(warehouse).copied().unwrap_or_default(),
            balance,
            "{warehouse}"
        );
    }
    let mut open: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    for id in orders {
        let o = s.get(&format!("/orders/{id}")).await;
        if o.body["status"] == "cancelled" {
            continue;
        }
        for line in o.body["lines"].as_array().unwrap() {
            let key = (
                line["sku"].as_str().unwrap().to_owned(),
                o.body["warehouse"].as_str().unwrap().to_owned(),
            );
            *open.entry(key).or_default() += dec(&line["quantity"]) - dec(&line["shipped"]);
        }
    }
    for (key, held) in reserved {
        assert_eq!(open.get(&key).copied().unwrap_or_default(), held, "{key:?}");
    }
}

#[tokio::test]
async fn random_operations_keep_inventory_value_equal_to_the_accounts() {
    for seed in [1u64, 2, 3, 4] {
        let app = spawn_app().await;
        let s = shop(&app, "shop").await;
        for (sku, scale) in SKUS {
            s.product(sku, scale, &[("berlin", "2", "5"), ("paris", "1", "3")])
                .await;
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let mut orders = Vec::new();
        let mut applied = 0;
        for n in 0..120 {
            match step(&s, &mut rng, &orders, n).await {
                Step::Placed(order) => {
                    orders.push(order);
                    applied += 1;
                }
                Step::Applied => applied += 1,
                Step::Refused => {}
            }
            if n % 20 == 19 {
                check(&s, &orders).await;
            }
        }
        check(&s, &orders).await;
        // The sequence must mostly do things, not only be refused.
        assert!(
            applied >= 40,
            "seed {seed}: only {applied} of 120 operations applied"
        );
        eprintln!(
            "seed {seed}: {applied} of 120 applied, {} orders",
            orders.len()
        );
        let report = app.verify("shop").await;
        assert!(report.ok(), "seed {seed}: {report:?}");
    }
}
