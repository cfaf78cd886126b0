//! `/openapi.json`, generated from the handlers' annotations and the request types.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::currencies::RegisterCurrency;
use super::dto::{
    CreateKey, CreateLedger, OpenAccount, PostBatch, PostTransaction, PostingBody, Reverse,
};
use super::operations::{
    Cancel, OrderLineRequest, Payment, Place, PlaceOrder, RegisterProduct, Shipment, ShipmentLine,
    StockAdjustment, StockReceipt, StockTransfer, WarehouseRule,
};
use super::reporting::{PublishRates, RateBody};
use super::{
    accounts, audit, currencies, entries, health, ledgers, operations, proofs, reporting, reports,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "chainbook", description = "Hash-chained double-entry ledger. Errors are RFC 9457 problem+json; see docs/errors.md."),
    paths(
        ledgers::create, ledgers::get, ledgers::create_key,
        accounts::open, accounts::close, accounts::list, accounts::one, accounts::balances,
        entries::post, entries::batch, entries::reverse,
        operations::register_product, operations::receive, operations::transfer, operations::adjust,
        operations::place_order, operations::pay, operations::ship, operations::cancel,
        reports::inventory, reports::alerts, reports::order, reports::sales_by_product, reports::sales_by_customer,
        reporting::publish_rates, reporting::trial_balance, reporting::balance_sheet, reporting::income_statement,
        currencies::register, currencies::list,
        proofs::public_key, proofs::sign, proofs::list, proofs::inclusion, proofs::consistency,
        audit::events, audit::export, audit::head,
        health::healthz, health::readyz, health::metrics,
    ),
    components(schemas(CreateLedger, OpenAccount, PostingBody, PostTransaction, PostBatch, Reverse, CreateKey,
        RegisterProduct, WarehouseRule, StockReceipt, StockTransfer, Place, StockAdjustment, PlaceOrder,
        OrderLineRequest, Payment, Shipment, ShipmentLine, Cancel, PublishRates, RateBody, RegisterCurrency)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
