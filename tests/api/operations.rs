use crate::helpers::{reply, spawn_app};

#[tokio::test]
async fn health_readiness_and_the_openapi_document_answer_without_a_key() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let r = reply(app.http.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
    let doc = reply(app.http.get(app.url("/openapi.json")).send().await.unwrap()).await;
    assert_eq!(doc.status, 200);
    let paths = doc.body["paths"].as_object().unwrap();
    // Every route the service registers is described.
    for path in [
        "/v1/ledgers",
        "/v1/ledgers/{ledger}",
        "/v1/ledgers/{ledger}/keys",
        "/v1/ledgers/{ledger}/accounts",
        "/v1/ledgers/{ledger}/accounts/{code}",
        "/v1/ledgers/{ledger}/accounts/{code}/close",
        "/v1/ledgers/{ledger}/balances",
        "/v1/ledgers/{ledger}/transactions",
        "/v1/ledgers/{ledger}/transactions/batch",
        "/v1/ledgers/{ledger}/transactions/{id}/reverse",
        "/v1/ledgers/{ledger}/events",
        "/v1/ledgers/{ledger}/export",
        "/v1/ledgers/{ledger}/chain/head",
        "/healthz",
        "/readyz",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} is missing from /openapi.json"
        );
    }
    assert!(doc.body["components"]["schemas"]["PostTransaction"].is_object());
}

/// `/metrics` speaks Prometheus: requests by route pattern and status, the writer's
/// commits and queue, each ledger's head seq and checkpoint age. (The registry is one
/// per process, so this test uses a ledger name no other test does.)
#[tokio::test]
async fn metrics_are_exposed_for_prometheus() {
    let app = crate::helpers::spawn_app().await;
    let key = crate::helpers::funded_ledger(&app, "metered", "10.00").await;
    app.transfer(
        &key,
        "metered",
        "assets:cash",
        "expenses:supplies",
        "EUR",
        "1.00",
    )
    .await;
    app.post(
        &app.admin,
        "/v1/ledgers/metered/checkpoints",
        &serde_json::json!({}),
    )
    .await;
    let r = app.get("", "/metrics").await;
    assert_eq!(r.status, 200);
    assert!(
        r.content_type.starts_with("text/plain"),
        "{}",
        r.content_type
    );
    let head = app.head_seq("metered").await;
    for expected in [
        r#"chainbook_http_requests_total{route="/v1/ledgers/{ledger}/transactions",status="201"}"#
            .to_owned(),
        format!(r#"chainbook_chain_head_seq{{ledger="metered"}} {head}"#),
        r#"chainbook_writer_commit_seconds_count{ledger="metered"}"#.to_owned(),
        r#"chainbook_writer_batch_commands_bucket{ledger="metered""#.to_owned(),
        r#"chainbook_writer_queue_depth{ledger="metered"}"#.to_owned(),
        r#"chainbook_checkpoint_age_seconds{ledger="metered"}"#.to_owned(),
    ] {
        assert!(
            r.text.contains(&expected),
            "missing {expected} in\n{}",
            r.text
        );
    }
}
