//! What an auditor checks without the whole log: signed checkpoints, the public key
//! they verify with, and RFC 9162 inclusion and consistency proofs.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::core::checkpoint::public_key_json;
use crate::core::hash::Hash;
use crate::core::ledger::LedgerId;
use crate::core::role::Action;
use crate::store::{checkpoints, events, merkle};

use super::entries::authorized;
use super::ledgers::not_found;
use super::{ApiError, AppState};

const CHECKPOINTS_PAGE_MAX: i64 = 1_000;

/// `GET /v1/keys/checkpoint`: the Ed25519 public key checkpoints verify with. Public.
#[utoipa::path(get, path = "/v1/keys/checkpoint", tag = "audit", responses((status = 200, description = "{algorithm, public_key (hex)}")))]
pub async fn public_key(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(public_key_json(&state.checkpoint_key.verifying_key()))
}

#[utoipa::path(post, path = "/v1/ledgers/{ledger}/checkpoints", tag = "audit", params(("ledger" = String, Path)), responses((status = 201, description = "The checkpoint of the current head (signed now, or earlier if the head was signed already)")), security(("bearer" = [])))]
pub async fn sign(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let ledger = authorized(&state, &request, &path, Action::Export).await?;
    let checkpoint = checkpoints::sign_head(&state.pool, &ledger, &state.checkpoint_key)
        .await?
        .ok_or_else(|| not_found(&ledger))?;
    Ok(HttpResponse::Created().json(checkpoint))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    after: u64,
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    100
}

#[utoipa::path(get, path = "/v1/ledgers/{ledger}/checkpoints", tag = "audit", params(("ledger" = String, Path), ("after" = Option<u64>, Query), ("limit" = Option<i64>, Query)), responses((status = 200, description = "Signed checkpoints, oldest first")), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let ledger = authorized(&state, &request, &path, Action::Read).await?;
    if !(1..=CHECKPOINTS_PAGE_MAX).contains(&query.limit) {
        return Err(ApiError::InvalidRequest(format!(
            "limit must be 1 to {CHECKPOINTS_PAGE_MAX}"
        )));
    }
    let list = checkpoints::list(&state.pool, &ledger, query.after, query.limit).await?;
    Ok(HttpResponse::Ok().json(json!({"ledger": ledger.as_str(), "checkpoints": list})))
}

/// The head, and `size` checked against it (default: the head).
async fn tree_size(
    state: &AppState,
    ledger: &LedgerId,
    size: Option<u64>,
) -> Result<u64, ApiError> {
    let head = events::head(&state.pool, ledger)
        .await?
        .ok_or_else(|| not_found(ledger))?;
    let size = size.unwrap_or(head.seq);
    if size == 0 || size > head.seq {
        return Err(ApiError::InvalidRequest(format!(
            "a tree has 1 to {} events (the head)",
            head.seq
        )));
    }
    Ok(size)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    seq: u64,
    /// Default: the head.
    tree_size: Option<u64>,
}

#[utoipa::path(get, path = "/v1/ledgers/{ledger}/proofs/inclusion", tag = "audit", params(("ledger" = String, Path), ("seq" = u64, Query), ("tree_size" = Option<u64>, Query)), responses((status = 200, description = "RFC 9162 audit path of the event in the tree of tree_size events")), security(("bearer" = [])))]
pub async fn inclusion(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<InclusionQuery>,
) -> Result<HttpResponse, ApiError> {
    let ledger = authorized(&state, &request, &path, Action::Export).await?;
    let size = tree_size(&state, &ledger, query.tree_size).await?;
    if query.seq == 0 || query.seq > size {
        return Err(ApiError::InvalidRequest(format!(
            "seq must be 1 to the tree size, {size}"
        )));
    }
    let client = state
        .pool
        .get()
        .await
        .map_err(crate::store::StoreError::from)?;
    let event = events::by_seq(&**client, &ledger, query.seq).await?;
    let path = merkle::inclusion(&**client, &ledger, query.seq, size).await?;
    let root = merkle::root(&**client, &ledger, size).await?;
    Ok(HttpResponse::Ok().json(json!({
        "ledger": ledger.as_str(),
        "seq": query.seq,
        "tree_size": size,
        "leaf_index": query.seq - 1,
        "leaf_hash": event,
        "audit_path": path.iter().map(Hash::to_hex).collect::<Vec<_>>(),
        "root": root.to_hex(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    from: u64,
    /// Default: the head.
    to: Option<u64>,
}

#[utoipa::path(get, path = "/v1/ledgers/{ledger}/proofs/consistency", tag = "audit", params(("ledger" = String, Path), ("from" = u64, Query), ("to" = Option<u64>, Query)), responses((status = 200, description = "RFC 9162 consistency proof that the tree of `to` events extends the tree of `from`")), security(("bearer" = [])))]
pub async fn consistency(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ConsistencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let ledger = authorized(&state, &request, &path, Action::Export).await?;
    let to = tree_size(&state, &ledger, query.to).await?;
    if query.from == 0 || query.from > to {
        return Err(ApiError::InvalidRequest(format!("from must be 1 to {to}")));
    }
    let client = state
        .pool
        .get()
        .await
        .map_err(crate::store::StoreError::from)?;
    let proof = merkle::consistency(&**client, &ledger, query.from, to).await?;
    let from_root = merkle::root(&**client, &ledger, query.from).await?;
    let to_root = merkle::root(&**client, &ledger, to).await?;
    Ok(HttpResponse::Ok().json(json!({
        "ledger": ledger.as_str(),
        "from": query.from,
        "to": to,
        "consistency_path": proof.iter().map(Hash::to_hex).collect::<Vec<_>>(),
        "from_root": from_root.to_hex(),
        "to_root": to_root.to_hex(),
    })))
}
