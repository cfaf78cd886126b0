//! The log as followers and auditors see it: pages of events (with long-poll), the
//! NDJSON export and the chain head.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::core::limits;
use crate::core::role::Action;
use crate::store::events;

use super::accounts::read_request;
use super::entries::authorized;
use super::ledgers::not_found;
use super::{ApiError, AppState};

/// How often a long-poll looks at the database too, to see other processes' appends.
const FOLLOW_POLL_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Events with a seq greater than this.
    #[serde(default)]
    after: u64,
    #[serde(default = "default_limit")]
    limit: i64,
    /// Seconds to wait for new events when there are none yet (long-poll).
    #[serde(default)]
    wait: u64,
}

fn default_limit() -> i64 {
    100
}

/// `GET …/events?after=&limit=&wait=`: `{events, next_after, head_seq}`.
#[utoipa::path(get, path = "/v1/ledgers/{ledger}/events", tag = "audit", params(("ledger" = String, Path), ("after" = Option<u64>, Query), ("limit" = Option<i64>, Query), ("wait" = Option<u64>, Query, description = "Long-poll seconds")), responses((status = 200, description = "A page of events")), security(("bearer" = [])))]
pub async fn events(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let ledger = read_request(&state, &request, &path).await?;
    if !(1..=limits::EVENTS_PAGE_MAX).contains(&query.limit)
        || query.wait > limits::EVENTS_WAIT_SECONDS_MAX
    {
        let detail = format!(
            "limit must be 1 to {}, wait 0 to {} seconds",
            limits::EVENTS_PAGE_MAX,
            limits::EVENTS_WAIT_SECONDS_MAX
        );
        return Err(ApiError::InvalidRequest(detail));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(query.wait);
    let mut local_head = state.writers.head(&ledger);
    loop {
        let head = events::head(&state.pool, &ledger)
            .await?
            .ok_or_else(|| not_found(&ledger))?;
        let lines = events::page(&state.pool, &ledger, query.after, head.seq, query.limit).await?;
        if !lines.is_empty() || tokio::time::Instant::now() >= deadline {
            let next_after = query.after + lines.len() as u64;
            let body = format!(
                r#"{{"events":[{}],"next_after":{next_after},"head_seq":{}}}"#,
                lines.join(","),
                head.seq
            );
            return Ok(HttpResponse::Ok()
                .content_type("application/json")
                .body(body));
        }
        // Wake on this process's next commit, or poll for other processes' appends.
        let _ = tokio::time::timeout_at(
            deadline.min(tokio::time::Instant::now() + FOLLOW_POLL_INTERVAL),
            local_head.changed(),
        )
        .await;
    }
}

/// `GET …/export`: the whole chain as NDJSON, streamed page by page.
#[utoipa::path(get, path = "/v1/ledgers/{ledger}/export", tag = "audit", params(("ledger" = String, Path)), responses((status = 200, description = "NDJSON, one event per line", content_type = "application/x-ndjson")), security(("bearer" = [])))]
pub async fn export(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let ledger = authorized(&state, &request, &path, Action::Export).await?;
    let head = events::head(&state.pool, &ledger)
        .await?
        .ok_or_else(|| not_found(&ledger))?;
    let stream = events::export(state.pool.clone(), ledger, head.seq);
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .insert_header(("Chainbook-Head-Seq", head.seq.to_string()))
        .insert_header(("Chainbook-Head-Hash", head.hash))
        .streaming(futures_util::TryStreamExt::map_err(stream, ApiError::from)))
}

/// `GET …/chain/head`: the seq and hash of the last event.
#[utoipa::path(get, path = "/v1/ledgers/{ledger}/chain/head", tag = "audit", params(("ledger" = String, Path)), responses((status = 200, description = "Seq and hash of the last event")), security(("bearer" = [])))]
pub async fn head(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let ledger = read_request(&state, &request, &path).await?;
    let head = events::head(&state.pool, &ledger)
        .await?
        .ok_or_else(|| not_found(&ledger))?;
    Ok(HttpResponse::Ok()
        .json(json!({"ledger": ledger.as_str(), "seq": head.seq, "hash": head.hash})))
}
