//! The rules of commerce operations: `decide(state, command) -> event or error`. The
//! general `decide` then opens the accounts the event's postings need and checks the
//! postings like any entry's (closed accounts, fixed currencies, `no_overdraft`).

use std::collections::{BTreeMap, HashSet};

use rust_decimal::Decimal;

use crate::core::account::AccountCode;
use crate::core::currency::Currency;
use crate::core::money::Amount;
use crate::core::posting::{Posting, Side};
use crate::core::state::LedgerState;
use crate::core::CoreError;

use super::event::{BinTake, CommerceEvent, OrderLine, ReorderRule, ShippedLine};
use super::ids::{line_amount, Channel, CustomerId, Location, OrderId, Sku, WarehouseId};
use super::state::{OrderState, ProductState, StockState};

pub const PAYABLE: &str = "liabilities:payable";
pub const RECEIVABLE: &str = "assets:receivable";
pub const CASH: &str = "assets:cash";
pub const SALES: &str = "income:sales";
pub const COGS: &str = "expenses:cogs";
pub const SHRINKAGE: &str = "expenses:shrinkage";
pub const INVENTORY_GAINS: &str = "income:inventory-gains";

fn account(code: &str) -> AccountCode {
    AccountCode::parse(code).expect("the posting rules name valid accounts")
}

/// A commerce request, parsed into valid values. Quantities are positive (but for an
/// adjustment's) and within the global bounds; whether they fit the product's unit is
/// decided here.
#[derive(Debug, Clone, PartialEq)]
pub enum CommerceCommand {
    RegisterProduct {
        sku: Sku,
        name: String,
        unit: String,
        quantity_scale: u32,
        warehouses: Vec<ReorderRule>,
    },
    ReceiveStock {
        sku: Sku,
        warehouse: WarehouseId,
        location: Option<Location>,
        quantity: Decimal,
        unit_cost: Amount,
        currency: Currency,
        reference: String,
    },
    TransferStock {
        sku: Sku,
        from: (WarehouseId, Option<Location>),
        to: (WarehouseId, Option<Location>),
        quantity: Decimal,
    },
    AdjustStock {
        sku: Sku,
        warehouse: WarehouseId,
        location: Option<Location>,
        quantity: Decimal,
        reason: String,
        /// For stock found: its unit cost in the SKU's valuation currency (default:
        /// the current average cost).
        unit_cost: Option<String>,
    },
    PlaceOrder {
        order: OrderId,
        customer: CustomerId,
        channel: Channel,
        currency: Currency,
        warehouse: WarehouseId,
        /// `(sku, quantity, unit price)`, each SKU once.
        lines: Vec<(Sku, Decimal, Amount)>,
    },
    CapturePayment {
        order: OrderId,
        amount: Amount,
        currency: Currency,
        reference: String,
    },
    RefundPayment {
        order: OrderId,
        amount: Amount,
        currency: Currency,
        reference: String,
    },
    ShipOrder {
        order: OrderId,
        /// If given, must be the order's warehouse, where its stock is reserved.
        warehouse: Option<WarehouseId>,
        /// `(sku, quantity, bin to take from)`, each SKU once; no bin: any, unbinned
        /// stock first.
        lines: Vec<(Sku, Decimal, Option<Location>)>,
    },
    CancelOrder {
        order: OrderId,
        reason: String,
    },
}

impl CommerceCommand {
    /// The SKUs the command names (an order's own SKUs come with the order).
    pub fn skus(&self) -> Vec<&Sku> {
        match self {
            Self::RegisterProduct { sku, .. }
            | Self::ReceiveStock { sku, .. }
            | Self::TransferStock { sku, .. }
            | Self::AdjustStock { sku, .. } => vec![sku],
            Self::PlaceOrder { lines, .. } => lines.iter().map(|l| &l.0).collect(),
            Self::ShipOrder { lines, .. } => lines.iter().map(|l| &l.0).collect(),
            _ => vec![],
        }
    }

    pub fn order(&self) -> Option<&OrderId> {
        match self {
            Self::PlaceOrder { order, .. }
            | Self::CapturePayment { order, .. }
            | Self::RefundPayment { order, .. }
            | Self::ShipOrder { order, .. }
            | Self::CancelOrder { order, .. } => Some(order),
            _ => None,
        }
    }

    /// The accounts the command may post to, given the orders already loaded.
    pub fn accounts(&self, state: &LedgerState) -> Vec<AccountCode> {
        let mut codes = match self {
            Self::RegisterProduct { .. } | Self::PlaceOrder { .. } | Self::CancelOrder { .. } => {
                vec![]
            }
            Self::ReceiveStock { warehouse, .. } => {
                vec![warehouse.inventory_account(), account(PAYABLE)]
            }
            Self::TransferStock { from, to, .. } => {
                vec![from.0.inventory_account(), to.0.inventory_account()]
            }
            Self::AdjustStock { warehouse, .. } => vec![
                warehouse.inventory_account(),
                account(SHRINKAGE),
                account(INVENTORY_GAINS),
            ],
            Self::CapturePayment { .. } | Self::RefundPayment { .. } => {
                vec![account(CASH), account(RECEIVABLE)]
            }
            Self::ShipOrder { order, .. } => {
                let mut codes = vec![account(RECEIVABLE), account(SALES), account(COGS)];
                if let Some(o) = state.commerce.orders.get(order) {
                    codes.push(o.warehouse.inventory_account());
                }
                codes
            }
        };
        codes.sort();
        codes.dedup();
        codes
    }
}

/// The event a commerce command appends, or the rule it breaks.
pub fn decide(state: &LedgerState, command: &CommerceCommand) -> Result<CommerceEvent, CoreError> {
    let commerce = &state.commerce;
    match command {
        CommerceCommand::RegisterProduct {
            sku,
            name,
            unit,
            quantity_scale,
            warehouses,
        } => {
            if commerce.products.contains_key(sku) {
                return Err(CoreError::ProductExists(sku.to_string()));
            }
            let product = ProductState {
                name: name.clone(),
                unit: unit.clone(),
                quantity_scale: *quantity_scale,
                cost_currency: None,
            };
            for rule in warehouses {
                fits(&product, sku, rule.point)?;
                fits(&product, sku, rule.quantity)?;
            }
            Ok(CommerceEvent::ProductRegistered {
                sku: sku.clone(),
                name: name.clone(),
                unit: unit.clone(),
                quantity_scale: *quantity_scale,
                warehouses: warehouses.clone(),
            })
        }
        CommerceCommand::ReceiveStock {
            sku,
            warehouse,
            location,
            quantity,
            unit_cost,
            currency,
            reference,
        } => {
            let (product, _) = stocked(state, sku, warehouse)?;
            fits(product, sku, *quantity)?;
            if let Some(valued_in) = &product.cost_currency {
                same_currency(&format!("the stock of {sku}"), valued_in, currency)?;
            }
            let value = line_amount(*quantity, unit_cost.value(), currency.scale())?;
            let mut postings = Vec::new();
            pair(
                &mut postings,
                warehouse.inventory_account(),
                account(PAYABLE),
                currency,
                value,
            )?;
            Ok(CommerceEvent::StockReceived {
                sku: sku.clone(),
                warehouse: warehouse.clone(),
                location: location.clone(),
                quantity: *quantity,
                unit_cost: unit_cost.value(),
                currency: currency.clone(),
                value,
                reference: reference.clone(),
                postings,
            })
        }
        CommerceCommand::TransferStock {
            sku,
            from,
            to,
            quantity,
        } => {
            if from == to {
                return Err(CoreError::InvalidField {
                    field: "to",
                    reason: "a transfer moves stock to another warehouse or bin".into(),
                });
            }
            let (product, source) = stocked(state, sku, &from.0)?;
            stocked(state, sku, &to.0)?;
            fits(product, sku, *quantity)?;
            take_from_bin(sku, &from.0, source, &from.1, *quantity)?;
            let across = from.0 != to.0;
            if across && source.available() < *quantity {
                return Err(short(sku, from.0.as_str(), source.available(), *quantity));
            }
            let mut postings = Vec::new();
            let (cost, currency) = match (&product.cost_currency, across) {
                (Some(c), true) => (source.cost_of(*quantity, c.scale()), Some(c.clone())),
                (c, _) => (Decimal::ZERO, c.clone()),
            };
            if let Some(c) = &currency {
                pair(
                    &mut postings,
                    to.0.inventory_account(),
                    from.0.inventory_account(),
                    c,
                    cost,
                )?;
            }
            Ok(CommerceEvent::StockTransferred {
                sku: sku.clone(),
                from: from.clone(),
                to: to.clone(),
                quantity: *quantity,
                cost,
                currency,
                postings,
            })
        }
        CommerceCommand::AdjustStock {
            sku,
            warehouse,
            location,
            quantity,
            reason,
            unit_cost,
        } => {
            let (product, stock) = stocked(state, sku, warehouse)?;
            fits(product, sku, *quantity)?;
            let no_basis = || CoreError::NoCostBasis {
                sku: sku.to_string(),
                warehouse: warehouse.to_string(),
            };
            let mut postings = Vec::new();
            let inventory = warehouse.inventory_account();
            let (value, currency) = if quantity.is_sign_negative() {
                take_from_bin(sku, warehouse, stock, location, -*quantity)?;
                match &product.cost_currency {
                    Some(c) => {
                        let value = stock.cost_of(-*quantity, c.scale());
                        pair(&mut postings, account(SHRINKAGE), inventory, c, value)?;
                        (value, Some(c.clone()))
                    }
                    None => (Decimal::ZERO, None),
                }
            } else {
                let c = product.cost_currency.as_ref().ok_or_else(no_basis)?;
                let value = match unit_cost {
                    Some(unit) => {
                        line_amount(*quantity, Amount::parse(unit, c)?.value(), c.scale())?
                    }
                    None if stock.on_hand > Decimal::ZERO => {
                        line_amount(*quantity, stock.value / stock.on_hand, c.scale())?
                    }
                    None => return Err(no_basis()),
                };
                pair(&mut postings, inventory, account(INVENTORY_GAINS), c, value)?;
                (value, Some(c.clone()))
            };
            Ok(CommerceEvent::StockAdjusted {
                sku: sku.clone(),
                warehouse: warehouse.clone(),
                location: location.clone(),
                quantity: *quantity,
                reason: reason.clone(),
                value,
                currency,
                postings,
            })
        }
        CommerceCommand::PlaceOrder {
            order,
            customer,
            channel,
            currency,
            warehouse,
            lines,
        } => {
            if commerce.orders.contains_key(order) {
                return Err(CoreError::OrderExists(order.to_string()));
            }
            let mut placed = Vec::with_capacity(lines.len());
            let mut total = Decimal::ZERO;
            for (sku, quantity, unit_price) in lines {
                let (product, stock) = stocked(state, sku, warehouse)?;
                fits(product, sku, *quantity)?;
                if stock.available() < *quantity {
                    return Err(short(sku, warehouse.as_str(), stock.available(), *quantity));
                }
                let amount = line_amount(*quantity, unit_price.value(), currency.scale())?;
                total = bounded(total + amount)?;
                placed.push(OrderLine {
                    sku: sku.clone(),
                    quantity: *quantity,
                    unit_price: unit_price.value(),
                    amount,
                });
            }
            Ok(CommerceEvent::OrderPlaced {
                order: order.clone(),
                customer: customer.clone(),
                channel: *channel,
                currency: currency.clone(),
                warehouse: warehouse.clone(),
                lines: placed,
                total,
            })
        }
        CommerceCommand::CapturePayment {
            order,
            amount,
            currency,
            reference,
        } => {
            let o = existing_order(state, order)?;
            if o.cancelled {
                return Err(CoreError::OrderCancelled(order.to_string()));
            }
            same_currency(&format!("order {order}"), &o.currency, currency)?;
            let due = o.total - o.paid();
            if amount.value() > due {
                return Err(CoreError::Overpayment {
                    order: order.to_string(),
                    due,
                    amount: amount.value(),
                });
            }
            let mut postings = Vec::new();
            pair(
                &mut postings,
                account(CASH),
                account(RECEIVABLE),
                currency,
                amount.value(),
            )?;
            Ok(CommerceEvent::PaymentCaptured {
                order: order.clone(),
                amount: amount.value(),
                currency: currency.clone(),
                reference: reference.clone(),
                postings,
            })
        }
        CommerceCommand::RefundPayment {
            order,
            amount,
            currency,
            reference,
        } => {
            let o = existing_order(state, order)?;
            same_currency(&format!("order {order}"), &o.currency, currency)?;
            if amount.value() > o.paid() {
                return Err(CoreError::RefundExceedsPayments {
                    order: order.to_string(),
                    paid: o.paid(),
                    amount: amount.value(),
                });
            }
            let mut postings = Vec::new();
            pair(
                &mut postings,
                account(RECEIVABLE),
                account(CASH),
                currency,
                amount.value(),
            )?;
            Ok(CommerceEvent::PaymentRefunded {
                order: order.clone(),
                amount: amount.value(),
                currency: currency.clone(),
                reference: reference.clone(),
                postings,
            })
        }
        CommerceCommand::ShipOrder {
            order,
            warehouse,
            lines,
        } => decide_shipment(state, order, warehouse.as_ref(), lines),
        CommerceCommand::CancelOrder { order, reason } => {
            let o = existing_order(state, order)?;
            if o.cancelled {
                return Err(CoreError::OrderCancelled(order.to_string()));
            }
            if o.anything_shipped() {
                return Err(CoreError::OrderShipped(order.to_string()));
            }
            Ok(CommerceEvent::OrderCancelled {
                order: order.clone(),
                warehouse: o.warehouse.clone(),
                reason: reason.clone(),
                released: o
                    .lines
                    .iter()
                    .map(|l| (l.line.sku.clone(), l.line.quantity - l.shipped))
                    .collect(),
            })
        }
    }
}

fn decide_shipment(
    state: &LedgerState,
    order: &OrderId,
    from: Option<&WarehouseId>,
    lines: &[(Sku, Decimal, Option<Location>)],
) -> Result<CommerceEvent, CoreError> {
    let o = existing_order(state, order)?;
    if o.cancelled {
        return Err(CoreError::OrderCancelled(order.to_string()));
    }
    let warehouse = &o.warehouse;
    if from.is_some_and(|w| w != warehouse) {
        return Err(CoreError::InvalidField {
            field: "warehouse",
            reason: format!(
                "order {order} holds its stock reserved in {warehouse} and ships from there"
            ),
        });
    }
    let mut shipped = Vec::with_capacity(lines.len());
    let mut revenue = Decimal::ZERO;
    let mut costs: BTreeMap<&str, (Currency, Decimal)> = BTreeMap::new();
    for (sku, quantity, location) in lines {
        let line = o.line(sku).ok_or_else(|| CoreError::NotInOrder {
            order: order.to_string(),
            sku: sku.to_string(),
        })?;
        let (product, stock) = stocked(state, sku, warehouse)?;
        fits(product, sku, *quantity)?;
        let remaining = line.line.quantity - line.shipped;
        if *quantity > remaining {
            return Err(CoreError::OverShipment {
                order: order.to_string(),
                sku: sku.to_string(),
                remaining,
                requested: *quantity,
            });
        }
        let bins = match location {
            Some(_) => {
                take_from_bin(sku, warehouse, stock, location, *quantity)?;
                vec![BinTake {
                    location: location.clone(),
                    quantity: *quantity,
                }]
            }
            None => take_any(sku, warehouse, stock, *quantity)?,
        };
        // Revenue is recognised cumulatively, so the shipments of a line add up to
        // exactly the line's amount however it is split.
        let scale = o.currency.scale();
        let amount = line_amount(line.shipped + quantity, line.line.unit_price, scale)?
            - line.shipped_amount;
        revenue += amount;
        let cost = match &product.cost_currency {
            Some(c) => {
                let cost = stock.cost_of(*quantity, c.scale());
                costs
                    .entry(c.code().as_str())
                    .or_insert_with(|| (c.clone(), Decimal::ZERO))
                    .1 += cost;
                cost
            }
            None => Decimal::ZERO,
        };
        shipped.push(ShippedLine {
            sku: sku.clone(),
            quantity: *quantity,
            amount,
            cost,
            cost_currency: product.cost_currency.clone(),
            bins,
        });
    }
    let mut postings = Vec::new();
    pair(
        &mut postings,
        account(RECEIVABLE),
        account(SALES),
        &o.currency,
        revenue,
    )?;
    for (currency, cost) in costs.into_values() {
        pair(
            &mut postings,
            account(COGS),
            warehouse.inventory_account(),
            &currency,
            cost,
        )?;
    }
    Ok(CommerceEvent::OrderShipped {
        order: order.clone(),
        warehouse: warehouse.clone(),
        currency: o.currency.clone(),
        lines: shipped,
        postings,
    })
}

/// The product and its stock level in the warehouse, or why there is none.
fn stocked<'a>(
    state: &'a LedgerState,
    sku: &Sku,
    warehouse: &WarehouseId,
) -> Result<(&'a ProductState, &'a StockState), CoreError> {
    let product = state
        .commerce
        .products
        .get(sku)
        .ok_or_else(|| CoreError::ProductNotFound(sku.to_string()))?;
    let stock =
        state
            .commerce
            .stock_of(sku, warehouse)
            .ok_or_else(|| CoreError::WarehouseNotFound {
                sku: sku.to_string(),
                warehouse: warehouse.to_string(),
            })?;
    Ok((product, stock))
}

fn existing_order<'a>(
    state: &'a LedgerState,
    order: &OrderId,
) -> Result<&'a OrderState, CoreError> {
    state
        .commerce
        .orders
        .get(order)
        .ok_or_else(|| CoreError::OrderNotFound(order.to_string()))
}

fn fits(product: &ProductState, sku: &Sku, quantity: Decimal) -> Result<(), CoreError> {
    if product.fits(quantity) {
        Ok(())
    } else {
        Err(CoreError::QuantityScale {
            sku: sku.to_string(),
            quantity,
            scale: product.quantity_scale,
        })
    }
}

fn same_currency(what: &str, expected: &Currency, got: &Currency) -> Result<(), CoreError> {
    if expected.code() == got.code() {
        Ok(())
    } else {
        Err(CoreError::WrongCurrency {
            what: what.to_owned(),
            expected: expected.code().to_string(),
            got: got.code().to_string(),
        })
    }
}

fn short(sku: &Sku, place: &str, available: Decimal, requested: Decimal) -> CoreError {
    CoreError::InsufficientStock {
        sku: sku.to_string(),
        place: place.to_owned(),
        available,
        requested,
    }
}

fn take_from_bin(
    sku: &Sku,
    warehouse: &WarehouseId,
    stock: &StockState,
    location: &Option<Location>,
    quantity: Decimal,
) -> Result<(), CoreError> {
    let held = stock.in_bin(location);
    if held < quantity {
        let place = match location {
            Some(l) => format!("{warehouse} bin {l}"),
            None => format!("{warehouse} (no bin)"),
        };
        return Err(short(sku, &place, held, quantity));
    }
    Ok(())
}

/// Takes `quantity` from the warehouse's bins: unbinned stock first, then bins in order.
fn take_any(
    sku: &Sku,
    warehouse: &WarehouseId,
    stock: &StockState,
    quantity: Decimal,
) -> Result<Vec<BinTake>, CoreError> {
    let mut left = quantity;
    let mut takes = Vec::new();
    for (location, held) in &stock.bins {
        if left <= Decimal::ZERO {
            break;
        }
        let take = (*held).min(left);
        if take > Decimal::ZERO {
            takes.push(BinTake {
                location: location.clone(),
                quantity: take,
            });
            left -= take;
        }
    }
    if left > Decimal::ZERO {
        return Err(short(sku, warehouse.as_str(), stock.on_hand, quantity));
    }
    Ok(takes)
}

fn bounded(total: Decimal) -> Result<Decimal, CoreError> {
    if total >= Decimal::from(10u64.pow(crate::core::limits::AMOUNT_INTEGER_DIGITS_MAX)) {
        Err(CoreError::AmountOverflow)
    } else {
        Ok(total)
    }
}

/// Debits `debit` and credits `credit` with `value`, unless it is zero.
fn pair(
    postings: &mut Vec<Posting>,
    debit: AccountCode,
    credit: AccountCode,
    currency: &Currency,
    value: Decimal,
) -> Result<(), CoreError> {
    if value.is_zero() {
        return Ok(());
    }
    let amount = Amount::from_value(value, currency)?;
    postings.push(Posting::new(debit, currency.clone(), Side::Debit, amount));
    postings.push(Posting::new(credit, currency.clone(), Side::Credit, amount));
    Ok(())
}

/// The accounts among `postings` the ledger does not have yet, in order of first use.
pub fn accounts_to_open<'a>(state: &LedgerState, postings: &'a [Posting]) -> Vec<&'a AccountCode> {
    let mut seen = HashSet::new();
    postings
        .iter()
        .map(Posting::account)
        .filter(|code| !state.accounts.contains_key(*code) && seen.insert(*code))
        .collect()
}
