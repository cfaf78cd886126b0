use serde_json::{json, Value};

use crate::helpers::{entry, funded_ledger, spawn_app};

fn spend(amount: &str) -> Value {
    entry(&[
        ("expenses:supplies", "EUR", "debit", amount),
        ("assets:cash", "EUR", "credit", amount),
    ])
}

#[tokio::test]
async fn an_atomic_batch_appends_all_or_nothing() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "10.00").await;
    let head = app.head_seq("acme").await;
    let path = "/v1/ledgers/acme/transactions/batch";

    // The third entry would overdraw: nothing is appended, and the problem names it.
    let r = app
        .post(
            &key,
            path,
            &json!({"atomic": true, "entries": [spend("4.00"), spend("4.00"), spend("4.00")]}),
        )
        .await;
    r.assert_problem(409, "overdraft");
    assert_eq!(r.body["index"], 2);
    assert_eq!(app.head_seq("acme").await, head);
    assert_eq!(app.balance("acme", "assets:cash", "EUR").await, "10.00");

    // A malformed entry refuses the whole atomic batch too.
    let bad = json!({"entries": [spend("1.00"), spend("0.001")]});
    let r = app.post(&key, path, &bad).await;
    r.assert_problem(422, "amount-scale");
    assert_eq!(r.body["index"], 1);

    let ok = app
        .post(
            &key,
            path,
            &json!({"entries": [spend("4.00"), spend("4.00")]}),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    let results = ok.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[1]["event"]["seq"], head + 2);
    assert_eq!(app.balance("acme", "assets:cash", "EUR").await, "2.00");
    assert!(app.verify("acme").await.ok());
}

#[tokio::test]
async fn a_non_atomic_batch_answers_per_item() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "10.00").await;
    let head = app.head_seq("acme").await;
    let body = json!({"atomic": false, "entries": [spend("4.00"), spend("0.001"), spend("7.00"), spend("6.00")]});
    let r = app
        .post(&key, "/v1/ledgers/acme/transactions/batch", &body)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let statuses: Vec<u64> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, vec![201, 422, 409, 201]);
    assert_eq!(
        r.body["results"][2]["problem"]["type"],
        "urn:chainbook:problem:overdraft"
    );
    assert_eq!(app.head_seq("acme").await, head + 2);
    assert_eq!(app.balance("acme", "assets:cash", "EUR").await, "0.00");
}

#[tokio::test]
async fn a_batch_holds_at_most_one_thousand_entries() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100000.00").await;
    let path = "/v1/ledgers/acme/transactions/batch";
    let head = app.head_seq("acme").await;
    let entries: Vec<Value> = (0..1000).map(|_| spend("0.01")).collect();
    let r = app.post(&key, path, &json!({"entries": entries})).await;
    assert_eq!(r.status, 201, "{}", &r.text[..200.min(r.text.len())]);
    assert_eq!(app.head_seq("acme").await, head + 1000);
    let entries: Vec<Value> = (0..1001).map(|_| spend("0.01")).collect();
    app.post(&key, path, &json!({"entries": entries}))
        .await
        .assert_problem(422, "invalid-request");
    app.post(&key, path, &json!({"entries": []}))
        .await
        .assert_problem(422, "invalid-request");
    assert_eq!(app.head_seq("acme").await, head + 1000);
    assert!(app.verify("acme").await.ok());
}

#[tokio::test]
async fn a_batch_is_idempotent_as_a_whole() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "10.00").await;
    let body = json!({"atomic": false, "entries": [spend("1.00"), spend("0.001")]});
    let path = "/v1/ledgers/acme/transactions/batch";
    let first = app.post_idem(&key, path, "b-1", &body).await;
    assert_eq!(first.status, 200);
    let again = app.post_idem(&key, path, "b-1", &body).await;
    assert_eq!(again.text, first.text);
    assert_eq!(app.balance("acme", "assets:cash", "EUR").await, "9.00");
}
