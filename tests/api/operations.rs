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
