//! The HTTP layer: the only place that knows actix-web. Handlers read like a script:
//! parse → authorise → submit to the writer (or read) → respond.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod body;
pub mod currencies;
pub mod dto;
pub mod entries;
pub mod health;
pub mod ledgers;
pub mod observe;
pub mod openapi;
pub mod operations;
pub mod problem;
pub mod proofs;
pub mod render;
pub mod reporting;
pub mod reports;

use actix_web::web;

use crate::store::writer::Writers;
use crate::store::Pool;

pub use problem::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub writers: Writers,
    pub keys: auth::KeyCache,
    pub currencies: currencies::CurrencyCache,
    /// Signs checkpoints; its public half is published at `/v1/keys/checkpoint`.
    pub checkpoint_key: std::sync::Arc<ed25519_dalek::SigningKey>,
}

/// Registers every route. Body size is bounded for every endpoint (`BODY_BYTES_MAX`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(body::payload_config())
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/openapi.json", web::get().to(openapi::document))
        .service(
            // Routes are tried in order, each pattern with parameters through a regular
            // expression: posting entries, the bulk of the traffic, is tried first.
            web::scope("/v1")
                .route(
                    "/ledgers/{ledger}/transactions",
                    web::post().to(entries::post),
                )
                .route(
                    "/ledgers/{ledger}/transactions/batch",
                    web::post().to(entries::batch),
                )
                .route("/keys/checkpoint", web::get().to(proofs::public_key))
                .route("/ledgers", web::post().to(ledgers::create))
                .route("/ledgers/{ledger}", web::get().to(ledgers::get))
                .route(
                    "/ledgers/{ledger}/keys",
                    web::post().to(ledgers::create_key),
                )
                .route("/ledgers/{ledger}/accounts", web::post().to(accounts::open))
                .route("/ledgers/{ledger}/accounts", web::get().to(accounts::list))
                .route(
                    "/ledgers/{ledger}/accounts/{code}",
                    web::get().to(accounts::one),
                )
                .route(
                    "/ledgers/{ledger}/accounts/{code}/close",
                    web::post().to(accounts::close),
                )
                .route(
                    "/ledgers/{ledger}/balances",
                    web::get().to(accounts::balances),
                )
                .route(
                    "/ledgers/{ledger}/transactions/{id}/reverse",
                    web::post().to(entries::reverse),
                )
                .route(
                    "/ledgers/{ledger}/products",
                    web::post().to(operations::register_product),
                )
                .route(
                    "/ledgers/{ledger}/stock/receipts",
                    web::post().to(operations::receive),
                )
                .route(
                    "/ledgers/{ledger}/stock/transfers",
                    web::post().to(operations::transfer),
                )
                .route(
                    "/ledgers/{ledger}/stock/adjustments",
                    web::post().to(operations::adjust),
                )
                .route(
                    "/ledgers/{ledger}/orders",
                    web::post().to(operations::place_order),
                )
                .route(
                    "/ledgers/{ledger}/orders/{id}",
                    web::get().to(reports::order),
                )
                .route(
                    "/ledgers/{ledger}/orders/{id}/payments",
                    web::post().to(operations::pay),
                )
                .route(
                    "/ledgers/{ledger}/orders/{id}/shipments",
                    web::post().to(operations::ship),
                )
                .route(
                    "/ledgers/{ledger}/orders/{id}/cancel",
                    web::post().to(operations::cancel),
                )
                .route(
                    "/ledgers/{ledger}/inventory",
                    web::get().to(reports::inventory),
                )
                .route(
                    "/ledgers/{ledger}/inventory/alerts",
                    web::get().to(reports::alerts),
                )
                .route(
                    "/ledgers/{ledger}/reports/sales/products",
                    web::get().to(reports::sales_by_product),
                )
                .route(
                    "/ledgers/{ledger}/reports/sales/customers",
                    web::get().to(reports::sales_by_customer),
                )
                .route(
                    "/ledgers/{ledger}/currencies",
                    web::post().to(currencies::register),
                )
                .route(
                    "/ledgers/{ledger}/currencies",
                    web::get().to(currencies::list),
                )
                .route(
                    "/ledgers/{ledger}/rates",
                    web::post().to(reporting::publish_rates),
                )
                .route(
                    "/ledgers/{ledger}/reports/trial-balance",
                    web::get().to(reporting::trial_balance),
                )
                .route(
                    "/ledgers/{ledger}/reports/balance-sheet",
                    web::get().to(reporting::balance_sheet),
                )
                .route(
                    "/ledgers/{ledger}/reports/income-statement",
                    web::get().to(reporting::income_statement),
                )
                .route("/ledgers/{ledger}/events", web::get().to(audit::events))
                .route("/ledgers/{ledger}/export", web::get().to(audit::export))
                .route("/ledgers/{ledger}/chain/head", web::get().to(audit::head))
                .route(
                    "/ledgers/{ledger}/checkpoints",
                    web::post().to(proofs::sign),
                )
                .route("/ledgers/{ledger}/checkpoints", web::get().to(proofs::list))
                .route(
                    "/ledgers/{ledger}/proofs/inclusion",
                    web::get().to(proofs::inclusion),
                )
                .route(
                    "/ledgers/{ledger}/proofs/consistency",
                    web::get().to(proofs::consistency),
                ),
        )
        .default_service(web::to(not_found));
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such route".into()))
}
