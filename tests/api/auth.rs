use serde_json::json;

use crate::helpers::{entry, funded_ledger, reply, spawn_app};

#[tokio::test]
async fn requests_without_a_valid_key_are_unauthenticated() {
    let app = spawn_app().await;
    funded_ledger(&app, "acme", "1.00").await;
    let none = reply(
        app.http
            .get(app.url("/v1/ledgers/acme/balances"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    none.assert_problem(401, "unauthenticated");
    assert_eq!(none.headers.get("www-authenticate").unwrap(), "Bearer");
    app.get("nonsense", "/v1/ledgers/acme/balances")
        .await
        .assert_problem(401, "unauthenticated");
    // A real key id with a wrong secret.
    let wrong = format!("{}{}", &app.admin[..20], "0".repeat(app.admin.len() - 20));
    app.get(&wrong, "/v1/ledgers/acme/balances")
        .await
        .assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn roles_limit_what_a_key_may_do() {
    let app = spawn_app().await;
    let writer = funded_ledger(&app, "acme", "100.00").await;
    let reader = app.key("acme", "reader").await;
    let auditor = app.key("acme", "auditor").await;
    let body = entry(&[
        ("expenses:supplies", "EUR", "debit", "1.00"),
        ("assets:cash", "EUR", "credit", "1.00"),
    ]);
    let head = app.head_seq("acme").await;

    app.post(&reader, "/v1/ledgers/acme/transactions", &body)
        .await
        .assert_problem(403, "forbidden");
    app.post(&auditor, "/v1/ledgers/acme/transactions", &body)
        .await
        .assert_problem(403, "forbidden");
    assert_eq!(
        app.get(&reader, "/v1/ledgers/acme/balances").await.status,
        200
    );
    app.get(&reader, "/v1/ledgers/acme/export")
        .await
        .assert_problem(403, "forbidden");
    let export = app
        .http
        .get(app.url("/v1/ledgers/acme/export"))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    // Only instance-wide admins create ledgers; only admins create keys.
    let ledger = json!({"id": "other", "name": "x", "base_currency": "EUR"});
    app.post(&writer, "/v1/ledgers", &ledger)
        .await
        .assert_problem(403, "forbidden");
    app.post(&writer, "/v1/ledgers/acme/keys", &json!({"role": "admin"}))
        .await
        .assert_problem(403, "forbidden");
    assert_eq!(app.head_seq("acme").await, head);
}

#[tokio::test]
async fn a_key_of_one_ledger_cannot_touch_another() {
    let app = spawn_app().await;
    let key_a = funded_ledger(&app, "ledger-a", "100.00").await;
    funded_ledger(&app, "ledger-b", "100.00").await;
    let admin_a = app.key("ledger-a", "admin").await;
    app.get(&key_a, "/v1/ledgers/ledger-b/balances")
        .await
        .assert_problem(403, "forbidden");
    app.get(&admin_a, "/v1/ledgers/ledger-b/accounts")
        .await
        .assert_problem(403, "forbidden");
    let body = entry(&[
        ("expenses:supplies", "EUR", "debit", "1.00"),
        ("assets:cash", "EUR", "credit", "1.00"),
    ]);
    app.post(&key_a, "/v1/ledgers/ledger-b/transactions", &body)
        .await
        .assert_problem(403, "forbidden");
    app.post(
        &admin_a,
        "/v1/ledgers/ledger-b/keys",
        &json!({"role": "writer"}),
    )
    .await
    .assert_problem(403, "forbidden");
    assert_eq!(
        app.balance("ledger-b", "assets:cash", "EUR").await,
        "100.00"
    );
}
