//! Reads of the commerce projections (inventory, orders, sales), each at one snapshot
//! that names the head it reflects.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::core::ledger::LedgerId;

use super::accounts::{snapshot, AtHead};
use super::events::head_of;
use super::{Pool, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct InventoryRow {
    pub sku: String,
    pub warehouse: String,
    pub unit: String,
    pub on_hand: Decimal,
    pub reserved: Decimal,
    pub value: Decimal,
    pub currency: Option<String>,
    pub reorder_point: Decimal,
    pub reorder_quantity: Decimal,
    /// On hand per bin (`""`: no bin), bins holding nothing left out.
    pub bins: Vec<(String, Decimal)>,
}

#[derive(Debug, Clone, Default)]
pub struct InventoryFilter<'a> {
    pub sku: Option<&'a str>,
    pub warehouse: Option<&'a str>,
    pub location: Option<&'a str>,
    /// Only what is at or below its reorder point (with reordering on).
    pub alerts_only: bool,
    /// Rows after this `(sku, warehouse)`, for paging.
    pub after: (&'a str, &'a str),
    pub limit: i64,
}

const INVENTORY: &str = "SELECT s.sku, s.warehouse, p.unit, s.on_hand, s.reserved, s.value, p.cost_currency, \
       s.reorder_point, s.reorder_quantity \
     FROM stock_levels s JOIN products p ON p.ledger_id = s.ledger_id AND p.sku = s.sku \
     WHERE s.ledger_id = $1 \
       AND ($2::text IS NULL OR s.sku = $2) \
       AND ($3::text IS NULL OR s.warehouse = $3) \
       AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM stock_bins b WHERE b.ledger_id = s.ledger_id \
            AND b.sku = s.sku AND b.warehouse = s.warehouse AND b.location = $4 AND b.on_hand <> 0)) \
       AND (NOT $5 OR (s.reorder_quantity > 0 AND s.on_hand - s.reserved <= s.reorder_point)) \
       AND (s.sku, s.warehouse) > ($6, $7) \
     ORDER BY s.sku, s.warehouse LIMIT $8";
const BINS: &str = "SELECT sku, warehouse, location, on_hand FROM stock_bins \
     WHERE ledger_id = $1 AND sku = ANY($2) AND on_hand <> 0 AND ($3::text IS NULL OR location = $3) \
     ORDER BY sku, warehouse, location";

pub async fn inventory(
    pool: &Pool,
    ledger: &LedgerId,
    f: &InventoryFilter<'_>,
) -> Result<AtHead<Vec<InventoryRow>>, StoreError> {
    let mut client = pool.get().await?;
    let tx = snapshot(&mut client).await?;
    let l = ledger.as_str();
    let head = head_of(&*tx, ledger).await?;
    let location = f.location.filter(|l| !l.is_empty());
    let mut rows: Vec<InventoryRow> = tx
        .query(
            INVENTORY,
            &[
                &l,
                &f.sku,
                &f.warehouse,
                &location,
                &f.alerts_only,
                &f.after.0,
                &f.after.1,
                &f.limit,
            ],
        )
        .await?
        .iter()
        .map(|r| InventoryRow {
            sku: r.get(0),
            warehouse: r.get(1),
            unit: r.get(2),
            on_hand: r.get(3),
            reserved: r.get(4),
            value: r.get(5),
            currency: r.get(6),
            reorder_point: r.get(7),
            reorder_quantity: r.get(8),
            bins: Vec::new(),
        })
        .collect();
    let skus: Vec<&str> = rows.iter().map(|r| r.sku.as_str()).collect();
    let bins = tx.query(BINS, &[&l, &skus, &location]).await?;
    tx.commit().await?;
    for bin in bins {
        let (sku, warehouse): (&str, &str) = (bin.get(0), bin.get(1));
        if let Some(row) = rows
            .iter_mut()
            .find(|r| r.sku == sku && r.warehouse == warehouse)
        {
            row.bins.push((bin.get(2), bin.get(3)));
        }
    }
    Ok(AtHead { head, rows })
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderRow {
    pub id: String,
    pub customer: String,
    pub channel: String,
    pub currency: String,
    pub warehouse: String,
    pub total: Decimal,
    pub captured: Decimal,
    pub refunded: Decimal,
    pub status: String,
    pub placed_seq: u64,
    pub last_seq: u64,
    pub lines: Vec<OrderLineRow>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderLineRow {
    pub sku: String,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub amount: Decimal,
    pub shipped: Decimal,
}

pub async fn order(
    pool: &Pool,
    ledger: &LedgerId,
    id: &str,
) -> Result<AtHead<Option<OrderRow>>, StoreError> {
    const ORDER: &str = "SELECT order_id, customer, channel, currency, warehouse, total, captured, refunded, \
                         status, placed_seq, last_seq FROM orders WHERE ledger_id = $1 AND order_id = $2";
    const LINES: &str = "SELECT sku, quantity, unit_price, amount, shipped FROM order_lines \
                         WHERE ledger_id = $1 AND order_id = $2 ORDER BY line_no";
    let mut client = pool.get().await?;
    let tx = snapshot(&mut client).await?;
    let l = ledger.as_str();
    let head = head_of(&*tx, ledger).await?;
    let order = tx.query_opt(ORDER, &[&l, &id]).await?;
    let lines = tx.query(LINES, &[&l, &id]).await?;
    tx.commit().await?;
    let rows = order.map(|r| OrderRow {
        id: r.get(0),
        customer: r.get(1),
        channel: r.get(2),
        currency: r.get(3),
        warehouse: r.get(4),
        total: r.get(5),
        captured: r.get(6),
        refunded: r.get(7),
        status: r.get(8),
        placed_seq: r.get::<_, i64>(9) as u64,
        last_seq: r.get::<_, i64>(10) as u64,
        lines: lines
            .iter()
            .map(|l| OrderLineRow {
                sku: l.get(0),
                quantity: l.get(1),
                unit_price: l.get(2),
                amount: l.get(3),
                shipped: l.get(4),
            })
            .collect(),
    });
    Ok(AtHead { head, rows })
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProductSalesRow {
    pub sku: String,
    pub currency: String,
    pub amount: Decimal,
    /// Orders that shipped the product.
    pub sales: i64,
    pub quantity: Decimal,
}

#[derive(Debug, Clone, Default)]
pub struct SalesFilter<'a> {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub channel: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub limit: i64,
}

pub async fn sales_by_product(
    pool: &Pool,
    ledger: &LedgerId,
    f: &SalesFilter<'_>,
) -> Result<AtHead<Vec<ProductSalesRow>>, StoreError> {
    const SQL: &str = "SELECT sku, currency, sum(amount), count(DISTINCT order_id), sum(quantity) FROM sales \
         WHERE ledger_id = $1 AND ($2::date IS NULL OR sold_on >= $2) AND ($3::date IS NULL OR sold_on <= $3) \
           AND ($4::text IS NULL OR channel = $4) AND ($5::text IS NULL OR currency = $5) \
         GROUP BY sku, currency ORDER BY 3 DESC, sku, currency LIMIT $6";
    let mut client = pool.get().await?;
    let tx = snapshot(&mut client).await?;
    let l = ledger.as_str();
    let head = head_of(&*tx, ledger).await?;
    let rows = tx
        .query(
            SQL,
            &[&l, &f.from, &f.to, &f.channel, &f.currency, &f.limit],
        )
        .await?
        .iter()
        .map(|r| ProductSalesRow {
            sku: r.get(0),
            currency: r.get(1),
            amount: r.get(2),
            sales: r.get(3),
            quantity: r.get(4),
        })
        .collect();
    tx.commit().await?;
    Ok(AtHead { head, rows })
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRow {
    pub customer: String,
    pub currency: String,
    pub orders: i64,
    /// Sum of the order totals.
    pub ordered: Decimal,
    /// Captured minus refunded over those orders.
    pub spent: Decimal,
}

pub async fn customers(
    pool: &Pool,
    ledger: &LedgerId,
    status: &str,
    min_orders: i64,
    limit: i64,
) -> Result<AtHead<Vec<CustomerRow>>, StoreError> {
    const SQL: &str =
        "SELECT customer, currency, count(*), sum(total), sum(captured - refunded) FROM orders \
         WHERE ledger_id = $1 AND status = $2 GROUP BY customer, currency HAVING count(*) > $3 \
         ORDER BY 5 DESC, customer, currency LIMIT $4";
    let mut client = pool.get().await?;
    let tx = snapshot(&mut client).await?;
    let l = ledger.as_str();
    let head = head_of(&*tx, ledger).await?;
    let rows = tx
        .query(SQL, &[&l, &status, &min_orders, &limit])
        .await?
        .iter()
        .map(|r| CustomerRow {
            customer: r.get(0),
            currency: r.get(1),
            orders: r.get(2),
            ordered: r.get(3),
            spent: r.get(4),
        })
        .collect();
    tx.commit().await?;
    Ok(AtHead { head, rows })
}
