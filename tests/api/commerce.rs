//! Commerce operations over HTTP: each operation's postings, checked by hand, and the
//! projections they leave.

use serde_json::json;

use crate::helpers::spawn_app;
use crate::shop::{expect, postings, shop};

/// Receipts, a transfer, a cycle count, an order paid in two parts and shipped in two:
/// every posting and every inventory figure below is worked out by hand.
#[tokio::test]
async fn an_orders_life_posts_exactly_what_the_rules_say() {
    let app = spawn_app().await;
    let s = shop(&app, "shop").await;
    s.product("MUG", 0, &[("berlin", "2", "10"), ("paris", "0", "0")])
        .await;

    // 10 × 4.00 = 40.00 into bin A-1; the two accounts open in the same commit.
    let r = s.receive("MUG", "berlin", Some("A-1"), "10", "4.00").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["type"], "stock.received");
    assert_eq!(r.body["data"]["value"], "40.00");
    assert_eq!(
        r.body["data"]["movements"],
        json!([{"sku": "MUG", "warehouse": "berlin", "location": "A-1", "quantity": "10"}])
    );
    assert_eq!(
        postings(&r.body),
        expect(&[
            ("assets:inventory:berlin", "debit", "40.00"),
            ("liabilities:payable", "credit", "40.00"),
        ])
    );
    let seq = r.body["seq"].as_u64().unwrap();
    let events = s.events().await;
    let opened: Vec<&str> = events[..seq as usize - 1]
        .iter()
        .filter(|e| e["type"] == "account.opened")
        .map(|e| e["data"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(opened, ["assets:inventory:berlin", "liabilities:payable"]);

    // 5 × 5.20 = 26.00 without a bin: 15 units worth 66.00, average 4.40.
    let r = s.receive("MUG", "berlin", None, "5", "5.20").await;
    assert_eq!(r.body["data"]["value"], "26.00", "{}", r.text);
    let berlin = s.stock("MUG", "berlin").await;
    assert_eq!(berlin["on_hand"], "15");
    assert_eq!(berlin["value"], "66.00");
    assert_eq!(berlin["average_cost"], "4.4000");

    // 3 to Paris at the average: 3 × 4.40 = 13.20 moves between inventory accounts.
    let r = s
        .post(
            "/stock/transfers",
            json!({"sku": "MUG", "from": {"warehouse": "berlin"}, "to": {"warehouse": "paris"}, "quantity": "3"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        postings(&r.body),
        expect(&[
            ("assets:inventory:paris", "debit", "13.20"),
            ("assets:inventory:berlin", "credit", "13.20"),
        ])
    );

    // A cycle count finds 2 missing in A-1: 2 × 4.40 = 8.80 of shrinkage.
    let r = s
        .post(
            "/stock/adjustments",
            json!({"sku": "MUG", "warehouse": "berlin", "location": "A-1", "quantity": "-2", "reason": "cycle count"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        postings(&r.body),
        expect(&[
            ("expenses:shrinkage", "debit", "8.80"),
            ("assets:inventory:berlin", "credit", "8.80"),
        ])
    );
    // Berlin: 15 − 3 − 2 = 10 units, 66.00 − 13.20 − 8.80 = 44.00.

    // 4 × 12.50 = 50.00 ordered: nothing posted, 4 reserved.
    let r = s
        .order("O-1", "C-1", "online", &[("MUG", "4", "12.50")])
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["data"]["total"], "50.00");
    assert!(postings(&r.body).is_empty());
    let berlin = s.stock("MUG", "berlin").await;
    assert_eq!(
        (
            &berlin["on_hand"],
            &berlin["reserved"],
            &berlin["available"]
        ),
        (&json!("10"), &json!("4"), &json!("6"))
    );

    let r = s.pay("O-1", "capture", "20.00").await;
    assert_eq!(
        postings(&r.body),
        expect(&[
            ("assets:cash", "debit", "20.00"),
            ("assets:receivable", "credit", "20.00"),
        ])
    );

    // Ship 3: revenue 3 × 12.50 = 37.50, cost 3 × 4.40 = 13.20; the 2 unbinned units
    // go first, then 1 from A-1.
    let r = s.ship("O-1", &[("MUG", "3")]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        postings(&r.body),
        expect(&[
            ("assets:receivable", "debit", "37.50"),
            ("income:sales", "credit", "37.50"),
            ("expenses:cogs", "debit", "13.20"),
            ("assets:inventory:berlin", "credit", "13.20"),
        ])
    );
    assert_eq!(
        r.body["data"]["movements"],
        json!([
            {"sku": "MUG", "warehouse": "berlin", "location": null, "quantity": "-2"},
            {"sku": "MUG", "warehouse": "berlin", "location": "A-1", "quantity": "-1"},
        ])
    );
    let order = s.get("/orders/O-1").await;
    assert_eq!(order.body["status"], "partially_shipped", "{}", order.text);
    assert_eq!(order.body["payment_status"], "partially_paid");

    // The last unit: 12.50 and 4.40; shipped but not yet fully paid.
    let r = s.ship("O-1", &[("MUG", "1")]).await;
    assert_eq!(
        postings(&r.body),
        expect(&[
            ("assets:receivable", "debit", "12.50"),
            ("income:sales", "credit", "12.50"),
            ("expenses:cogs", "debit", "4.40"),
            ("assets:inventory:berlin", "credit", "4.40"),
        ])
    );
    assert_eq!(s.get("/orders/O-1").await.body["status"], "shipped");
    let r = s.pay("O-1", "capture", "30.00").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let order = s.get("/orders/O-1").await;
    assert_eq!(order.body["status"], "completed");
    assert_eq!(order.body["paid"], "50.00");
    assert_eq!(order.body["lines"][0]["shipped"], "4");

    // Berlin: 6 units worth 44.00 − 13.20 − 4.40 = 26.40; Paris 3 worth 13.20.
    let berlin = s.stock("MUG", "berlin").await;
    assert_eq!(
        (&berlin["on_hand"], &berlin["reserved"], &berlin["value"]),
        (&json!("6"), &json!("0"), &json!("26.40"))
    );
    assert_eq!(berlin["locations"], json!(["A-1=6"]));
    assert_eq!(s.stock("MUG", "paris").await["value"], "13.20");
    assert_eq!(s.balance("assets:inventory:berlin").await, "26.40");
    assert_eq!(s.balance("assets:inventory:paris").await, "13.20");
    assert_eq!(s.balance("assets:receivable").await, "0.00");
    assert_eq!(s.balance("assets:cash").await, "50.00");
    assert_eq!(s.balance("income:sales").await, "50.00");
    assert_eq!(s.balance("expenses:cogs").await, "17.60");
    assert_eq!(s.balance("expenses:shrinkage").await, "8.80");
    assert_eq!(s.balance("liabilities:payable").await, "66.00");
    assert!(app.verify("shop").await.ok());
}

/// Found stock is valued at the average cost (or the cost given) and booked as a gain;
/// a refund reverses a payment; cancelling releases the reservation.
#[tokio::test]
async fn gains_refunds_and_cancellations_post_their_entries() {
    let app = spawn_app().await;
    let s = shop(&app, "shop").await;
    s.product("TEA", 3, &[("berlin", "0", "0")]).await;
    // 2.5 kg × 8.00 = 20.00.
    s.receive("TEA", "berlin", None, "2.5", "8.00").await;
    // 0.5 kg found, at the average 8.00: 4.00.
    let r = s
        .post(
            "/stock/adjustments",
            json!({"sku": "TEA", "warehouse": "berlin", "quantity": "0.5", "reason": "found in the back"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        postings(&r.body),
        expect(&[
            ("assets:inventory:berlin", "debit", "4.00"),
            ("income:inventory-gains", "credit", "4.00"),
        ])
    );
    // 0.25 kg found at a given 9.99: 2.4975 → 2.50 (half away from zero).
    let r = s
        .post(
            "/stock/adjustments",
            json!({"sku": "TEA", "warehouse": "berlin", "quantity": "0.25", "reason": "count", "unit_cost": "9.99"}),
        )
        .await;
    assert_eq!(r.body["data"]["value"], "2.50", "{}", r.text);

    // 1.5 kg × 20.00 = 30.00; paid, half refunded, then cancelled.
    let r = s
        .order("O-9", "C-9", "retail", &[("TEA", "1.5", "20.00")])
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(s.stock("TEA", "berlin").await["reserved"], "1.5");
    s.pay("O-9", "capture", "30.00").await;
    let r = s.pay("O-9", "refund", "15.00").await;
    assert_eq!(
        postings(&r.body),
        expect(&[
            ("assets:receivable", "debit", "15.00"),
            ("assets:cash", "credit", "15.00"),
        ])
    );
    let r = s.cancel("O-9").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(postings(&r.body).is_empty());
    assert_eq!(
        r.body["data"]["released"],
        json!([{"sku": "TEA", "quantity": "1.5"}])
    );
    let tea = s.stock("TEA", "berlin").await;
    assert_eq!(
        (&tea["on_hand"], &tea["reserved"]),
        (&json!("3.25"), &json!("0"))
    );
    // The rest of the money goes back after the cancellation.
    assert_eq!(s.pay("O-9", "refund", "15.00").await.status, 201);
    assert_eq!(s.get("/orders/O-9").await.body["status"], "cancelled");
    // 20.00 + 4.00 + 2.50.
    assert_eq!(s.balance("assets:inventory:berlin").await, "26.50");
    assert!(app.verify("shop").await.ok());
}

/// Bin to bin inside a warehouse moves quantity, not value.
#[tokio::test]
async fn moving_between_bins_posts_nothing() {
    let app = spawn_app().await;
    let s = shop(&app, "shop").await;
    s.product("MUG", 0, &[("berlin", "0", "0")]).await;
    s.receive("MUG", "berlin", Some("A-1"), "5", "3.00").await;
    let r = s
        .post(
            "/stock/transfers",
            json!({"sku": "MUG", "from": {"warehouse": "berlin", "location": "A-1"},
                   "to": {"warehouse": "berlin", "location": "B-2"}, "quantity": "2"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(postings(&r.body).is_empty());
    assert_eq!(
        s.stock("MUG", "berlin").await["locations"],
        json!(["A-1=3", "B-2=2"])
    );
    let b2 = s.get("/inventory?location=B-2").await;
    assert_eq!(
        b2.body["inventory"][0]["locations"],
        json!(["B-2=2"]),
        "{}",
        b2.text
    );
    assert_eq!(s.balance("assets:inventory:berlin").await, "15.00");
}

/// A stock.reorder_requested follows the event that takes available stock to the
/// reorder point, once per crossing; alerts list what is at or below it.
#[tokio::test]
async fn reorders_are_requested_once_per_crossing() {
    let app = spawn_app().await;
    let s = shop(&app, "shop").await;
    s.product("MUG", 0, &[("berlin", "5", "20")]).await;
    s.receive("MUG", "berlin", None, "8", "1.00").await;
    for (i, _) in (0..6).enumerate() {
        let r = s
            .order(&format!("O-{i}"), "C", "online", &[("MUG", "1", "2.00")])
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // Available 8 → 2: the fall from 6 to 5 (the third order) requests one reorder.
    let reorders = |events: &[serde_json::Value]| {
        events
            .iter()
            .filter(|e| e["type"] == "stock.reorder_requested")
            .cloned()
            .collect::<Vec<_>>()
    };
    let events = s.events().await;
    let found = reorders(&events);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0]["data"],
        json!({"sku": "MUG", "warehouse": "berlin", "available": "5", "reorder_point": "5", "suggested_quantity": "20"})
    );
    // It directly follows the third order, in the same commit.
    let seq = found[0]["seq"].as_u64().unwrap() as usize;
    assert_eq!(events[seq - 2]["data"]["order"], "O-2");
    let alerts = s.get("/inventory/alerts").await;
    assert_eq!(
        alerts.body["alerts"][0]["available"], "2",
        "{}",
        alerts.text
    );

    // Stock comes in (available 12, above 5 again), then falls to 5 once more.
    s.receive("MUG", "berlin", None, "10", "1.00").await;
    assert_eq!(s.get("/inventory/alerts").await.body["alerts"], json!([]));
    for i in 6..14 {
        s.order(&format!("O-{i}"), "C", "online", &[("MUG", "1", "2.00")])
            .await;
    }
    assert_eq!(reorders(&s.events().await).len(), 2);
}

/// The same Idempotency-Key on an operation answers the original and appends once.
#[tokio::test]
async fn operations_are_idempotent() {
    let app = spawn_app().await;
    let s = shop(&app, "shop").await;
    s.product("MUG", 0, &[("berlin", "0", "0")]).await;
    let body = json!({"sku": "MUG", "warehouse": "berlin", "quantity": "3", "unit_cost": "1.00", "currency": "EUR"});
    let path = s.path("/stock/receipts");
    let first = app.post_idem(&s.key, &path, "r-1", &body).await;
    let again = app.post_idem(&s.key, &path, "r-1", &body).await;
    assert_eq!(first.status, 201);
    assert_eq!(again.text, first.text);
    assert_eq!(s.stock("MUG", "berlin").await["on_hand"], "3");
    let other = json!({"sku": "MUG", "warehouse": "berlin", "quantity": "4", "unit_cost": "1.00", "currency": "EUR"});
    app.post_idem(&s.key, &path, "r-1", &other)
        .await
        .assert_problem(409, "idempotency-key-reused");
}
