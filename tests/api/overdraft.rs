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
