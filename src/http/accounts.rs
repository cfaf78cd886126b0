//! Accounts and balances.

use actix_web::{web, HttpRequest, HttpResponse};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::core::account::AccountType;
use crate::core::currency::{Currency, CurrencyCode};
use crate::core::decide::Command;
use crate::core::ledger::LedgerId;
use crate::core::role::Action;
use crate::store::accounts::{self, AccountRow, BalanceRow};
use crate::store::events::Head;

use super::dto::OpenAccount;
use super::entries::{authorized, submit_one, write_request};
use super::ledgers::not_found;
use super::{body, ApiError, AppState};

/// Accounts per page of the list.
const ACCOUNTS_PAGE_MAX: i64 = 1_000;

#[utoipa::path(post, path = "/v1/ledgers/{ledger}/accounts", tag = "accounts", params(("ledger" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = OpenAccount, responses((status = 201, description = "The account.opened event"), (status = 409, description = "Account exists", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn open(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (ledger, body, idempotency) = write_request(&state, &request, &path, payload).await?;
    let open: OpenAccount = body::parse(&body)?;
    let book = super::currencies::book_for(&state, &ledger, open.currency.as_deref()).await?;
    let command = open.into_command(&book)?;
    submit_one(&state, &ledger, command, idempotency).await
}

#[utoipa::path(post, path = "/v1/ledgers/{ledger}/accounts/{code}/close", tag = "accounts", params(("ledger" = String, Path), ("code" = String, Path), ("Idempotency-Key" = Option<String>, Header)), responses((status = 201, description = "The account.closed event"), (status = 409, description = "Account not empty", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn close(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (ledger, code) = path.into_inner();
    let (ledger, _, idempotency) = write_request(&state, &request, &ledger, payload).await?;
    let code = crate::core::account::AccountCode::parse(&code)?;
    submit_one(&state, &ledger, Command::CloseAccount { code }, idempotency).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Accounts after this code (for paging).
    #[serde(default)]
    after: String,
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    100
}

#[utoipa::path(get, path = "/v1/ledgers/{ledger}/accounts", tag = "accounts", params(("ledger" = String, Path), ("after" = Option<String>, Query), ("limit" = Option<i64>, Query)), responses((status = 200, description = "Accounts with balances, at a named seq and hash")), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let ledger = read_request(&state, &request, &path).await?;
    if !(1..=ACCOUNTS_PAGE_MAX).contains(&query.limit) {
        return Err(ApiError::InvalidRequest(format!(
            "limit must be 1 to {ACCOUNTS_PAGE_MAX}"
        )));
    }
    let read = accounts::list(&state.pool, &ledger, None, &query.after, query.limit).await?;
    let head = read.head.ok_or_else(|| not_found(&ledger))?;
    let list: Vec<Value> = read.rows.iter().map(account_json).collect();
    Ok(HttpResponse::Ok().json(
        json!({"ledger": ledger.as_str(), "seq": head.seq, "hash": head.hash, "accounts": list}),
    ))
}

#[utoipa::path(get, path = "/v1/ledgers/{ledger}/accounts/{code}", tag = "accounts", params(("ledger" = String, Path), ("code" = String, Path)), responses((status = 200, description = "The account with its balances"), (status = 404, description = "No such account", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn one(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ledger, code) = path.into_inner();
    let ledger = read_request(&state, &request, &ledger).await?;
    // A code that could never be opened names no account.
    let no_account = || ApiError::NotFound(format!("no account {code:?}"));
    crate::core::account::AccountCode::parse(&code).map_err(|_| no_account())?;
    let read = accounts::list(&state.pool, &ledger, Some(&code), "", 1).await?;
    let head = read.head.ok_or_else(|| not_found(&ledger))?;
    let account = read.rows.first().ok_or_else(no_account)?;
    let mut body = account_json(account);
    body["seq"] = head.seq.into();
    body["hash"] = head.hash.into();
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(get, path = "/v1/ledgers/{ledger}/balances", tag = "accounts", params(("ledger" = String, Path), ("as_of" = Option<String>, Query, description = "balances of entries effective on or before this day"), ("as_of_seq" = Option<u64>, Query, description = "balances after this event")), responses((status = 200, description = "Every balance per account and currency, at a named seq and hash")), security(("bearer" = [])))]
pub async fn balances(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<super::reporting::BalancesQuery>,
) -> Result<HttpResponse, ApiError> {
    let ledger = read_request(&state, &request, &path).await?;
    if let Some(response) = super::reporting::balances_at(&state, &ledger, &query).await? {
        return Ok(response);
    }
    let read = accounts::balances(&state.pool, &ledger).await?;
    let Head { seq, hash } = read.head.ok_or_else(|| not_found(&ledger))?;
    let list: Vec<Value> = read
        .rows
        .iter()
        .map(|b| {
            let mut v = balance_json(b);
            v["account"] = b.account.clone().into();
            v
        })
        .collect();
    Ok(HttpResponse::Ok()
        .json(json!({"ledger": ledger.as_str(), "seq": seq, "hash": hash, "balances": list})))
}

pub(super) async fn read_request(
    state: &AppState,
    request: &HttpRequest,
    ledger: &str,
) -> Result<LedgerId, ApiError> {
    authorized(state, request, ledger, Action::Read).await
}

fn account_json(a: &AccountRow) -> Value {
    json!({
        "code": a.code,
        "type": a.account_type,
        "currency": a.currency,
        "flags": a.flags,
        "opened_seq": a.opened_seq,
        "closed": a.closed_seq.is_some(),
        "balances": a.balances.iter().map(balance_json).collect::<Vec<_>>(),
    })
}

/// Debits, credits and the balance on the account's normal side, at the currency's
/// scale.
fn balance_json(b: &BalanceRow) -> Value {
    let debit_normal = AccountType::parse(&b.account_type)
        .map(AccountType::is_debit_normal)
        .unwrap_or(true);
    let net = if debit_normal {
        b.debits - b.credits
    } else {
        b.credits - b.debits
    };
    json!({
        "currency": b.currency,
        "debits": amount(b.debits, &b.currency),
        "credits": amount(b.credits, &b.currency),
        "balance": amount(net, &b.currency),
    })
}

/// A stored sum rendered at its currency's scale.
pub(super) fn amount(mut value: Decimal, currency: &str) -> String {
    if value.is_zero() {
        // No "-0.00": a zero is a zero whatever sum produced it.
        value = Decimal::ZERO;
    }
    let scale = CurrencyCode::parse(currency)
        .ok()
        .and_then(|c| Currency::iso(&c).ok())
        .map(|c| c.scale());
    if let Some(scale) = scale {
        value.rescale(scale);
    }
    value.to_string()
}
