//! Custom assets: registered per ledger by a `currency.registered` event, then usable
//! wherever an ISO 4217 code is. Request bodies are parsed against the ledger's
//! currencies, which this layer caches: a registration is never changed, so a cached
//! one is never wrong, and an unknown code is looked up once more before refusing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::core::currency::{Currency, CurrencyBook, CurrencyCode};
use crate::core::decide::Command;
use crate::core::ledger::LedgerId;
use crate::core::CoreError;
use crate::store::reporting as store;

use super::accounts::read_request;
use super::entries::{submit_one, write_request};
use super::{body, ApiError, AppState};

#[derive(Clone, Default)]
pub struct CurrencyCache {
    books: Arc<Mutex<HashMap<LedgerId, CurrencyBook>>>,
}

/// The ledger's currencies, enough to parse `codes`: from the cache when it knows
/// every custom one among them, else from the store.
pub(super) async fn book_for<'a>(
    state: &AppState,
    ledger: &LedgerId,
    codes: impl IntoIterator<Item = &'a str>,
) -> Result<CurrencyBook, ApiError> {
    let custom: Vec<CurrencyCode> = codes
        .into_iter()
        .filter_map(|c| CurrencyCode::parse(c).ok())
        .filter(|c| Currency::iso(c).is_err())
        .collect();
    if custom.is_empty() {
        return Ok(CurrencyBook::default());
    }
    {
        let books = state.currencies.books.lock().expect("currency cache lock");
        if let Some(book) = books.get(ledger) {
            if custom.iter().all(|c| book.custom(c).is_some()) {
                return Ok(book.clone());
            }
        }
    }
    let book = store::currencies(&state.pool, ledger).await?;
    state
        .currencies
        .books
        .lock()
        .expect("currency cache lock")
        .insert(ledger.clone(), book.clone());
    Ok(book)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterCurrency {
    /// 3 to 12 of `A-Z0-9`, starting with a letter, not an ISO 4217 code.
    pub code: String,
    /// Decimals its amounts carry, 0 to 12 (`BTC`: 8).
    pub scale: u32,
}

#[utoipa::path(post, path = "/v1/ledgers/{ledger}/currencies", tag = "reports", params(("ledger" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = RegisterCurrency, responses((status = 201, description = "The currency.registered event"), (status = 409, description = "The code is ISO 4217 or registered", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn register(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (ledger, body, idempotency) = write_request(&state, &request, &path, payload).await?;
    let r: RegisterCurrency = body::parse(&body)?;
    let code = CurrencyCode::parse(&r.code)?;
    if r.scale > crate::core::limits::CURRENCY_SCALE_MAX {
        return Err(CoreError::InvalidField {
            field: "scale",
            reason: format!("at most {}", crate::core::limits::CURRENCY_SCALE_MAX),
        }
        .into());
    }
    let command = Command::RegisterCurrency {
        code,
        scale: r.scale,
    };
    submit_one(&state, &ledger, command, idempotency).await
}

#[utoipa::path(get, path = "/v1/ledgers/{ledger}/currencies", tag = "reports", params(("ledger" = String, Path)), responses((status = 200, description = "The ledger's custom assets (ISO 4217 is built in)")), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let ledger = read_request(&state, &request, &path).await?;
    let book = store::currencies(&state.pool, &ledger).await?;
    let list: Vec<_> = book
        .iter()
        .map(|(code, scale)| json!({"code": code.as_str(), "scale": scale}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"ledger": ledger.as_str(), "currencies": list})))
}
