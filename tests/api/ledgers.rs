use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_new_ledger_starts_its_chain_with_ledger_created() {
    let app = spawn_app().await;
    let r = app
        .post(
            &app.admin,
            "/v1/ledgers",
            &json!({"id": "acme", "name": "Acme Ltd", "base_currency": "EUR"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["seq"], 1);
    assert_eq!(r.body["type"], "ledger.created");
    assert_eq!(r.body["prev_hash"], "0".repeat(64));
    assert_eq!(
        r.body["data"],
        json!({"name": "Acme Ltd", "base_currency": "EUR"})
    );
    assert_eq!(r.body["postings"], json!([]));

    let got = app.get(&app.admin, "/v1/ledgers/acme").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["head"]["seq"], 1);
    assert_eq!(got.body["head"]["hash"], r.body["hash"]);
}

#[tokio::test]
async fn a_ledger_id_is_taken_once() {
    let app = spawn_app().await;
    let body = json!({"id": "acme", "name": "Acme", "base_currency": "EUR"});
    assert_eq!(app.post(&app.admin, "/v1/ledgers", &body).await.status, 201);
    app.post(&app.admin, "/v1/ledgers", &body)
        .await
        .assert_problem(409, "ledger-exists");
    assert_eq!(app.head_seq("acme").await, 1);
}

#[tokio::test]
async fn bad_ledger_requests_are_refused() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"id": "Acme", "name": "x", "base_currency": "EUR"}),
            422,
            "invalid-ledger-id",
        ),
        (
            json!({"id": "a".repeat(65), "name": "x", "base_currency": "EUR"}),
            422,
            "invalid-ledger-id",
        ),
        (
            json!({"id": "acme", "name": "x", "base_currency": "EURO"}),
            422,
            "unknown-currency",
        ),
        (
            json!({"id": "acme", "name": "x", "base_currency": "eur"}),
            422,
            "invalid-currency",
        ),
        (
            json!({"id": "acme", "name": "x".repeat(1001), "base_currency": "EUR"}),
            422,
            "too-long",
        ),
        (json!({"id": "acme", "name": "x"}), 422, "invalid-request"),
        (
            json!({"id": "acme", "name": "x", "base_currency": "EUR", "extra": 1}),
            422,
            "invalid-request",
        ),
    ];
    for (body, status, slug) in cases {
        app.post(&app.admin, "/v1/ledgers", &body)
            .await
            .assert_problem(status, slug);
    }
    app.get(&app.admin, "/v1/ledgers/acme")
        .await
        .assert_problem(404, "ledger-not-found");
    app.get(&app.admin, "/v1/ledgers/acme/chain/head")
        .await
        .assert_problem(404, "ledger-not-found");
    app.get(&app.admin, "/v1/nothing/here")
        .await
        .assert_problem(404, "not-found");
}
