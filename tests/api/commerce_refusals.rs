//! Every refusal of a commerce operation: the right problem, and nothing appended.

use serde_json::{json, Value};

use crate::helpers::spawn_app;
use crate::shop::shop;

/// A shop with MUG (whole units) and TEA (3 decimals) in berlin, 10 MUG on hand, order
/// O-1 for 2 MUG (paid 5.00 of 24.00), O-2 shipped in part, O-3 cancelled.
#[tokio::test]
async fn bad_operations_are_refused_and_append_nothing() {
    let app = spawn_app().await;
    let s = shop(&app, "shop").await;
    s.product("MUG", 0, &[("berlin", "0", "0")]).await;
    s.product("TEA", 3, &[("berlin", "0", "0")]).await;
    assert_eq!(
        s.receive("MUG", "berlin", None, "10", "4.00").await.status,
        201
    );
    assert_eq!(
        s.order("O-1", "C", "online", &[("MUG", "2", "12.00")])
            .await
            .status,
        201
    );
    assert_eq!(s.pay("O-1", "capture", "5.00").await.status, 201);
    assert_eq!(
        s.order("O-2", "C", "online", &[("MUG", "2", "12.00")])
            .await
            .status,
        201
    );
    assert_eq!(s.ship("O-2", &[("MUG", "1")]).await.status, 201);
    assert_eq!(
        s.order("O-3", "C", "online", &[("MUG", "1", "12.00")])
            .await
            .status,
        201
    );
    assert_eq!(s.cancel("O-3").await.status, 201);

    let receipt = |sku: &str, warehouse: &str, quantity: &str, currency: &str| json!({"sku": sku, "warehouse": warehouse, "quantity": quantity, "unit_cost": "1.00", "currency": currency});
    let order = |id: &str, sku: &str, quantity: &str| {
        json!({"id": id, "customer": "C", "channel": "online", "currency": "EUR", "warehouse": "berlin",
               "lines": [{"sku": sku, "quantity": quantity, "unit_price": "1.00"}]})
    };
    let ship = |sku: &str, quantity: &str| json!({"lines": [{"sku": sku, "quantity": quantity}]});
    let pay = |action: &str, amount: &str, currency: &str| json!({"action": action, "amount": amount, "currency": currency});
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        // Unknown things.
        (
            "/stock/receipts",
            receipt("NOPE", "berlin", "1", "EUR"),
            422,
            "product-not-found",
        ),
        (
            "/stock/receipts",
            receipt("MUG", "paris", "1", "EUR"),
            422,
            "warehouse-not-found",
        ),
        (
            "/orders",
            order("O-9", "NOPE", "1"),
            422,
            "product-not-found",
        ),
        (
            "/orders/NOPE/shipments",
            ship("MUG", "1"),
            404,
            "order-not-found",
        ),
        (
            "/orders/NOPE/payments",
            pay("capture", "1.00", "EUR"),
            404,
            "order-not-found",
        ),
        ("/orders/NOPE/cancel", json!({}), 404, "order-not-found"),
        (
            "/orders/O-1/shipments",
            ship("TEA", "1"),
            422,
            "not-in-order",
        ),
        // Quantities.
        (
            "/stock/receipts",
            receipt("MUG", "berlin", "-1", "EUR"),
            422,
            "invalid-quantity",
        ),
        (
            "/stock/receipts",
            receipt("MUG", "berlin", "0", "EUR"),
            422,
            "invalid-quantity",
        ),
        (
            "/stock/receipts",
            receipt("MUG", "berlin", "1.5", "EUR"),
            422,
            "quantity-scale",
        ),
        (
            "/stock/receipts",
            receipt("TEA", "berlin", "0.0005", "EUR"),
            422,
            "quantity-scale",
        ),
        (
            "/stock/receipts",
            receipt("MUG", "berlin", "1e3", "EUR"),
            422,
            "invalid-quantity",
        ),
        (
            "/stock/receipts",
            receipt("MUG", "berlin", "1000000000", "EUR"),
            422,
            "invalid-quantity",
        ),
        ("/orders", order("O-9", "MUG", "0.5"), 422, "quantity-scale"),
        (
            "/orders",
            order("O-9", "MUG", "-2"),
            422,
            "invalid-quantity",
        ),
        // Stock and order state.
        (
            "/orders",
            order("O-9", "MUG", "7"),
            409,
            "insufficient-stock",
        ),
        ("/orders", order("O-1", "MUG", "1"), 409, "order-exists"),
        (
            "/orders/O-1/shipments",
            ship("MUG", "3"),
            422,
            "over-shipment",
        ),
        (
            "/orders/O-2/shipments",
            ship("MUG", "2"),
            422,
            "over-shipment",
        ),
        ("/orders/O-2/cancel", json!({}), 409, "order-shipped"),
        ("/orders/O-3/cancel", json!({}), 409, "order-cancelled"),
        (
            "/orders/O-3/shipments",
            ship("MUG", "1"),
            409,
            "order-cancelled",
        ),
        (
            "/orders/O-3/payments",
            pay("capture", "1.00", "EUR"),
            409,
            "order-cancelled",
        ),
        (
            "/orders/O-1/payments",
            pay("capture", "19.01", "EUR"),
            409,
            "overpayment",
        ),
        (
            "/orders/O-1/payments",
            pay("refund", "5.01", "EUR"),
            409,
            "refund-exceeds-payments",
        ),
        (
            "/orders/O-1/payments",
            pay("capture", "1.00", "USD"),
            422,
            "wrong-currency",
        ),
        (
            "/orders/O-1/payments",
            pay("steal", "1.00", "EUR"),
            422,
            "invalid-field",
        ),
        (
            "/stock/receipts",
            receipt("MUG", "berlin", "1", "USD"),
            422,
            "wrong-currency",
        ),
        (
            "/stock/transfers",
            json!({"sku": "MUG", "from": {"warehouse": "berlin"}, "to": {"warehouse": "berlin"}, "quantity": "1"}),
            422,
            "invalid-field",
        ),
        (
            "/stock/transfers",
            json!({"sku": "MUG", "from": {"warehouse": "berlin", "location": "X"}, "to": {"warehouse": "berlin"}, "quantity": "1"}),
            409,
            "insufficient-stock",
        ),
        (
            "/stock/adjustments",
            json!({"sku": "MUG", "warehouse": "berlin", "quantity": "-11", "reason": "count"}),
            409,
            "insufficient-stock",
        ),
        (
            "/stock/adjustments",
            json!({"sku": "TEA", "warehouse": "berlin", "quantity": "1", "reason": "count"}),
            409,
            "no-cost-basis",
        ),
        (
            "/stock/adjustments",
            json!({"sku": "MUG", "warehouse": "berlin", "quantity": "1", "reason": " "}),
            422,
            "invalid-field",
        ),
        // Shapes and bounds.
        (
            "/products",
            json!({"sku": "MUG", "name": "again", "warehouses": [{"warehouse": "berlin"}]}),
            409,
            "product-exists",
        ),
        (
            "/products",
            json!({"sku": "BAD SKU", "name": "x", "warehouses": [{"warehouse": "berlin"}]}),
            422,
            "invalid-field",
        ),
        (
            "/products",
            json!({"sku": "NEW", "name": "x", "warehouses": [{"warehouse": "Berlin"}]}),
            422,
            "invalid-field",
        ),
        (
            "/products",
            json!({"sku": "NEW", "name": "x", "warehouses": []}),
            422,
            "invalid-field",
        ),
        (
            "/products",
            json!({"sku": "NEW", "name": "x", "quantity_scale": 7, "warehouses": [{"warehouse": "b"}]}),
            422,
            "invalid-field",
        ),
        (
            "/products",
            json!({"sku": "NEW", "name": "x", "warehouses": [{"warehouse": "b", "reorder_point": "0.5"}]}),
            422,
            "quantity-scale",
        ),
        (
            "/orders",
            json!({"customer": "C", "channel": "phone", "currency": "EUR", "warehouse": "berlin", "lines": [{"sku": "MUG", "quantity": "1", "unit_price": "1.00"}]}),
            422,
            "invalid-field",
        ),
        (
            "/orders",
            json!({"customer": "C", "channel": "online", "currency": "EUR", "warehouse": "berlin", "lines": []}),
            422,
            "invalid-field",
        ),
        (
            "/orders",
            json!({"customer": "C", "channel": "online", "currency": "EUR", "warehouse": "berlin", "lines": [{"sku": "MUG", "quantity": "1", "unit_price": "1.001"}]}),
            422,
            "amount-scale",
        ),
        (
            "/orders",
            json!({"customer": "C", "channel": "online", "currency": "EUR", "warehouse": "berlin", "lines": [
            {"sku": "MUG", "quantity": "1", "unit_price": "1.00"}, {"sku": "MUG", "quantity": "1", "unit_price": "1.00"}]}),
            422,
            "invalid-field",
        ),
        (
            "/orders",
            json!({"customer": "C", "channel": "online", "currency": "EUR", "warehouse": "berlin", "lines": [{"sku": "MUG", "quantity": "1", "unit_price": "1.00"}], "extra": 1}),
            422,
            "invalid-request",
        ),
        (
            "/orders/O-1/shipments",
            json!({"warehouse": "paris", "lines": [{"sku": "MUG", "quantity": "1"}]}),
            422,
            "invalid-field",
        ),
    ];
    let head = app.head_seq("shop").await;
    let before = s.stock("MUG", "berlin").await;
    for (path, body, status, slug) in cases {
        let r = s.post(path, body.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{path} {body}: {}", r.text);
        r.assert_problem(status, slug);
        assert_eq!(app.head_seq("shop").await, head, "{path} {body} appended");
    }
    assert_eq!(s.stock("MUG", "berlin").await, before);
    assert!(app.verify("shop").await.ok());
}

/// Readers may not operate; a key of another ledger may not see this one's stock.
#[tokio::test]
async fn operations_need_a_writer_of_the_ledger() {
    let app = spawn_app().await;
    let s = shop(&app, "shop").await;
    s.product("MUG", 0, &[("berlin", "0", "0")]).await;
    let reader = app.key("shop", "reader").await;
    let r = app
        .post(
            &reader,
            &s.path("/stock/receipts"),
            &json!({"sku": "MUG", "warehouse": "berlin", "quantity": "1", "unit_cost": "1.00", "currency": "EUR"}),
        )
        .await;
    r.assert_problem(403, "forbidden");
    assert_eq!(app.get(&reader, &s.path("/inventory")).await.status, 200);
    let other = app.ledger("other").await;
    assert_eq!(app.get(&other, &s.path("/inventory")).await.status, 403);
    let r = app.get("", &s.path("/reports/sales/products")).await;
    r.assert_problem(401, "unauthenticated");
}
