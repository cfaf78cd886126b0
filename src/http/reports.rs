//! Read models of commerce: inventory and its alerts, one order, and the sales reports.
//! Every answer names the seq and head hash it was computed at (in the body and in the
//! `Chainbook-Seq` / `Chainbook-Hash` headers) and comes as CSV on `Accept: text/csv`.

use actix_web::http::header::ACCEPT;
use actix_web::{web, HttpRequest, HttpResponse};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::core::commerce::ids::render_quantity;
use crate::core::commerce::state::OrderStatus;
use crate::core::commerce::Channel;
use crate::core::currency::{Currency, CurrencyCode};
use crate::core::ledger::LedgerId;
use crate::core::limits;
use crate::store::commerce::{self, InventoryFilter, InventoryRow, SalesFilter};
use crate::store::events::Head;

use super::accounts::{amount, read_request};
use super::ledgers::not_found;
use super::{ApiError, AppState};

/// A table with the head it was read at, answered as JSON or CSV.
pub(super) struct Table {
    pub ledger: LedgerId,
    pub head: Head,
    /// The member of the JSON body holding the rows.
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub rows: Vec<Vec<Value>>,
    /// More members of the JSON body (the CSV has only the rows).
    pub extra: Map<String, Value>,
}

impl Table {
    pub(super) fn respond(self, request: &HttpRequest) -> Result<HttpResponse, ApiError> {
        let mut response = HttpResponse::Ok();
        response
            .insert_header(("Chainbook-Seq", self.head.seq.to_string()))
            .insert_header(("Chainbook-Hash", self.head.hash.clone()));
        if wants_csv(request) {
            let mut out = csv::Writer::from_writer(Vec::new());
            let csv_error = |e: csv::Error| ApiError::Internal(format!("csv: {e}"));
            out.write_record(self.columns).map_err(csv_error)?;
            for row in &self.rows {
                out.write_record(row.iter().map(csv_cell))
                    .map_err(csv_error)?;
            }
            let bytes = out
                .into_inner()
                .map_err(|e| ApiError::Internal(format!("csv: {e}")))?;
            return Ok(response.content_type("text/csv; charset=utf-8").body(bytes));
        }
        let rows: Vec<Value> = self
            .rows
            .into_iter()
            .map(|row| {
                let object: Map<String, Value> = self
                    .columns
                    .iter()
                    .map(|c| c.to_string())
                    .zip(row)
                    .collect();
                Value::Object(object)
            })
            .collect();
        let mut body = json!({
            "ledger": self.ledger.as_str(),
            "seq": self.head.seq,
            "hash": self.head.hash,
        });
        body[self.name] = Value::Array(rows);
        body.as_object_mut().expect("an object").extend(self.extra);
        Ok(response.json(body))
    }
}

fn wants_csv(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"))
}

fn csv_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(csv_cell).collect::<Vec<_>>().join(";"),
        other => other.to_string(),
    }
}

pub(super) fn limit(given: Option<i64>) -> Result<i64, ApiError> {
    let limit = given.unwrap_or(100);
    if (1..=limits::REPORT_ROWS_MAX).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::InvalidRequest(format!(
            "limit must be 1 to {}",
            limits::REPORT_ROWS_MAX
        )))
    }
}

pub(super) fn day(
    field: &'static str,
    s: Option<&str>,
) -> Result<Option<chrono::NaiveDate>, ApiError> {
    s.map(|s| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| ApiError::InvalidRequest(format!("{field} is a date as YYYY-MM-DD")))
    })
    .transpose()
}

fn q(d: Decimal) -> Value {
    Value::String(render_quantity(d))
}

/// The average cost per unit, at two more decimals than the currency has.
fn average_cost(row: &InventoryRow) -> Value {
    let Some(code) = &row.currency else {
        return Value::Null;
    };
    if row.on_hand <= Decimal::ZERO {
        return Value::Null;
    }
    let scale = CurrencyCode::parse(code)
        .ok()
        .and_then(|c| Currency::iso(&c).ok())
        .map_or(4, |c| c.scale() + 2);
    let mut avg = (row.value / row.on_hand).round_dp(scale);
    avg.rescale(scale);
    Value::String(avg.to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryQuery {
    sku: Option<String>,
    warehouse: Option<String>,
    location: Option<String>,
    /// `sku:warehouse` of the last row of the previous page.
    after: Option<String>,
    limit: Option<i64>,
}

const INVENTORY_COLUMNS: &[&str] = &[
    "sku",
    "warehouse",
    "unit",
    "on_hand",
    "reserved",
    "available",
    "average_cost",
    "value",
    "currency",
    "reorder_point",
    "reorder_quantity",
    "locations",
];

async fn inventory_table(
    state: &AppState,
    request: &HttpRequest,
    ledger: &str,
    query: &InventoryQuery,
    alerts_only: bool,
) -> Result<HttpResponse, ApiError> {
    let ledger = read_request(state, request, ledger).await?;
    let after = match query.after.as_deref() {
        Some(cursor) => cursor.split_once(':').ok_or_else(|| {
            ApiError::InvalidRequest("after is the `sku:warehouse` of the last row seen".into())
        })?,
        None => ("", ""),
    };
    let filter = InventoryFilter {
        sku: query.sku.as_deref(),
        warehouse: query.warehouse.as_deref(),
        location: query.location.as_deref(),
        alerts_only,
        after,
        limit: limit(query.limit)?,
    };
    let read = commerce::inventory(&state.pool, &ledger, &filter).await?;
    let head = read.head.ok_or_else(|| not_found(&ledger))?;
    let rows = read
        .rows
        .iter()
        .map(|r| {
            let value = match &r.currency {
                Some(c) => Value::String(amount(r.value, c)),
                None => Value::Null,
            };
            let locations: Vec<Value> = r
                .bins
                .iter()
                .map(|(bin, held)| {
                    let bin = if bin.is_empty() { "-" } else { bin.as_str() };
                    Value::String(format!("{bin}={}", render_quantity(*held)))
                })
                .collect();
            vec![
                Value::String(r.sku.clone()),
                Value::String(r.warehouse.clone()),
                Value::String(r.unit.clone()),
                q(r.on_hand),
                q(r.reserved),
                q(r.on_hand - r.reserved),
                average_cost(r),
                value,
                r.currency.clone().map_or(Value::Null, Value::String),
                q(r.reorder_point),
                q(r.reorder_quantity),
                Value::Array(locations),
            ]
        })
        .collect();
    Table {
        ledger,
        head,
        name: if alerts_only { "alerts" } else { "inventory" },
        columns: INVENTORY_COLUMNS,
        rows,
        extra: Map::new(),
    }
    .respond(request)
}

#[utoipa::path(get, path = "/v1/ledgers/{ledger}/inventory", tag = "reports", params(("ledger" = String, Path), ("sku" = Option<String>, Query), ("warehouse" = Option<String>, Query), ("location" = Option<String>, Query), ("after" = Option<String>, Query), ("limit" = Option<i64>, Query)), responses((status = 200, description = "On hand, reserved, available, average cost and value per SKU and warehouse, with bins (JSON or CSV)")), security(("bearer" = [])))]
pub async fn inventory(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<InventoryQuery>,
) -> Result<HttpResponse, ApiError> {
    inventory_table(&state, &request, &path, &query, false).await
}

#[utoipa::path(get, path = "/v1/ledgers/{ledger}/inventory/alerts", tag = "reports", params(("ledger" = String, Path), ("sku" = Option<String>, Query), ("warehouse" = Option<String>, Query), ("after" = Option<String>, Query), ("limit" = Option<i64>, Query)), responses((status = 200, description = "Stock at or below its reorder point (JSON or CSV)")), security(("bearer" = [])))]
pub async fn alerts(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<InventoryQuery>,
) -> Result<HttpResponse, ApiError> {
    inventory_table(&state, &request, &path, &query, true).await
}

#[utoipa::path(get, path = "/v1/ledgers/{ledger}/orders/{id}", tag = "reports", params(("ledger" = String, Path), ("id" = String, Path)), responses((status = 200, description = "The order, its lines, what shipped and what was paid, with its derived status"), (status = 404, description = "No such order", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn order(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ledger, id) = path.into_inner();
    let ledger = read_request(&state, &request, &ledger).await?;
    let read = commerce::order(&state.pool, &ledger, &id).await?;
    let head = read.head.ok_or_else(|| not_found(&ledger))?;
    let o = read
        .rows
        .ok_or_else(|| ApiError::NotFound(format!("no order {id:?}")))?;
    let money = |d: Decimal| amount(d, &o.currency);
    let paid = o.captured - o.refunded;
    let payment_status = if paid >= o.total {
        "paid"
    } else if paid > Decimal::ZERO {
        "partially_paid"
    } else {
        "unpaid"
    };
    Ok(HttpResponse::Ok().json(json!({
        "ledger": ledger.as_str(),
        "seq": head.seq,
        "hash": head.hash,
        "id": o.id,
        "customer": o.customer,
        "channel": o.channel,
        "currency": o.currency,
        "warehouse": o.warehouse,
        "status": o.status,
        "payment_status": payment_status,
        "total": money(o.total),
        "captured": money(o.captured),
        "refunded": money(o.refunded),
        "paid": money(paid),
        "placed_seq": o.placed_seq,
        "last_seq": o.last_seq,
        "lines": o.lines.iter().map(|l| json!({
            "sku": l.sku,
            "quantity": render_quantity(l.quantity),
            "shipped": render_quantity(l.shipped),
            "unit_price": money(l.unit_price),
            "amount": money(l.amount),
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductSalesQuery {
    /// First day included (`YYYY-MM-DD`, UTC shipment date).
    from: Option<String>,
    /// Last day included.
    to: Option<String>,
    channel: Option<String>,
    /// Only sales in this currency.
    currency: Option<String>,
    /// Convert every amount into this currency, at the chain's rates of `to` (or today),
    /// and add each product's rows up.
    convert_to: Option<String>,
    /// Top n.
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/ledgers/{ledger}/reports/sales/products", tag = "reports", params(("ledger" = String, Path), ("from" = Option<String>, Query), ("to" = Option<String>, Query), ("channel" = Option<String>, Query), ("currency" = Option<String>, Query), ("convert_to" = Option<String>, Query), ("limit" = Option<i64>, Query)), responses((status = 200, description = "Per product and currency: sales amount, number of orders, quantity; amount descending (JSON or CSV)")), security(("bearer" = [])))]
pub async fn sales_by_product(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ProductSalesQuery>,
) -> Result<HttpResponse, ApiError> {
    let ledger = read_request(&state, &request, &path).await?;
    let channel = query
        .channel
        .as_deref()
        .map(Channel::parse)
        .transpose()?
        .map(Channel::as_str);
    let currency = query
        .currency
        .as_deref()
        .map(CurrencyCode::parse)
        .transpose()?;
    let top = limit(query.limit)?;
    let filter = SalesFilter {
        from: day("from", query.from.as_deref())?,
        to: day("to", query.to.as_deref())?,
        channel,
        currency: currency.as_ref().map(CurrencyCode::as_str),
        // Converted rows are added up per product before the top n is taken.
        limit: if query.convert_to.is_some() {
            limits::REPORT_ROWS_MAX * 10
        } else {
            top
        },
    };
    let read = commerce::sales_by_product(&state.pool, &ledger, &filter).await?;
    let head = read.head.ok_or_else(|| not_found(&ledger))?;
    if let Some(target) = &query.convert_to {
        let at = filter.to.unwrap_or_else(|| chrono::Utc::now().date_naive());
        return converted_sales(&state, &request, ledger, head, &read.rows, target, at, top).await;
    }
    let rows = read
        .rows
        .iter()
        .map(|r| {
            vec![
                Value::String(r.sku.clone()),
                Value::String(r.currency.clone()),
                Value::String(amount(r.amount, &r.currency)),
                Value::from(r.sales),
                q(r.quantity),
            ]
        })
        .collect();
    Table {
        ledger,
        head,
        name: "products",
        columns: &["sku", "currency", "amount", "sales", "quantity"],
        rows,
        extra: Map::new(),
    }
    .respond(&request)
}

/// Product sales converted into one currency at the rates of `at` and added up per
/// product; the rates used are named like the financial reports'.
#[allow(clippy::too_many_arguments)]
async fn converted_sales(
    state: &AppState,
    request: &HttpRequest,
    ledger: LedgerId,
    head: Head,
    rows: &[crate::store::commerce::ProductSalesRow],
    target: &str,
    at: chrono::NaiveDate,
    top: i64,
) -> Result<HttpResponse, ApiError> {
    use std::collections::{BTreeMap, BTreeSet};
    let (info, book) = crate::store::reporting::ledger_and_rates(&state.pool, &ledger)
        .await?
        .ok_or_else(|| not_found(&ledger))?;
    let currencies = super::currencies::book_for(state, &ledger, [target]).await?;
    let to = currencies.resolve(target)?;
    let base =
        CurrencyCode::parse(&info.base_currency).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut needs = BTreeSet::new();
    for r in rows {
        needs.insert((
            CurrencyCode::parse(&r.currency).map_err(|e| ApiError::Internal(e.to_string()))?,
            at,
        ));
    }
    let rates = book.rates_for(&needs, to.code(), &base)?;
    let mut per_sku: BTreeMap<&str, (Decimal, i64, Decimal)> = BTreeMap::new();
    for r in rows {
        let code =
            CurrencyCode::parse(&r.currency).map_err(|e| ApiError::Internal(e.to_string()))?;
        let rate = &rates[&(code, at)];
        let entry = per_sku.entry(r.sku.as_str()).or_default();
        entry.0 += r.amount * rate.rate;
        entry.1 += r.sales;
        entry.2 += r.quantity;
    }
    let mut totals: Vec<(&str, Decimal, i64, Decimal)> = per_sku
        .into_iter()
        .map(|(sku, (amount, sales, quantity))| {
            (
                sku,
                crate::core::rates::round_converted(amount, to.scale()),
                sales,
                quantity,
            )
        })
        .collect();
    totals.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    totals.truncate(top as usize);
    let code = to.code().as_str().to_owned();
    let rows = totals
        .into_iter()
        .map(|(sku, amount, sales, quantity)| {
            vec![
                Value::String(sku.to_owned()),
                Value::String(code.clone()),
                Value::String(amount.to_string()),
                Value::from(sales),
                q(quantity),
            ]
        })
        .collect();
    let mut extra = Map::new();
    extra.insert("converted_at".into(), json!(at.to_string()));
    extra.insert(
        "rates".into(),
        Value::Array(
            rates
                .values()
                .filter(|u| !u.sources.is_empty())
                .map(|u| {
                    json!({
                        "from": u.from.as_str(),
                        "to": u.to.as_str(),
                        "rate": u.rate.normalize().to_string(),
                        "seqs": u.sources.iter().map(|s| s.seq).collect::<Vec<_>>(),
                    })
                })
                .collect(),
        ),
    );
    Table {
        ledger,
        head,
        name: "products",
        columns: &["sku", "currency", "amount", "sales", "quantity"],
        rows,
        extra,
    }
    .respond(request)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomersQuery {
    /// Customers with more than this many orders (default 0).
    min_orders: Option<i64>,
    /// Which orders count (default `completed`).
    status: Option<String>,
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/ledgers/{ledger}/reports/sales/customers", tag = "reports", params(("ledger" = String, Path), ("min_orders" = Option<i64>, Query), ("status" = Option<String>, Query), ("limit" = Option<i64>, Query)), responses((status = 200, description = "Customers with more than min_orders orders of the status, with what they spent; descending (JSON or CSV)")), security(("bearer" = [])))]
pub async fn sales_by_customer(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<CustomersQuery>,
) -> Result<HttpResponse, ApiError> {
    let ledger = read_request(&state, &request, &path).await?;
    let status = query.status.as_deref().unwrap_or("completed");
    let status = OrderStatus::parse(status).ok_or_else(|| {
        ApiError::InvalidRequest(format!(
            "status {status:?}: expected placed, partially_shipped, shipped, completed or cancelled"
        ))
    })?;
    let min_orders = query.min_orders.unwrap_or(0);
    if !(0..=i64::from(i32::MAX)).contains(&min_orders) {
        return Err(ApiError::InvalidRequest(
            "min_orders must be 0 or more".into(),
        ));
    }
    let read = commerce::customers(
        &state.pool,
        &ledger,
        status.as_str(),
        min_orders,
        limit(query.limit)?,
    )
    .await?;
    let head = read.head.ok_or_else(|| not_found(&ledger))?;
    let rows = read
        .rows
        .iter()
        .map(|r| {
            vec![
                Value::String(r.customer.clone()),
                Value::String(r.currency.clone()),
                Value::from(r.orders),
                Value::String(amount(r.spent, &r.currency)),
                Value::String(amount(r.ordered, &r.currency)),
            ]
        })
        .collect();
    Table {
        ledger,
        head,
        name: "customers",
        columns: &["customer", "currency", "orders", "total_spent", "ordered"],
        rows,
        extra: Map::new(),
    }
    .respond(&request)
}
