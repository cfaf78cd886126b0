//! What the writer knows of products, stock and orders, and how events fold into it.
//! Like accounts, entries are loaded lazily: an entry missing here is unknown to
//! `decide`, so the store loads every product, stock level and order a command names.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;

use crate::core::currency::Currency;

use super::event::{CommerceEvent, OrderLine, ReorderRule};
use super::ids::{round_money, Channel, CustomerId, Location, OrderId, Sku, WarehouseId};

#[derive(Debug, Clone, PartialEq)]
pub struct ProductState {
    pub name: String,
    pub unit: String,
    pub quantity_scale: u32,
    /// The currency the SKU is valued in: that of its first receipt.
    pub cost_currency: Option<Currency>,
}

impl ProductState {
    /// Whether `quantity` has no more decimals than the unit allows.
    pub fn fits(&self, quantity: Decimal) -> bool {
        quantity.normalize().scale() <= self.quantity_scale
    }
}

/// One SKU in one warehouse.
#[derive(Debug, Clone, PartialEq)]
pub struct StockState {
    pub reorder_point: Decimal,
    pub reorder_quantity: Decimal,
    pub on_hand: Decimal,
    /// Ordered but not yet shipped.
    pub reserved: Decimal,
    /// Exactly the sum of what was posted to the warehouse's inventory account for
    /// this SKU, so the warehouse's inventory value always equals that balance.
    pub value: Decimal,
    /// On hand per bin; `None` is stock received without a bin.
    pub bins: BTreeMap<Option<Location>, Decimal>,
    /// True while available stock is above the reorder point: the next fall to the
    /// point requests a reorder and disarms it.
    pub reorder_armed: bool,
}

impl StockState {
    pub fn new(rule: &ReorderRule) -> Self {
        Self {
            reorder_point: rule.point,
            reorder_quantity: rule.quantity,
            on_hand: Decimal::ZERO,
            reserved: Decimal::ZERO,
            value: Decimal::ZERO,
            bins: BTreeMap::new(),
            reorder_armed: false,
        }
    }

    pub fn available(&self) -> Decimal {
        self.on_hand - self.reserved
    }

    pub fn in_bin(&self, location: &Option<Location>) -> Decimal {
        self.bins.get(location).copied().unwrap_or_default()
    }

    /// The cost of `quantity` units at the weighted average: the whole value when the
    /// last units leave, so no value is ever stranded by rounding.
    pub fn cost_of(&self, quantity: Decimal, scale: u32) -> Decimal {
        if quantity >= self.on_hand || self.on_hand <= Decimal::ZERO {
            return self.value;
        }
        round_money(self.value * quantity / self.on_hand, scale)
    }

    fn change(&mut self, location: &Option<Location>, quantity: Decimal) {
        self.on_hand += quantity;
        *self.bins.entry(location.clone()).or_default() += quantity;
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderLineState {
    pub line: OrderLine,
    pub shipped: Decimal,
    /// Revenue recognised so far for this line.
    pub shipped_amount: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Placed,
    PartiallyShipped,
    Shipped,
    Completed,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Placed => "placed",
            Self::PartiallyShipped => "partially_shipped",
            Self::Shipped => "shipped",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Placed,
            Self::PartiallyShipped,
            Self::Shipped,
            Self::Completed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderState {
    pub customer: CustomerId,
    pub channel: Channel,
    pub currency: Currency,
    pub warehouse: WarehouseId,
    pub lines: Vec<OrderLineState>,
    pub total: Decimal,
    pub captured: Decimal,
    pub refunded: Decimal,
    pub cancelled: bool,
}

impl OrderState {
    pub fn paid(&self) -> Decimal {
        self.captured - self.refunded
    }

    pub fn fully_paid(&self) -> bool {
        self.paid() >= self.total
    }

    pub fn line(&self, sku: &Sku) -> Option<&OrderLineState> {
        self.lines.iter().find(|l| &l.line.sku == sku)
    }

    pub fn anything_shipped(&self) -> bool {
        self.lines.iter().any(|l| l.shipped > Decimal::ZERO)
    }

    /// Derived from the events: cancelled; completed once fully shipped and fully
    /// paid; else how much has shipped.
    pub fn status(&self) -> OrderStatus {
        let all_shipped = self.lines.iter().all(|l| l.shipped >= l.line.quantity);
        if self.cancelled {
            OrderStatus::Cancelled
        } else if all_shipped && self.fully_paid() {
            OrderStatus::Completed
        } else if all_shipped {
            OrderStatus::Shipped
        } else if self.anything_shipped() {
            OrderStatus::PartiallyShipped
        } else {
            OrderStatus::Placed
        }
    }

    pub fn payment_status(&self) -> &'static str {
        let paid = self.paid();
        if paid >= self.total {
            "paid"
        } else if paid > Decimal::ZERO {
            "partially_paid"
        } else {
            "unpaid"
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CommerceState {
    pub products: HashMap<Sku, ProductState>,
    pub stock: HashMap<(Sku, WarehouseId), StockState>,
    pub orders: HashMap<OrderId, OrderState>,
}

impl CommerceState {
    pub fn stock_of(&self, sku: &Sku, warehouse: &WarehouseId) -> Option<&StockState> {
        self.stock.get(&(sku.clone(), warehouse.clone()))
    }

    fn stock_mut(&mut self, sku: &Sku, warehouse: &WarehouseId) -> &mut StockState {
        self.stock
            .get_mut(&(sku.clone(), warehouse.clone()))
            .expect("decide checked the stock level exists")
    }

    fn order_mut(&mut self, order: &OrderId) -> &mut OrderState {
        self.orders
            .get_mut(order)
            .expect("decide checked the order exists")
    }

    /// Folds an event in. It cannot fail: `decide` checked it.
    pub fn apply(&mut self, event: &CommerceEvent) {
        match event {
            CommerceEvent::ProductRegistered {
                sku,
                name,
                unit,
                quantity_scale,
                warehouses,
            } => {
                self.products.insert(
                    sku.clone(),
                    ProductState {
                        name: name.clone(),
                        unit: unit.clone(),
                        quantity_scale: *quantity_scale,
                        cost_currency: None,
                    },
                );
                for rule in warehouses {
                    self.stock
                        .insert((sku.clone(), rule.warehouse.clone()), StockState::new(rule));
                }
            }
            CommerceEvent::StockReceived {
                sku,
                warehouse,
                location,
                quantity,
                currency,
                value,
                ..
            } => {
                let stock = self.stock_mut(sku, warehouse);
                stock.change(location, *quantity);
                stock.value += value;
                if let Some(product) = self.products.get_mut(sku) {
                    product
                        .cost_currency
                        .get_or_insert_with(|| currency.clone());
                }
            }
            CommerceEvent::StockTransferred {
                sku,
                from,
                to,
                quantity,
                cost,
                ..
            } => {
                let source = self.stock_mut(sku, &from.0);
                source.change(&from.1, -*quantity);
                source.value -= cost;
                let target = self.stock_mut(sku, &to.0);
                target.change(&to.1, *quantity);
                target.value += cost;
            }
            CommerceEvent::StockAdjusted {
                sku,
                warehouse,
                location,
                quantity,
                value,
                ..
            } => {
                let stock = self.stock_mut(sku, warehouse);
                stock.change(location, *quantity);
                if quantity.is_sign_negative() {
                    stock.value -= value;
                } else {
                    stock.value += value;
                }
            }
            CommerceEvent::OrderPlaced {
                order,
                customer,
                channel,
                currency,
                warehouse,
                lines,
                total,
            } => {
                for line in lines {
                    self.stock_mut(&line.sku, warehouse).reserved += line.quantity;
                }
                self.orders.insert(
                    order.clone(),
                    OrderState {
                        customer: customer.clone(),
                        channel: *channel,
                        currency: currency.clone(),
                        warehouse: warehouse.clone(),
                        lines: lines
                            .iter()
                            .map(|line| OrderLineState {
                                line: line.clone(),
                                shipped: Decimal::ZERO,
                                shipped_amount: Decimal::ZERO,
                            })
                            .collect(),
                        total: *total,
                        captured: Decimal::ZERO,
                        refunded: Decimal::ZERO,
                        cancelled: false,
                    },
                );
            }
            CommerceEvent::PaymentCaptured { order, amount, .. } => {
                self.order_mut(order).captured += amount;
            }
            CommerceEvent::PaymentRefunded { order, amount, .. } => {
                self.order_mut(order).refunded += amount;
            }
            CommerceEvent::OrderShipped {
                order,
                warehouse,
                lines,
                ..
            } => {
                for shipped in lines {
                    let stock = self.stock_mut(&shipped.sku, warehouse);
                    stock.reserved -= shipped.quantity;
                    stock.value -= shipped.cost;
                    for bin in &shipped.bins {
                        stock.change(&bin.location, -bin.quantity);
                    }
                    let state = self.order_mut(order);
                    if let Some(line) = state.lines.iter_mut().find(|l| l.line.sku == shipped.sku) {
                        line.shipped += shipped.quantity;
                        line.shipped_amount += shipped.amount;
                    }
                }
            }
            CommerceEvent::OrderCancelled {
                order,
                warehouse,
                released,
                ..
            } => {
                for (sku, quantity) in released {
                    self.stock_mut(sku, warehouse).reserved -= quantity;
                }
                self.order_mut(order).cancelled = true;
            }
            CommerceEvent::ReorderRequested { sku, warehouse, .. } => {
                self.stock_mut(sku, warehouse).reorder_armed = false;
                return;
            }
        }
        for (sku, warehouse) in event.stock_keys() {
            if let Some(stock) = self.stock.get_mut(&(sku.clone(), warehouse.clone())) {
                if stock.available() > stock.reorder_point {
                    stock.reorder_armed = true;
                }
            }
        }
    }

    /// Drops completed and cancelled orders, so the writer's memory does not grow with
    /// the number of orders ever placed. Few commands name them again; those that do
    /// load them afresh from the projection, like any order not in memory.
    pub fn forget_settled(&mut self) {
        self.orders
            .retain(|_, o| !matches!(o.status(), OrderStatus::Completed | OrderStatus::Cancelled));
    }

    /// The reorders `event` (already applied) makes due: each stock level it touched
    /// whose available stock fell to or below its point while armed.
    pub fn reorders_due(&self, event: &CommerceEvent) -> Vec<CommerceEvent> {
        if matches!(event, CommerceEvent::ReorderRequested { .. }) {
            return vec![];
        }
        event
            .stock_keys()
            .into_iter()
            .filter_map(|(sku, warehouse)| {
                let stock = self.stock_of(sku, warehouse)?;
                let due = stock.reorder_armed
                    && stock.reorder_quantity > Decimal::ZERO
                    && stock.available() <= stock.reorder_point;
                due.then(|| CommerceEvent::ReorderRequested {
                    sku: sku.clone(),
                    warehouse: warehouse.clone(),
                    available: stock.available(),
                    reorder_point: stock.reorder_point,
                    suggested_quantity: stock.reorder_quantity,
                })
            })
            .collect()
    }
}
