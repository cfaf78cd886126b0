//! The events of commerce operations. Each carries every fact its projections need
//! (quantities moved, costs taken, amounts posted), so folding the log never has to
//! recompute a cost: rebuilding gives the projections the live service had.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::core::currency::Currency;
use crate::core::posting::Posting;

use super::ids::{render_quantity, Channel, CustomerId, Location, OrderId, Sku, WarehouseId};

/// When a warehouse's available stock of a SKU falls to `point`, order `quantity`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReorderRule {
    pub warehouse: WarehouseId,
    pub point: Decimal,
    pub quantity: Decimal,
}

/// One line of a placed order, with its amount at the order currency's scale.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderLine {
    pub sku: Sku,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub amount: Decimal,
}

/// Stock leaving one bin (`None`: the warehouse's unbinned stock).
#[derive(Debug, Clone, PartialEq)]
pub struct BinTake {
    pub location: Option<Location>,
    pub quantity: Decimal,
}

/// One shipped line: the revenue it recognises and the cost it takes out of stock.
#[derive(Debug, Clone, PartialEq)]
pub struct ShippedLine {
    pub sku: Sku,
    pub quantity: Decimal,
    pub amount: Decimal,
    pub cost: Decimal,
    /// The SKU's valuation currency (`None` only when nothing was ever valued).
    pub cost_currency: Option<Currency>,
    pub bins: Vec<BinTake>,
}

/// One signed change of stock in one place: what every stock event reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Movement<'a> {
    pub sku: &'a Sku,
    pub warehouse: &'a WarehouseId,
    pub location: Option<&'a Location>,
    pub quantity: Decimal,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CommerceEvent {
    ProductRegistered {
        sku: Sku,
        name: String,
        unit: String,
        quantity_scale: u32,
        warehouses: Vec<ReorderRule>,
    },
    StockReceived {
        sku: Sku,
        warehouse: WarehouseId,
        location: Option<Location>,
        quantity: Decimal,
        unit_cost: Decimal,
        currency: Currency,
        value: Decimal,
        reference: String,
        postings: Vec<Posting>,
    },
    StockTransferred {
        sku: Sku,
        from: (WarehouseId, Option<Location>),
        to: (WarehouseId, Option<Location>),
        quantity: Decimal,
        cost: Decimal,
        currency: Option<Currency>,
        postings: Vec<Posting>,
    },
    /// `quantity` is signed: negative for stock found missing.
    StockAdjusted {
        sku: Sku,
        warehouse: WarehouseId,
        location: Option<Location>,
        quantity: Decimal,
        reason: String,
        /// The value booked, positive either way.
        value: Decimal,
        currency: Option<Currency>,
        postings: Vec<Posting>,
    },
    OrderPlaced {
        order: OrderId,
        customer: CustomerId,
        channel: Channel,
        currency: Currency,
        warehouse: WarehouseId,
        lines: Vec<OrderLine>,
        total: Decimal,
    },
    PaymentCaptured {
        order: OrderId,
        amount: Decimal,
        currency: Currency,
        reference: String,
        postings: Vec<Posting>,
    },
    PaymentRefunded {
        order: OrderId,
        amount: Decimal,
        currency: Currency,
        reference: String,
        postings: Vec<Posting>,
    },
    OrderShipped {
        order: OrderId,
        warehouse: WarehouseId,
        currency: Currency,
        lines: Vec<ShippedLine>,
        postings: Vec<Posting>,
    },
    OrderCancelled {
        order: OrderId,
        warehouse: WarehouseId,
        reason: String,
        /// What the order still held reserved, now released.
        released: Vec<(Sku, Decimal)>,
    },
    ReorderRequested {
        sku: Sku,
        warehouse: WarehouseId,
        available: Decimal,
        reorder_point: Decimal,
        suggested_quantity: Decimal,
    },
}

impl CommerceEvent {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::ProductRegistered { .. } => "product.registered",
            Self::StockReceived { .. } => "stock.received",
            Self::StockTransferred { .. } => "stock.transferred",
            Self::StockAdjusted { .. } => "stock.adjusted",
            Self::OrderPlaced { .. } => "order.placed",
            Self::PaymentCaptured { .. } => "payment.captured",
            Self::PaymentRefunded { .. } => "payment.refunded",
            Self::OrderShipped { .. } => "order.shipped",
            Self::OrderCancelled { .. } => "order.cancelled",
            Self::ReorderRequested { .. } => "stock.reorder_requested",
        }
    }

    pub fn postings(&self) -> &[Posting] {
        match self {
            Self::StockReceived { postings, .. }
            | Self::StockTransferred { postings, .. }
            | Self::StockAdjusted { postings, .. }
            | Self::PaymentCaptured { postings, .. }
            | Self::PaymentRefunded { postings, .. }
            | Self::OrderShipped { postings, .. } => postings,
            _ => &[],
        }
    }

    /// The order this event belongs to, if any.
    pub fn order(&self) -> Option<&OrderId> {
        match self {
            Self::OrderPlaced { order, .. }
            | Self::PaymentCaptured { order, .. }
            | Self::PaymentRefunded { order, .. }
            | Self::OrderShipped { order, .. }
            | Self::OrderCancelled { order, .. } => Some(order),
            _ => None,
        }
    }

    /// Every signed change of stock on hand, per bin.
    pub fn movements(&self) -> Vec<Movement<'_>> {
        fn m<'a>(
            sku: &'a Sku,
            warehouse: &'a WarehouseId,
            location: &'a Option<Location>,
            quantity: Decimal,
        ) -> Movement<'a> {
            Movement {
                sku,
                warehouse,
                location: location.as_ref(),
                quantity,
            }
        }
        match self {
            Self::StockReceived {
                sku,
                warehouse,
                location,
                quantity,
                ..
            }
            | Self::StockAdjusted {
                sku,
                warehouse,
                location,
                quantity,
                ..
            } => vec![m(sku, warehouse, location, *quantity)],
            Self::StockTransferred {
                sku,
                from,
                to,
                quantity,
                ..
            } => vec![
                m(sku, &from.0, &from.1, -*quantity),
                m(sku, &to.0, &to.1, *quantity),
            ],
            Self::OrderShipped {
                warehouse, lines, ..
            } => lines
                .iter()
                .flat_map(|line| {
                    line.bins.iter().map(move |bin| Movement {
                        sku: &line.sku,
                        warehouse,
                        location: bin.location.as_ref(),
                        quantity: -bin.quantity,
                    })
                })
                .collect(),
            _ => vec![],
        }
    }

    /// The `(sku, warehouse)` pairs whose stock or reservations this event changes.
    pub fn stock_keys(&self) -> Vec<(&Sku, &WarehouseId)> {
        let mut keys: Vec<(&Sku, &WarehouseId)> = match self {
            Self::ProductRegistered {
                sku, warehouses, ..
            } => warehouses.iter().map(|r| (sku, &r.warehouse)).collect(),
            Self::OrderPlaced {
                warehouse, lines, ..
            } => lines.iter().map(|l| (&l.sku, warehouse)).collect(),
            Self::OrderCancelled {
                warehouse,
                released,
                ..
            } => released.iter().map(|(sku, _)| (sku, warehouse)).collect(),
            Self::ReorderRequested { sku, warehouse, .. } => vec![(sku, warehouse)],
            _ => self
                .movements()
                .into_iter()
                .map(|m| (m.sku, m.warehouse))
                .collect(),
        };
        keys.sort();
        keys.dedup();
        keys
    }

    /// The type-specific `data` member.
    pub fn data(&self) -> Value {
        let q = |d: &Decimal| render_quantity(*d);
        let money = |d: &Decimal, c: &Currency| {
            let mut d = *d;
            d.rescale(c.scale());
            d.to_string()
        };
        let loc = |l: &Option<Location>| l.as_ref().map(|l| l.as_str().to_owned());
        let movements: Vec<Value> = self
            .movements()
            .iter()
            .map(|m| {
                json!({
                    "sku": m.sku.as_str(),
                    "warehouse": m.warehouse.as_str(),
                    "location": m.location.map(Location::as_str),
                    "quantity": q(&m.quantity),
                })
            })
            .collect();
        let optional_money = |d: &Decimal, c: &Option<Currency>| match c {
            Some(c) => Value::String(money(d, c)),
            None => Value::String(q(d)),
        };
        let code = |c: &Option<Currency>| c.as_ref().map(|c| c.code().as_str().to_owned());
        match self {
            Self::ProductRegistered {
                sku,
                name,
                unit,
                quantity_scale,
                warehouses,
            } => json!({
                "sku": sku.as_str(),
                "name": name,
                "unit": unit,
                "quantity_scale": quantity_scale,
                "warehouses": warehouses.iter().map(|r| json!({
                    "warehouse": r.warehouse.as_str(),
                    "reorder_point": q(&r.point),
                    "reorder_quantity": q(&r.quantity),
                })).collect::<Vec<_>>(),
            }),
            Self::StockReceived {
                sku,
                warehouse,
                location,
                quantity,
                unit_cost,
                currency,
                value,
                reference,
                ..
            } => json!({
                "sku": sku.as_str(),
                "warehouse": warehouse.as_str(),
                "location": loc(location),
                "quantity": q(quantity),
                "unit_cost": money(unit_cost, currency),
                "currency": currency.code().as_str(),
                "value": money(value, currency),
                "reference": reference,
                "movements": movements,
            }),
            Self::StockTransferred {
                sku,
                from,
                to,
                quantity,
                cost,
                currency,
                ..
            } => json!({
                "sku": sku.as_str(),
                "from": {"warehouse": from.0.as_str(), "location": loc(&from.1)},
                "to": {"warehouse": to.0.as_str(), "location": loc(&to.1)},
                "quantity": q(quantity),
                "cost": optional_money(cost, currency),
                "currency": code(currency),
                "movements": movements,
            }),
            Self::StockAdjusted {
                sku,
                warehouse,
                location,
                quantity,
                reason,
                value,
                currency,
                ..
            } => json!({
                "sku": sku.as_str(),
                "warehouse": warehouse.as_str(),
                "location": loc(location),
                "quantity": q(quantity),
                "reason": reason,
                "value": optional_money(value, currency),
                "currency": code(currency),
                "movements": movements,
            }),
            Self::OrderPlaced {
                order,
                customer,
                channel,
                currency,
                warehouse,
                lines,
                total,
            } => json!({
                "order": order.as_str(),
                "customer": customer.as_str(),
                "channel": channel.as_str(),
                "currency": currency.code().as_str(),
                "warehouse": warehouse.as_str(),
                "lines": lines.iter().map(|l| json!({
                    "sku": l.sku.as_str(),
                    "quantity": q(&l.quantity),
                    "unit_price": money(&l.unit_price, currency),
                    "amount": money(&l.amount, currency),
                })).collect::<Vec<_>>(),
                "total": money(total, currency),
            }),
            Self::PaymentCaptured {
                order,
                amount,
                currency,
                reference,
                ..
            }
            | Self::PaymentRefunded {
                order,
                amount,
                currency,
                reference,
                ..
            } => json!({
                "order": order.as_str(),
                "amount": money(amount, currency),
                "currency": currency.code().as_str(),
                "reference": reference,
            }),
            Self::OrderShipped {
                order,
                warehouse,
                currency,
                lines,
                ..
            } => json!({
                "order": order.as_str(),
                "warehouse": warehouse.as_str(),
                "currency": currency.code().as_str(),
                "lines": lines.iter().map(|l| json!({
                    "sku": l.sku.as_str(),
                    "quantity": q(&l.quantity),
                    "amount": money(&l.amount, currency),
                    "cost": optional_money(&l.cost, &l.cost_currency),
                    "cost_currency": code(&l.cost_currency),
                })).collect::<Vec<_>>(),
                "movements": movements,
            }),
            Self::OrderCancelled {
                order,
                warehouse,
                reason,
                released,
            } => json!({
                "order": order.as_str(),
                "warehouse": warehouse.as_str(),
                "reason": reason,
                "released": released.iter().map(|(sku, quantity)| json!({
                    "sku": sku.as_str(),
                    "quantity": q(quantity),
                })).collect::<Vec<_>>(),
            }),
            Self::ReorderRequested {
                sku,
                warehouse,
                available,
                reorder_point,
                suggested_quantity,
            } => json!({
                "sku": sku.as_str(),
                "warehouse": warehouse.as_str(),
                "available": q(available),
                "reorder_point": q(reorder_point),
                "suggested_quantity": q(suggested_quantity),
            }),
        }
    }
}
