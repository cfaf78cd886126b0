use serde_json::json;

use crate::helpers::{entry, funded_ledger, spawn_app};

#[tokio::test]
async fn the_same_key_and_body_return_the_original_result_once() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    let body = entry(&[
        ("expenses:supplies", "EUR", "debit", "5.00"),
        ("assets:cash", "EUR", "credit", "5.00"),
    ]);
    let path = "/v1/ledgers/acme/transactions";
    let first = app.post_idem(&key, path, "order-1", &body).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let head = app.head_seq("acme").await;
    let again = app.post_idem(&key, path, "order-1", &body).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.text, first.text, "a retry gets the very same bytes");
    assert_eq!(again.headers.get("Idempotent-Replayed").unwrap(), "true");
    assert_eq!(app.head_seq("acme").await, head);
    assert_eq!(app.balance("acme", "assets:cash", "EUR").await, "95.00");

    // Same key, other body: a conflict, and nothing appended.
    let other = entry(&[
        ("expenses:supplies", "EUR", "debit", "6.00"),
        ("assets:cash", "EUR", "credit", "6.00"),
    ]);
    app.post_idem(&key, path, "order-1", &other)
        .await
        .assert_problem(409, "idempotency-key-reused");
    assert_eq!(app.head_seq("acme").await, head);
}

#[tokio::test]
async fn a_refused_request_is_not_remembered() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "10.00").await;
    let body = entry(&[
        ("expenses:supplies", "EUR", "debit", "15.00"),
        ("assets:cash", "EUR", "credit", "15.00"),
    ]);
    let path = "/v1/ledgers/acme/transactions";
    app.post_idem(&key, path, "k", &body)
        .await
        .assert_problem(409, "overdraft");
    // Funds arrive; the retry with the same key is decided afresh.
    assert_eq!(
        app.transfer(
            &key,
            "acme",
            "equity:capital",
            "assets:cash",
            "EUR",
            "10.00"
        )
        .await
        .status,
        201
    );
    assert_eq!(app.post_idem(&key, path, "k", &body).await.status, 201);
}

/// 20 concurrent retries of one request: exactly one event.
#[tokio::test]
async fn concurrent_retries_of_one_key_post_exactly_once() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    let head = app.head_seq("acme").await;
    let body = entry(&[
        ("expenses:supplies", "EUR", "debit", "1.00"),
        ("assets:cash", "EUR", "credit", "1.00"),
    ]);
    let requests =
        (0..20).map(|_| app.post_idem(&key, "/v1/ledgers/acme/transactions", "retry-me", &body));
    let replies = futures_util::future::join_all(requests).await;
    let ids: std::collections::HashSet<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", r.text);
            r.body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every retry names the same transaction");
    assert_eq!(app.head_seq("acme").await, head + 1);
    assert_eq!(app.balance("acme", "assets:cash", "EUR").await, "99.00");
}

#[tokio::test]
async fn idempotency_keys_are_bounded() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    let body = entry(&[
        ("expenses:supplies", "EUR", "debit", "1.00"),
        ("assets:cash", "EUR", "credit", "1.00"),
    ]);
    let path = "/v1/ledgers/acme/transactions";
    assert_eq!(
        app.post_idem(&key, path, &"k".repeat(200), &body)
            .await
            .status,
        201
    );
    app.post_idem(&key, path, &"k".repeat(201), &body)
        .await
        .assert_problem(422, "invalid-request");
    let _ = json!({});
}
