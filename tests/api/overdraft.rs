use crate::helpers::{funded_ledger, spawn_app};

/// 50 clients race to move 10.00 each out of a no_overdraft account holding 200.00:
/// exactly 20 win and the balance ends at 0.00.
#[tokio::test]
async fn concurrent_withdrawals_never_overdraw() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "200.00").await;
    let head = app.head_seq("acme").await;
    let requests = (0..50).map(|_| {
        app.transfer(
            &key,
            "acme",
            "assets:cash",
            "expenses:supplies",
            "EUR",
            "10.00",
        )
    });
    let replies = futures_util::future::join_all(requests).await;
    let won = replies.iter().filter(|r| r.status == 201).count();
    for r in replies.iter().filter(|r| r.status != 201) {
        r.assert_problem(409, "overdraft");
    }
    assert_eq!(won, 20);
    assert_eq!(app.balance("acme", "assets:cash", "EUR").await, "0.00");
    assert_eq!(
        app.balance("acme", "expenses:supplies", "EUR").await,
        "200.00"
    );
    assert_eq!(app.head_seq("acme").await, head + 20);
    assert!(app.verify("acme").await.ok());
}

/// Ten non-atomic batches of 150 withdrawals of 1.00 each race for 1,000.00. Batches
/// this large are decided while the one before is still committing (pipelined), so
/// each is decided on a balance not yet committed: still exactly 1,000 succeed, every
/// other one is an overdraft, and the stored balances agree with the log.
#[tokio::test]
async fn pipelined_batches_never_overdraw() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "1000.00").await;
    let head = app.head_seq("acme").await;
    let spend = crate::helpers::entry(&[
        ("expenses:supplies", "EUR", "debit", "1.00"),
        ("assets:cash", "EUR", "credit", "1.00"),
    ]);
    let batch = serde_json::json!({"atomic": false, "entries": vec![spend; 150]});
    let path = "/v1/ledgers/acme/transactions/batch";
    let replies =
        futures_util::future::join_all((0..10).map(|_| app.post(&key, path, &batch))).await;
    let mut won = 0;
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.text);
        for item in r.body["results"].as_array().unwrap() {
            match item["status"].as_u64().unwrap() {
                201 => won += 1,
                409 => assert_eq!(
                    item["problem"]["type"], "urn:chainbook:problem:overdraft",
                    "{item}"
                ),
                other => panic!("item status {other}: {item}"),
            }
        }
    }
    assert_eq!(won, 1000);
    assert_eq!(app.balance("acme", "assets:cash", "EUR").await, "0.00");
    assert_eq!(
        app.balance("acme", "expenses:supplies", "EUR").await,
        "1000.00"
    );
    assert_eq!(app.head_seq("acme").await, head + 1000);
    assert!(app.verify("acme").await.ok());
}
