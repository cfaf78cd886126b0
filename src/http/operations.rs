//! Commerce operations: products, stock movements, orders, payments, shipments and
//! cancellations. Each request becomes one command for the ledger's writer, so an
//! operation and the entries it posts are one event, one commit.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::core::commerce::event::ReorderRule;
use crate::core::commerce::ids::{parse_level, parse_quantity};
use crate::core::commerce::{
    Channel, CommerceCommand, CustomerId, Location, OrderId, Sku, WarehouseId,
};
use crate::core::currency::{Currency, CurrencyCode};
use crate::core::decide::Command;
use crate::core::entry::check_text;
use crate::core::money::Amount;
use crate::core::{limits, CoreError};

use super::entries::{submit_one, write_request};
use super::{body, ApiError, AppState};

fn currency(code: &str) -> Result<Currency, CoreError> {
    Currency::iso(&CurrencyCode::parse(code)?)
}

fn location(l: Option<&str>) -> Result<Option<Location>, CoreError> {
    l.map(Location::parse).transpose()
}

fn lines_bound(field: &'static str, n: usize) -> Result<(), CoreError> {
    if n == 0 || n > limits::ORDER_LINES_MAX {
        return Err(CoreError::InvalidField {
            field,
            reason: format!("give 1 to {} lines", limits::ORDER_LINES_MAX),
        });
    }
    Ok(())
}

fn each_sku_once<'a>(skus: impl Iterator<Item = &'a Sku>) -> Result<(), CoreError> {
    let mut seen = std::collections::HashSet::new();
    for sku in skus {
        if !seen.insert(sku) {
            return Err(CoreError::InvalidField {
                field: "lines",
                reason: format!("{sku} appears twice; give each SKU once"),
            });
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarehouseRule {
    pub warehouse: String,
    /// Reorder when available stock falls to this level (default `"0"`).
    #[serde(default)]
    pub reorder_point: Option<String>,
    /// How much a reorder suggests; `"0"` (the default) never requests one.
    #[serde(default)]
    pub reorder_quantity: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterProduct {
    pub sku: String,
    pub name: String,
    /// The unit stock is counted in (default `each`).
    #[serde(default)]
    pub unit: Option<String>,
    /// Decimals a quantity may have: 0 (the default) for whole units, up to 6.
    #[serde(default)]
    pub quantity_scale: u32,
    /// The warehouses that stock it, with their reorder rule.
    pub warehouses: Vec<WarehouseRule>,
}

impl RegisterProduct {
    fn into_command(self) -> Result<CommerceCommand, CoreError> {
        let sku = Sku::parse(&self.sku)?;
        check_text("name", &self.name, limits::TEXT_BYTES_MAX)?;
        let unit = self.unit.unwrap_or_else(|| "each".into());
        check_text("unit", &unit, limits::UNIT_BYTES_MAX)?;
        if self.quantity_scale > limits::QUANTITY_SCALE_MAX {
            return Err(CoreError::InvalidField {
                field: "quantity_scale",
                reason: format!("at most {}", limits::QUANTITY_SCALE_MAX),
            });
        }
        if self.warehouses.is_empty() || self.warehouses.len() > limits::PRODUCT_WAREHOUSES_MAX {
            return Err(CoreError::InvalidField {
                field: "warehouses",
                reason: format!("give 1 to {} warehouses", limits::PRODUCT_WAREHOUSES_MAX),
            });
        }
        let mut warehouses: Vec<ReorderRule> = Vec::with_capacity(self.warehouses.len());
        for w in self.warehouses {
            let warehouse = WarehouseId::parse(&w.warehouse)?;
            if warehouses.iter().any(|r| r.warehouse == warehouse) {
                return Err(CoreError::InvalidField {
                    field: "warehouses",
                    reason: format!("{warehouse} appears twice"),
                });
            }
            let level =
                |field, v: Option<String>| parse_level(field, v.as_deref().unwrap_or("0"), false);
            warehouses.push(ReorderRule {
                warehouse,
                point: level("reorder_point", w.reorder_point)?,
                quantity: level("reorder_quantity", w.reorder_quantity)?,
            });
        }
        Ok(CommerceCommand::RegisterProduct {
            sku,
            name: self.name,
            unit,
            quantity_scale: self.quantity_scale,
            warehouses,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockReceipt {
    pub sku: String,
    pub warehouse: String,
    /// Bin; none for stock kept without bins.
    #[serde(default)]
    pub location: Option<String>,
    pub quantity: String,
    /// Cost of one unit, at most the currency's decimals.
    pub unit_cost: String,
    pub currency: String,
    /// The supplier's delivery note or purchase order.
    #[serde(default)]
    pub reference: String,
}

impl StockReceipt {
    fn into_command(self) -> Result<CommerceCommand, CoreError> {
        let currency = currency(&self.currency)?;
        check_text("reference", &self.reference, limits::TEXT_BYTES_MAX)?;
        Ok(CommerceCommand::ReceiveStock {
            sku: Sku::parse(&self.sku)?,
            warehouse: WarehouseId::parse(&self.warehouse)?,
            location: location(self.location.as_deref())?,
            quantity: parse_quantity("quantity", &self.quantity, false)?,
            unit_cost: Amount::parse(&self.unit_cost, &currency)?,
            currency,
            reference: self.reference,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Place {
    pub warehouse: String,
    #[serde(default)]
    pub location: Option<String>,
}

impl Place {
    fn parse(&self) -> Result<(WarehouseId, Option<Location>), CoreError> {
        Ok((
            WarehouseId::parse(&self.warehouse)?,
            location(self.location.as_deref())?,
        ))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockTransfer {
    pub sku: String,
    pub from: Place,
    pub to: Place,
    pub quantity: String,
}

impl StockTransfer {
    fn into_command(self) -> Result<CommerceCommand, CoreError> {
        Ok(CommerceCommand::TransferStock {
            sku: Sku::parse(&self.sku)?,
            from: self.from.parse()?,
            to: self.to.parse()?,
            quantity: parse_quantity("quantity", &self.quantity, false)?,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockAdjustment {
    pub sku: String,
    pub warehouse: String,
    #[serde(default)]
    pub location: Option<String>,
    /// Signed: `"-2"` for two units found missing, `"1"` for one found.
    pub quantity: String,
    /// Why: `cycle count`, `damaged`, …
    pub reason: String,
    /// For stock found: the unit cost to value it at (default: the average cost).
    #[serde(default)]
    pub unit_cost: Option<String>,
}

impl StockAdjustment {
    fn into_command(self) -> Result<CommerceCommand, CoreError> {
        if self.reason.trim().is_empty() {
            return Err(CoreError::InvalidField {
                field: "reason",
                reason: "say why stock is adjusted".into(),
            });
        }
        check_text("reason", &self.reason, limits::TEXT_BYTES_MAX)?;
        Ok(CommerceCommand::AdjustStock {
            sku: Sku::parse(&self.sku)?,
            warehouse: WarehouseId::parse(&self.warehouse)?,
            location: location(self.location.as_deref())?,
            quantity: parse_quantity("quantity", &self.quantity, true)?,
            reason: self.reason,
            unit_cost: self.unit_cost,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLineRequest {
    pub sku: String,
    pub quantity: String,
    pub unit_price: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    /// The order number; the service makes one up if none is given.
    #[serde(default)]
    pub id: Option<String>,
    pub customer: String,
    /// online, retail or wholesale.
    pub channel: String,
    pub currency: String,
    /// Where the stock is reserved and shipped from.
    pub warehouse: String,
    pub lines: Vec<OrderLineRequest>,
}

impl PlaceOrder {
    fn into_command(self) -> Result<CommerceCommand, CoreError> {
        let order = match &self.id {
            Some(id) => OrderId::parse(id)?,
            None => OrderId::parse(&uuid::Uuid::now_v7().to_string())?,
        };
        let currency = currency(&self.currency)?;
        lines_bound("lines", self.lines.len())?;
        let lines = self
            .lines
            .iter()
            .map(|l| {
                Ok((
                    Sku::parse(&l.sku)?,
                    parse_quantity("quantity", &l.quantity, false)?,
                    Amount::parse(&l.unit_price, &currency)?,
                ))
            })
            .collect::<Result<Vec<_>, CoreError>>()?;
        each_sku_once(lines.iter().map(|l| &l.0))?;
        Ok(CommerceCommand::PlaceOrder {
            order,
            customer: CustomerId::parse(&self.customer)?,
            channel: Channel::parse(&self.channel)?,
            currency,
            warehouse: WarehouseId::parse(&self.warehouse)?,
            lines,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    /// `capture` (the default) or `refund`.
    #[serde(default)]
    pub action: Option<String>,
    pub amount: String,
    pub currency: String,
    /// The payment provider's reference.
    #[serde(default)]
    pub reference: String,
}

impl Payment {
    fn into_command(self, order: OrderId) -> Result<CommerceCommand, CoreError> {
        let currency = currency(&self.currency)?;
        let amount = Amount::parse(&self.amount, &currency)?;
        check_text("reference", &self.reference, limits::TEXT_BYTES_MAX)?;
        let reference = self.reference;
        match self.action.as_deref().unwrap_or("capture") {
            "capture" => Ok(CommerceCommand::CapturePayment {
                order,
                amount,
                currency,
                reference,
            }),
            "refund" => Ok(CommerceCommand::RefundPayment {
                order,
                amount,
                currency,
                reference,
            }),
            other => Err(CoreError::InvalidField {
                field: "action",
                reason: format!("{other:?}: expected capture or refund"),
            }),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentLine {
    pub sku: String,
    pub quantity: String,
    /// The bin to pick from; by default unbinned stock first, then bins in order.
    #[serde(default)]
    pub location: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Shipment {
    /// The order's warehouse, if given.
    #[serde(default)]
    pub warehouse: Option<String>,
    pub lines: Vec<ShipmentLine>,
}

impl Shipment {
    fn into_command(self, order: OrderId) -> Result<CommerceCommand, CoreError> {
        lines_bound("lines", self.lines.len())?;
        let lines = self
            .lines
            .iter()
            .map(|l| {
                Ok((
                    Sku::parse(&l.sku)?,
                    parse_quantity("quantity", &l.quantity, false)?,
                    location(l.location.as_deref())?,
                ))
            })
            .collect::<Result<Vec<_>, CoreError>>()?;
        each_sku_once(lines.iter().map(|l| &l.0))?;
        Ok(CommerceCommand::ShipOrder {
            order,
            warehouse: self
                .warehouse
                .as_deref()
                .map(WarehouseId::parse)
                .transpose()?,
            lines,
        })
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cancel {
    #[serde(default)]
    pub reason: String,
}

/// The common path: authorise a write, parse the body, submit one command.
async fn operate<T: serde::de::DeserializeOwned>(
    state: &AppState,
    request: &HttpRequest,
    ledger: &str,
    payload: web::Payload,
    command: impl FnOnce(T) -> Result<CommerceCommand, CoreError>,
) -> Result<HttpResponse, ApiError> {
    let (ledger, body, idempotency) = write_request(state, request, ledger, payload).await?;
    let command = command(body::parse::<T>(&body)?)?;
    submit_one(state, &ledger, Command::Commerce(command), idempotency).await
}

/// An order id from the path: one that cannot exist is simply not found.
fn order_id(id: &str) -> Result<OrderId, CoreError> {
    OrderId::parse(id).map_err(|_| CoreError::OrderNotFound(crate::core::currency::truncate(id)))
}

#[utoipa::path(post, path = "/v1/ledgers/{ledger}/products", tag = "operations", params(("ledger" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = RegisterProduct, responses((status = 201, description = "The product.registered event"), (status = 409, description = "SKU already registered", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn register_product(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    operate(
        &state,
        &request,
        &path,
        payload,
        RegisterProduct::into_command,
    )
    .await
}

#[utoipa::path(post, path = "/v1/ledgers/{ledger}/stock/receipts", tag = "operations", params(("ledger" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = StockReceipt, responses((status = 201, description = "The stock.received event with its postings"), (status = 422, description = "Unknown SKU or warehouse, bad quantity", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn receive(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    operate(&state, &request, &path, payload, StockReceipt::into_command).await
}

#[utoipa::path(post, path = "/v1/ledgers/{ledger}/stock/transfers", tag = "operations", params(("ledger" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = StockTransfer, responses((status = 201, description = "The stock.transferred event"), (status = 409, description = "Not enough stock", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn transfer(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    operate(
        &state,
        &request,
        &path,
        payload,
        StockTransfer::into_command,
    )
    .await
}

#[utoipa::path(post, path = "/v1/ledgers/{ledger}/stock/adjustments", tag = "operations", params(("ledger" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = StockAdjustment, responses((status = 201, description = "The stock.adjusted event"), (status = 409, description = "Not enough stock, or no cost basis", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn adjust(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    operate(
        &state,
        &request,
        &path,
        payload,
        StockAdjustment::into_command,
    )
    .await
}

#[utoipa::path(post, path = "/v1/ledgers/{ledger}/orders", tag = "operations", params(("ledger" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = PlaceOrder, responses((status = 201, description = "The order.placed event; stock is reserved"), (status = 409, description = "Not enough available stock, or order exists", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn place_order(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    operate(&state, &request, &path, payload, PlaceOrder::into_command).await
}

#[utoipa::path(post, path = "/v1/ledgers/{ledger}/orders/{id}/payments", tag = "operations", params(("ledger" = String, Path), ("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = Payment, responses((status = 201, description = "The payment.captured or payment.refunded event"), (status = 404, description = "No such order", content_type = "application/problem+json"), (status = 409, description = "Cancelled order, overpayment, refund beyond payments", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn pay(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (ledger, id) = path.into_inner();
    operate(&state, &request, &ledger, payload, |p: Payment| {
        p.into_command(order_id(&id)?)
    })
    .await
}

#[utoipa::path(post, path = "/v1/ledgers/{ledger}/orders/{id}/shipments", tag = "operations", params(("ledger" = String, Path), ("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = Shipment, responses((status = 201, description = "The order.shipped event with revenue and cost postings"), (status = 404, description = "No such order", content_type = "application/problem+json"), (status = 422, description = "More than ordered, SKU not in the order", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn ship(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (ledger, id) = path.into_inner();
    operate(&state, &request, &ledger, payload, |s: Shipment| {
        s.into_command(order_id(&id)?)
    })
    .await
}

#[utoipa::path(post, path = "/v1/ledgers/{ledger}/orders/{id}/cancel", tag = "operations", params(("ledger" = String, Path), ("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body(content = Option<Cancel>), responses((status = 201, description = "The order.cancelled event; reservations are released"), (status = 409, description = "Already shipped or cancelled", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn cancel(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (ledger, id) = path.into_inner();
    let (ledger, body, idempotency) = write_request(&state, &request, &ledger, payload).await?;
    let order = order_id(&id)?;
    let cancel: Cancel = if body.is_empty() {
        Cancel::default()
    } else {
        body::parse(&body)?
    };
    check_text("reason", &cancel.reason, limits::TEXT_BYTES_MAX)?;
    let command = CommerceCommand::CancelOrder {
        order,
        reason: cancel.reason,
    };
    submit_one(&state, &ledger, Command::Commerce(command), idempotency).await
}
