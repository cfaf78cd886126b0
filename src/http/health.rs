//! Liveness and readiness.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::{ApiError, AppState};

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process is up")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The database answers: the service can take writes.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "The database answers"), (status = 503, description = "It does not", content_type = "application/problem+json")))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let client = state
        .pool
        .get()
        .await
        .map_err(crate::store::StoreError::from)?;
    client
        .simple_query("SELECT 1")
        .await
        .map_err(crate::store::StoreError::from)?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
}

/// Prometheus metrics (text format). Checkpoint ages are read from the database now.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    for (ledger, age) in crate::store::checkpoints::ages(&state.pool).await? {
        crate::metrics::METRICS
            .checkpoint_age
            .with_label_values(&[ledger.as_str()])
            .set(age);
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::render()))
}
