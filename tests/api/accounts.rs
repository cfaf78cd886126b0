use serde_json::json;

use crate::helpers::{funded_ledger, spawn_app};

#[tokio::test]
async fn accounts_are_listed_with_balances_at_a_named_head() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    let list = app.get(&key, "/v1/ledgers/acme/accounts").await;
    assert_eq!(list.status, 200, "{}", list.text);
    let codes: Vec<&str> = list.body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        vec![
            "assets:cash",
            "equity:capital",
            "expenses:supplies",
            "income:sales"
        ]
    );
    assert_eq!(list.body["seq"], 6);
    let cash = &list.body["accounts"][0];
    assert_eq!(cash["flags"], json!(["no_overdraft"]));
    assert_eq!(cash["currency"], "EUR");
    assert_eq!(
        cash["balances"],
        json!([{"currency": "EUR", "debits": "100.00", "credits": "0.00", "balance": "100.00"}])
    );

    let page = app
        .get(
            &key,
            "/v1/ledgers/acme/accounts?after=equity:capital&limit=1",
        )
        .await;
    assert_eq!(page.body["accounts"][0]["code"], "expenses:supplies");
    app.get(&key, "/v1/ledgers/acme/accounts/assets:none")
        .await
        .assert_problem(404, "not-found");
    app.get(&key, "/v1/ledgers/acme/accounts?limit=0")
        .await
        .assert_problem(422, "invalid-request");
}

#[tokio::test]
async fn bad_accounts_are_refused() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    let head = app.head_seq("acme").await;
    let path = "/v1/ledgers/acme/accounts";
    let cases = [
        (
            json!({"code": "assets:cash", "type": "asset"}),
            409,
            "account-exists",
        ),
        (
            json!({"code": "assets::x", "type": "asset"}),
            422,
            "invalid-account-code",
        ),
        (
            json!({"code": "assets:x", "type": "assets"}),
            422,
            "invalid-account-type",
        ),
        (
            json!({"code": "assets:x", "type": "asset", "flags": ["frozen"]}),
            422,
            "invalid-account-flag",
        ),
        (
            json!({"code": "assets:x", "type": "asset", "currency": "ZZZ"}),
            422,
            "unknown-currency",
        ),
    ];
    for (body, status, slug) in cases {
        app.post(&key, path, &body)
            .await
            .assert_problem(status, slug);
    }
    app.post(
        &key,
        "/v1/ledgers/acme/accounts/assets:cash/close",
        &json!({}),
    )
    .await
    .assert_problem(409, "account-not-empty");
    assert_eq!(app.head_seq("acme").await, head);
}
