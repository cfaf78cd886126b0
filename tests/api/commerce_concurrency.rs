//! Many clients selling the last units, and shipments racing cancellations.

use serde_json::json;

use crate::helpers::spawn_app;
use crate::shop::shop;

/// 100 clients each order 1 of 37 available: exactly 37 orders win, available ends at
/// 0, on hand never goes below zero, and the reorder is requested exactly once.
#[tokio::test]
async fn exactly_the_available_units_sell() {
    let app = spawn_app().await;
    let s = shop(&app, "shop").await;
    s.product("MUG", 0, &[("berlin", "5", "50")]).await;
    assert_eq!(
        s.receive("MUG", "berlin", None, "37", "2.00").await.status,
        201
    );
    let orders = (0..100).map(|i| {
        let s = &s;
        async move {
            s.order(
                &format!("O-{i}"),
                &format!("C-{i}"),
                "online",
                &[("MUG", "1", "9.00")],
            )
            .await
        }
    });
    let replies = futures_util::future::join_all(orders).await;
    let won = replies.iter().filter(|r| r.status == 201).count();
    for r in replies.iter().filter(|r| r.status != 201) {
        r.assert_problem(409, "insufficient-stock");
    }
    assert_eq!(won, 37);
    let mug = s.stock("MUG", "berlin").await;
    assert_eq!(
        (&mug["on_hand"], &mug["reserved"], &mug["available"]),
        (&json!("37"), &json!("37"), &json!("0"))
    );
    let events = s.events().await;
    let reorders = events
        .iter()
        .filter(|e| e["type"] == "stock.reorder_requested")
        .count();
    assert_eq!(reorders, 1);

    // Every winner ships at once: on hand reaches exactly 0, never below.
    let winners: Vec<String> = replies
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.body["data"]["order"].as_str().unwrap().to_owned())
        .collect();
    let shipments = winners.iter().map(|o| s.ship(o, &[("MUG", "1")]));
    let shipped = futures_util::future::join_all(shipments).await;
    assert!(shipped.iter().all(|r| r.status == 201));
    let mug = s.stock("MUG", "berlin").await;
    assert_eq!(
        (&mug["on_hand"], &mug["value"]),
        (&json!("0"), &json!("0.00"))
    );
    assert_eq!(s.balance("assets:inventory:berlin").await, "0.00");
    assert!(app.verify("shop").await.ok());
}

/// A shipment and a cancellation of the same order, sent together: exactly one wins,
/// and stock and reservations match whichever did.
#[tokio::test]
async fn a_shipment_and_a_cancellation_cannot_both_win() {
    let app = spawn_app().await;
    let s = shop(&app, "shop").await;
    s.product("MUG", 0, &[("berlin", "0", "0")]).await;
    assert_eq!(
        s.receive("MUG", "berlin", None, "20", "1.00").await.status,
        201
    );
    let mut shipped = 0;
    for i in 0..10 {
        let order = format!("O-{i}");
        assert_eq!(
            s.order(&order, "C", "online", &[("MUG", "2", "3.00")])
                .await
                .status,
            201
        );
        let (ship, cancel) = tokio::join!(s.ship(&order, &[("MUG", "2")]), s.cancel(&order));
        let wins = [ship.status == 201, cancel.status == 201];
        assert_eq!(
            wins.iter().filter(|w| **w).count(),
            1,
            "{} / {}",
            ship.text,
            cancel.text
        );
        if ship.status == 201 {
            shipped += 2;
            cancel.assert_problem(409, "order-shipped");
        } else {
            ship.assert_problem(409, "order-cancelled");
        }
    }
    let mug = s.stock("MUG", "berlin").await;
    assert_eq!(mug["on_hand"], (20 - shipped).to_string());
    assert_eq!(mug["reserved"], "0");
    assert!(app.verify("shop").await.ok());
}
