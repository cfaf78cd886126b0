use std::time::Duration;

use crate::helpers::{funded_ledger, spawn_app};

#[tokio::test]
async fn the_export_is_the_chain_and_verifies() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    for _ in 0..5 {
        app.transfer(
            &key,
            "acme",
            "assets:cash",
            "expenses:supplies",
            "EUR",
            "1.00",
        )
        .await;
    }
    let export = app.export("acme").await;
    let lines: Vec<serde_json::Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 11);
    for (i, event) in lines.iter().enumerate() {
        assert_eq!(event["seq"], i as u64 + 1);
        assert_eq!(event["ledger"], "acme");
        let recorded_at = event["recorded_at"].as_str().unwrap();
        assert_eq!(
            recorded_at.len(),
            "2026-01-01T00:00:00.000000Z".len(),
            "{recorded_at}"
        );
    }
    let report = app.verify("acme").await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.events, 11);
    let head = app.get(&key, "/v1/ledgers/acme/chain/head").await;
    assert_eq!(report.head_hash.as_deref(), head.body["hash"].as_str());
}

#[tokio::test]
async fn the_feed_pages_through_events() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    let page = app
        .get(&key, "/v1/ledgers/acme/events?after=2&limit=3")
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    let seqs: Vec<u64> = page.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![3, 4, 5]);
    assert_eq!(page.body["next_after"], 5);
    assert_eq!(page.body["head_seq"], 6);
    app.get(&key, "/v1/ledgers/acme/events?limit=1001")
        .await
        .assert_problem(422, "invalid-request");
    app.get(&key, "/v1/ledgers/acme/events?after=-1")
        .await
        .assert_problem(422, "invalid-request");
}

/// A follower waiting on the feed is woken by the next commit.
#[tokio::test]
async fn a_long_poll_returns_when_an_event_is_appended() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    let head = app.head_seq("acme").await;
    let path = format!("/v1/ledgers/acme/events?after={head}&wait=20");
    let follower = app.get(&key, &path);
    let writer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.transfer(
            &key,
            "acme",
            "assets:cash",
            "expenses:supplies",
            "EUR",
            "1.00",
        )
        .await
    };
    let started = std::time::Instant::now();
    let (page, posted) = tokio::join!(follower, writer);
    assert_eq!(posted.status, 201);
    assert_eq!(page.body["events"][0]["seq"], head + 1, "{}", page.text);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the follower waited for the timeout"
    );
}
