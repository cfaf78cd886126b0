//! Ledgers and their API keys.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::core::ledger::LedgerId;
use crate::core::role::{Action, Role};
use crate::store::{events, keys, ledgers};

use super::dto::{CreateKey, CreateLedger};
use super::entries::{authorized, submit};
use super::{body, render, ApiError, AppState};

/// `POST /v1/ledgers`: appends `ledger.created`, seq 1 of the new ledger's chain.
#[utoipa::path(post, path = "/v1/ledgers", tag = "ledgers", request_body = CreateLedger, responses((status = 201, description = "The ledger.created event"), (status = 409, description = "Ledger exists", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let principal = state.keys.authenticate(&state.pool, &request).await?;
    principal.authorize_instance(Action::CreateLedger)?;
    let body = body::read(payload).await?;
    let (ledger, command) = body::parse::<CreateLedger>(&body)?.into_command()?;
    submit(&state, &ledger, vec![command], true, None, render::single()).await
}

#[utoipa::path(get, path = "/v1/ledgers/{ledger}", tag = "ledgers", params(("ledger" = String, Path)), responses((status = 200, description = "The ledger and its chain head"), (status = 404, description = "No such ledger", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let ledger = authorized(&state, &request, &path, Action::Read).await?;
    let row = ledgers::get(&state.pool, &ledger)
        .await?
        .ok_or_else(|| not_found(&ledger))?;
    let head = events::head(&state.pool, &ledger).await?;
    Ok(HttpResponse::Ok().json(json!({
        "id": row.id,
        "name": row.name,
        "base_currency": row.base_currency,
        "created_at": crate::core::event::format_timestamp(row.created_at),
        "head": head.map(|h| json!({"seq": h.seq, "hash": h.hash})),
    })))
}

/// `POST /v1/ledgers/{ledger}/keys`: a new key for this ledger, shown once.
#[utoipa::path(post, path = "/v1/ledgers/{ledger}/keys", tag = "keys", params(("ledger" = String, Path)), request_body = CreateKey, responses((status = 201, description = "The new key, shown once")), security(("bearer" = [])))]
pub async fn create_key(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let ledger = authorized(&state, &request, &path, Action::ManageKeys).await?;
    let body = body::read(payload).await?;
    let role = Role::parse(&body::parse::<CreateKey>(&body)?.role)?;
    ledgers::get(&state.pool, &ledger)
        .await?
        .ok_or_else(|| not_found(&ledger))?;
    let client = state
        .pool
        .get()
        .await
        .map_err(crate::store::StoreError::from)?;
    let token = keys::create(&**client, Some(&ledger), role).await?;
    Ok(HttpResponse::Created()
        .json(json!({"ledger": ledger.as_str(), "role": role.as_str(), "key": token})))
}

pub(super) fn not_found(ledger: &LedgerId) -> ApiError {
    crate::core::CoreError::LedgerNotFound(ledger.to_string()).into()
}
