//! Sales reports: per product and per customer, filtered, sorted, as JSON and CSV,
//! each naming the head it was computed at.

use serde_json::json;

use crate::helpers::spawn_app;
use crate::shop::{shop, Shop};

/// Places, ships and pays in full an order of one line `(sku, quantity, price, total)`.
async fn sale(
    s: &Shop<'_>,
    id: &str,
    customer: &str,
    channel: &str,
    line: (&str, &str, &str, &str),
) {
    let (sku, q, price, total) = line;
    assert_eq!(
        s.order(id, customer, channel, &[(sku, q, price)])
            .await
            .status,
        201
    );
    assert_eq!(s.ship(id, &[(sku, q)]).await.status, 201);
    assert_eq!(s.pay(id, "capture", total).await.status, 201);
}

#[tokio::test]
async fn sales_reports_rank_products_and_customers() {
    let app = spawn_app().await;
    let s = shop(&app, "shop").await;
    for sku in ["MUG", "TEA", "PEN"] {
        s.product(sku, 0, &[("berlin", "0", "0")]).await;
        assert_eq!(
            s.receive(sku, "berlin", None, "100", "1.00").await.status,
            201
        );
    }
    // MUG: 2 orders, 5 units, 50.00. TEA: 1 order, 10 units, 80.00. PEN: 3 orders, 3 units, 6.00.
    sale(&s, "O-1", "ann", "online", ("MUG", "2", "10.00", "20.00")).await;
    sale(&s, "O-2", "bob", "retail", ("MUG", "3", "10.00", "30.00")).await;
    sale(
        &s,
        "O-3",
        "ann",
        "wholesale",
        ("TEA", "10", "8.00", "80.00"),
    )
    .await;
    sale(&s, "O-4", "ann", "online", ("PEN", "1", "2.00", "2.00")).await;
    sale(&s, "O-5", "bob", "online", ("PEN", "1", "2.00", "2.00")).await;
    sale(&s, "O-6", "cyd", "online", ("PEN", "1", "2.00", "2.00")).await;
    // Ordered but not shipped: not a sale yet.
    assert_eq!(
        s.order("O-7", "cyd", "online", &[("TEA", "50", "8.00")])
            .await
            .status,
        201
    );

    let r = s.get("/reports/sales/products").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["products"],
        json!([
            {"sku": "TEA", "currency": "EUR", "amount": "80.00", "sales": 1, "quantity": "10"},
            {"sku": "MUG", "currency": "EUR", "amount": "50.00", "sales": 2, "quantity": "5"},
            {"sku": "PEN", "currency": "EUR", "amount": "6.00", "sales": 3, "quantity": "3"},
        ])
    );
    let head = app.head_seq("shop").await;
    assert_eq!(r.body["seq"], head);
    assert_eq!(r.headers.get("Chainbook-Seq").unwrap(), &head.to_string());
    assert_eq!(
        r.headers.get("Chainbook-Hash").unwrap().to_str().unwrap(),
        r.body["hash"].as_str().unwrap()
    );

    let top = s.get("/reports/sales/products?limit=1").await;
    assert_eq!(top.body["products"].as_array().unwrap().len(), 1);
    assert_eq!(top.body["products"][0]["sku"], "TEA");
    let online = s.get("/reports/sales/products?channel=online").await;
    assert_eq!(online.body["products"][0]["sku"], "MUG");
    assert_eq!(online.body["products"][0]["amount"], "20.00");
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let future = s
        .get(&format!("/reports/sales/products?from={tomorrow}"))
        .await;
    assert_eq!(future.body["products"], json!([]));
    let window = s
        .get(&format!("/reports/sales/products?from={today}&to={today}"))
        .await;
    assert_eq!(window.body["products"].as_array().unwrap().len(), 3);
    s.get("/reports/sales/products?channel=phone")
        .await
        .assert_problem(422, "invalid-field");
    s.get("/reports/sales/products?limit=0")
        .await
        .assert_problem(422, "invalid-request");

    // Completed orders: ann 3 (102.00), bob 2 (32.00), cyd 1 (2.00).
    let r = s.get("/reports/sales/customers?min_orders=1").await;
    assert_eq!(
        r.body["customers"],
        json!([
            {"customer": "ann", "currency": "EUR", "orders": 3, "total_spent": "102.00", "ordered": "102.00"},
            {"customer": "bob", "currency": "EUR", "orders": 2, "total_spent": "32.00", "ordered": "32.00"},
        ]),
        "{}",
        r.text
    );
    let placed = s.get("/reports/sales/customers?status=placed").await;
    assert_eq!(placed.body["customers"][0]["customer"], "cyd");
    assert_eq!(placed.body["customers"][0]["ordered"], "400.00");
    s.get("/reports/sales/customers?status=lost")
        .await
        .assert_problem(422, "invalid-request");

    // A sale in USD, then everything converted into EUR at a rate in the chain:
    // MUG 50.00 EUR + 10.00 USD × 0.5 = 55.00 over 3 orders and 6 units.
    let r = s
        .post(
            "/orders",
            json!({"id": "O-8", "customer": "dan", "channel": "online", "currency": "USD",
                   "warehouse": "berlin", "lines": [{"sku": "MUG", "quantity": "1", "unit_price": "10.00"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(s.ship("O-8", &[("MUG", "1")]).await.status, 201);
    let r = s
        .post(
            "/rates",
            json!({"rates": [{"base": "USD", "quote": "EUR", "rate": "0.5", "effective_date": "2026-01-01"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let converted = s.get("/reports/sales/products?convert_to=EUR").await;
    assert_eq!(
        converted.body["products"],
        json!([
            {"sku": "TEA", "currency": "EUR", "amount": "80.00", "sales": 1, "quantity": "10"},
            {"sku": "MUG", "currency": "EUR", "amount": "55.00", "sales": 3, "quantity": "6"},
            {"sku": "PEN", "currency": "EUR", "amount": "6.00", "sales": 3, "quantity": "3"},
        ]),
        "{}",
        converted.text
    );
    assert_eq!(converted.body["rates"][0]["seqs"], json!([r.body["seq"]]));
    s.get("/reports/sales/products?convert_to=JPY")
        .await
        .assert_problem(422, "missing-rates");
    let head = app.head_seq("shop").await;

    // CSV on request, with the same head in its headers.
    let csv = app
        .http
        .get(app.url(&s.path("/reports/sales/products")))
        .bearer_auth(&s.key)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(csv.headers()["Chainbook-Seq"], head.to_string().as_str());
    assert_eq!(
        csv.text().await.unwrap(),
        "sku,currency,amount,sales,quantity\nTEA,EUR,80.00,1,10\nMUG,EUR,50.00,2,5\nMUG,USD,10.00,1,1\nPEN,EUR,6.00,3,3\n"
    );
}
