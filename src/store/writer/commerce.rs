//! Products, stock levels and orders: loaded into the writer's state before a batch is
//! decided, and their rows rewritten from that state after it, in the same transaction.

use std::collections::{BTreeMap, BTreeSet};

use deadpool_postgres::ClientWrapper;
use rust_decimal::Decimal;

use crate::core::commerce::event::OrderLine;
use crate::core::commerce::state::{OrderLineState, OrderState, ProductState, StockState};
use crate::core::commerce::{
    Channel, CommerceCommand, CommerceEvent, CustomerId, Location, OrderId, Sku, WarehouseId,
};
use crate::core::currency::{Currency, CurrencyCode};
use crate::core::decide::Command;
use crate::core::event::EventBody;
use crate::core::state::LedgerState;
use crate::core::CoreError;
use crate::store::StoreError;

use super::persist::Plan;

fn corrupt(e: CoreError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn currency(code: &str) -> Result<Currency, StoreError> {
    Currency::iso(&CurrencyCode::parse(code).map_err(corrupt)?).map_err(corrupt)
}

fn location(stored: &str) -> Result<Option<Location>, StoreError> {
    if stored.is_empty() {
        Ok(None)
    } else {
        Location::parse(stored).map(Some).map_err(corrupt)
    }
}

fn commerce_commands<'a>(
    commands: impl Iterator<Item = &'a Command>,
) -> impl Iterator<Item = &'a CommerceCommand> {
    commands.filter_map(|c| match c {
        Command::Commerce(c) => Some(c),
        _ => None,
    })
}

/// Loads the orders, then the products (with every stock level and bin) the commands
/// and those orders name, that the state does not hold yet. Returns the accounts the
/// commands may post to, for the account loader.
pub(super) async fn load<'a>(
    client: &ClientWrapper,
    state: &mut LedgerState,
    commands: impl Iterator<Item = &'a Command> + Clone,
) -> Result<Vec<crate::core::account::AccountCode>, StoreError> {
    let ledger = state.ledger.as_str().to_owned();
    let orders: BTreeSet<&str> = commerce_commands(commands.clone())
        .filter_map(CommerceCommand::order)
        .filter(|o| !state.commerce.orders.contains_key(*o))
        .map(OrderId::as_str)
        .collect();
    if !orders.is_empty() {
        load_orders(client, state, &ledger, orders.into_iter().collect()).await?;
    }
    let mut skus: BTreeSet<String> = BTreeSet::new();
    for command in commerce_commands(commands.clone()) {
        skus.extend(command.skus().into_iter().map(|s| s.as_str().to_owned()));
        if let Some(order) = command.order().and_then(|o| state.commerce.orders.get(o)) {
            skus.extend(order.lines.iter().map(|l| l.line.sku.as_str().to_owned()));
        }
    }
    skus.retain(|s| Sku::parse(s).is_ok_and(|sku| !state.commerce.products.contains_key(&sku)));
    if !skus.is_empty() {
        load_products(client, state, &ledger, skus.into_iter().collect()).await?;
    }
    let mut accounts: Vec<_> = commerce_commands(commands)
        .flat_map(|c| c.accounts(state))
        .collect();
    accounts.sort();
    accounts.dedup();
    Ok(accounts)
}

/// Loads orders by id from their projections into the state (the writer, for commands
/// that name them; a rebuild, for events naming an order forgotten once settled).
pub(crate) async fn load_orders(
    client: &ClientWrapper,
    state: &mut LedgerState,
    ledger: &str,
    ids: Vec<&str>,
) -> Result<(), StoreError> {
    const ORDERS: &str = "SELECT order_id, customer, channel, currency, warehouse, total, captured, refunded, cancelled \
                          FROM orders WHERE ledger_id = $1 AND order_id = ANY($2)";
    const LINES: &str = "SELECT order_id, sku, quantity, unit_price, amount, shipped, shipped_amount \
                         FROM order_lines WHERE ledger_id = $1 AND order_id = ANY($2) ORDER BY order_id, line_no";
    let (orders, lines) = futures_util::try_join!(
        async {
            client
                .query(&client.prepare_cached(ORDERS).await?, &[&ledger, &ids])
                .await
        },
        async {
            client
                .query(&client.prepare_cached(LINES).await?, &[&ledger, &ids])
                .await
        },
    )?;
    let mut by_order: BTreeMap<String, Vec<OrderLineState>> = BTreeMap::new();
    for row in lines {
        let line = OrderLineState {
            line: OrderLine {
                sku: Sku::parse(row.get(1)).map_err(corrupt)?,
                quantity: row.get(2),
                unit_price: row.get(3),
                amount: row.get(4),
            },
            shipped: row.get(5),
            shipped_amount: row.get(6),
        };
        by_order.entry(row.get(0)).or_default().push(line);
    }
    for row in orders {
        let id: String = row.get(0);
        let order = OrderState {
            customer: CustomerId::parse(row.get(1)).map_err(corrupt)?,
            channel: Channel::parse(row.get(2)).map_err(corrupt)?,
            currency: currency(row.get(3))?,
            warehouse: WarehouseId::parse(row.get(4)).map_err(corrupt)?,
            lines: by_order.remove(&id).unwrap_or_default(),
            total: row.get(5),
            captured: row.get(6),
            refunded: row.get(7),
            cancelled: row.get(8),
        };
        state
            .commerce
            .orders
            .insert(OrderId::parse(&id).map_err(corrupt)?, order);
    }
    Ok(())
}

async fn load_products(
    client: &ClientWrapper,
    state: &mut LedgerState,
    ledger: &str,
    skus: Vec<String>,
) -> Result<(), StoreError> {
    const PRODUCTS: &str = "SELECT sku, name, unit, quantity_scale, cost_currency \
                            FROM products WHERE ledger_id = $1 AND sku = ANY($2)";
    const LEVELS: &str = "SELECT sku, warehouse, reorder_point, reorder_quantity, on_hand, reserved, value, reorder_armed \
                          FROM stock_levels WHERE ledger_id = $1 AND sku = ANY($2)";
    const BINS: &str = "SELECT sku, warehouse, location, on_hand \
                        FROM stock_bins WHERE ledger_id = $1 AND sku = ANY($2)";
    let (products, levels, bins) = futures_util::try_join!(
        async {
            client
                .query(&client.prepare_cached(PRODUCTS).await?, &[&ledger, &skus])
                .await
        },
        async {
            client
                .query(&client.prepare_cached(LEVELS).await?, &[&ledger, &skus])
                .await
        },
        async {
            client
                .query(&client.prepare_cached(BINS).await?, &[&ledger, &skus])
                .await
        },
    )?;
    let commerce = &mut state.commerce;
    for row in products {
        let scale: i32 = row.get(3);
        let product = ProductState {
            name: row.get(1),
            unit: row.get(2),
            quantity_scale: scale as u32,
            cost_currency: row.get::<_, Option<&str>>(4).map(currency).transpose()?,
        };
        commerce
            .products
            .insert(Sku::parse(row.get(0)).map_err(corrupt)?, product);
    }
    for row in levels {
        let key = (
            Sku::parse(row.get(0)).map_err(corrupt)?,
            WarehouseId::parse(row.get(1)).map_err(corrupt)?,
        );
        let level = StockState {
            reorder_point: row.get(2),
            reorder_quantity: row.get(3),
            on_hand: row.get(4),
            reserved: row.get(5),
            value: row.get(6),
            bins: BTreeMap::new(),
            reorder_armed: row.get(7),
        };
        commerce.stock.insert(key, level);
    }
    for row in bins {
        let key = (
            Sku::parse(row.get(0)).map_err(corrupt)?,
            WarehouseId::parse(row.get(1)).map_err(corrupt)?,
        );
        let held: Decimal = row.get(3);
        if let Some(level) = commerce.stock.get_mut(&key) {
            level.bins.insert(location(row.get(2))?, held);
        }
    }
    Ok(())
}

/// Rewrites, from the state after the batch, every product, stock level, bin and order
/// the batch's events touched, and adds a sales row per shipped line.
pub(super) async fn persist(
    client: &ClientWrapper,
    state: &LedgerState,
    plan: &Plan,
) -> Result<(), StoreError> {
    let rows = Rows::collect(state, plan);
    if rows.is_empty() {
        return Ok(());
    }
    let l = state.ledger.as_str();
    rows.write(client, l).await
}

#[derive(Default)]
struct Rows<'a> {
    products: BTreeMap<&'a Sku, u64>,
    levels: BTreeMap<(&'a Sku, &'a WarehouseId), u64>,
    /// First and last seq of the batch that touched the order, and when it was placed
    /// if that happened in this batch.
    orders: BTreeMap<&'a OrderId, (u64, u64, Option<chrono::DateTime<chrono::Utc>>)>,
    sales: Vec<SaleRow<'a>>,
    state: Option<&'a LedgerState>,
}

struct SaleRow<'a> {
    seq: i64,
    line_no: i32,
    sku: &'a str,
    order: &'a str,
    quantity: Decimal,
    amount: Decimal,
    sold_on: chrono::NaiveDate,
}

impl<'a> Rows<'a> {
    fn collect(state: &'a LedgerState, plan: &'a Plan) -> Self {
        let mut rows = Rows {
            state: Some(state),
            ..Default::default()
        };
        for (sealed, body) in &plan.events {
            let EventBody::Commerce(event) = body else {
                continue;
            };
            let seq = sealed.seq;
            for (sku, warehouse) in event.stock_keys() {
                rows.products.entry(sku).or_insert(seq);
                rows.levels.insert((sku, warehouse), seq);
            }
            if let Some(order) = event.order() {
                let placed = matches!(event, CommerceEvent::OrderPlaced { .. })
                    .then_some(sealed.recorded_at);
                let entry = rows.orders.entry(order).or_insert((seq, seq, placed));
                entry.1 = seq;
                entry.2 = entry.2.or(placed);
            }
            if let CommerceEvent::OrderShipped { order, lines, .. } = event {
                for (i, line) in lines.iter().enumerate() {
                    rows.sales.push(SaleRow {
                        seq: seq as i64,
                        line_no: i as i32,
                        sku: line.sku.as_str(),
                        order: order.as_str(),
                        quantity: line.quantity,
                        amount: line.amount,
                        sold_on: sealed.recorded_at.date_naive(),
                    });
                }
            }
        }
        rows
    }

    fn is_empty(&self) -> bool {
        self.products.is_empty() && self.orders.is_empty()
    }

    async fn write(&self, client: &ClientWrapper, l: &str) -> Result<(), StoreError> {
        let state = self.state.expect("collected from a state");
        let c = &state.commerce;

        // Products: inserted once, then only their valuation currency changes.
        let mut p_sku = Vec::new();
        let mut p_name = Vec::new();
        let mut p_unit = Vec::new();
        let mut p_scale = Vec::new();
        let mut p_currency = Vec::new();
        let mut p_seq = Vec::new();
        for (sku, seq) in &self.products {
            let product = &c.products[*sku];
            p_sku.push(sku.as_str());
            p_name.push(product.name.as_str());
            p_unit.push(product.unit.as_str());
            p_scale.push(product.quantity_scale as i32);
            p_currency.push(product.cost_currency.as_ref().map(|c| c.code().as_str()));
            p_seq.push(*seq as i64);
        }
        const PRODUCTS: &str = "INSERT INTO products (ledger_id, sku, name, unit, quantity_scale, cost_currency, registered_seq) \
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int4[], $6::text[], $7::int8[]) \
             ON CONFLICT (ledger_id, sku) DO UPDATE SET cost_currency = EXCLUDED.cost_currency";

        let mut s_sku = Vec::new();
        let mut s_wh = Vec::new();
        let mut s_point = Vec::new();
        let mut s_qty = Vec::new();
        let mut s_on_hand = Vec::new();
        let mut s_reserved = Vec::new();
        let mut s_value = Vec::new();
        let mut s_armed = Vec::new();
        let mut s_seq = Vec::new();
        let mut b_sku = Vec::new();
        let mut b_wh = Vec::new();
        let mut b_loc = Vec::new();
        let mut b_on_hand = Vec::new();
        for ((sku, wh), seq) in &self.levels {
            let level = &c.stock[&((*sku).clone(), (*wh).clone())];
            s_sku.push(sku.as_str());
            s_wh.push(wh.as_str());
            s_point.push(level.reorder_point);
            s_qty.push(level.reorder_quantity);
            s_on_hand.push(level.on_hand);
            s_reserved.push(level.reserved);
            s_value.push(level.value);
            s_armed.push(level.reorder_armed);
            s_seq.push(*seq as i64);
            for (loc, held) in &level.bins {
                b_sku.push(sku.as_str());
                b_wh.push(wh.as_str());
                b_loc.push(loc.as_ref().map_or("", Location::as_str));
                b_on_hand.push(*held);
            }
        }
        const LEVELS: &str = "INSERT INTO stock_levels (ledger_id, sku, warehouse, reorder_point, reorder_quantity, on_hand, reserved, value, reorder_armed, last_seq) \
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[], $9::bool[], $10::int8[]) \
             ON CONFLICT (ledger_id, sku, warehouse) DO UPDATE SET on_hand = EXCLUDED.on_hand, reserved = EXCLUDED.reserved, \
             value = EXCLUDED.value, reorder_armed = EXCLUDED.reorder_armed, last_seq = EXCLUDED.last_seq";
        const BINS: &str = "INSERT INTO stock_bins (ledger_id, sku, warehouse, location, on_hand) \
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::numeric[]) \
             ON CONFLICT (ledger_id, sku, warehouse, location) DO UPDATE SET on_hand = EXCLUDED.on_hand";

        let mut o_id = Vec::new();
        let mut o_customer = Vec::new();
        let mut o_channel = Vec::new();
        let mut o_currency = Vec::new();
        let mut o_wh = Vec::new();
        let mut o_total = Vec::new();
        let mut o_captured = Vec::new();
        let mut o_refunded = Vec::new();
        let mut o_cancelled = Vec::new();
        let mut o_status = Vec::new();
        let mut o_placed_seq = Vec::new();
        let mut o_placed_at = Vec::new();
        let mut o_seq = Vec::new();
        let mut ol_order = Vec::new();
        let mut ol_no = Vec::new();
        let mut ol_sku = Vec::new();
        let mut ol_qty = Vec::new();
        let mut ol_price = Vec::new();
        let mut ol_amount = Vec::new();
        let mut ol_shipped = Vec::new();
        let mut ol_shipped_amount = Vec::new();
        for (id, (first_seq, seq, placed_at)) in &self.orders {
            let order = &c.orders[*id];
            o_id.push(id.as_str());
            o_customer.push(order.customer.as_str());
            o_channel.push(order.channel.as_str());
            o_currency.push(order.currency.code().as_str());
            o_wh.push(order.warehouse.as_str());
            o_total.push(order.total);
            o_captured.push(order.captured);
            o_refunded.push(order.refunded);
            o_cancelled.push(order.cancelled);
            o_status.push(order.status().as_str());
            // Only read on insert: an order's first event in this batch placed it.
            o_placed_seq.push(*first_seq as i64);
            o_placed_at.push(placed_at.unwrap_or_else(chrono::Utc::now));
            o_seq.push(*seq as i64);
            for (i, line) in order.lines.iter().enumerate() {
                ol_order.push(id.as_str());
                ol_no.push(i as i32);
                ol_sku.push(line.line.sku.as_str());
                ol_qty.push(line.line.quantity);
                ol_price.push(line.line.unit_price);
                ol_amount.push(line.line.amount);
                ol_shipped.push(line.shipped);
                ol_shipped_amount.push(line.shipped_amount);
            }
        }
        const ORDERS: &str = "INSERT INTO orders (ledger_id, order_id, customer, channel, currency, warehouse, total, captured, refunded, cancelled, status, placed_seq, placed_at, last_seq) \
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[], $8::numeric[], $9::numeric[], $10::bool[], $11::text[], $12::int8[], $13::timestamptz[], $14::int8[]) \
             ON CONFLICT (ledger_id, order_id) DO UPDATE SET captured = EXCLUDED.captured, refunded = EXCLUDED.refunded, \
             cancelled = EXCLUDED.cancelled, status = EXCLUDED.status, last_seq = EXCLUDED.last_seq";
        const LINES: &str = "INSERT INTO order_lines (ledger_id, order_id, line_no, sku, quantity, unit_price, amount, shipped, shipped_amount) \
             SELECT $1, * FROM unnest($2::text[], $3::int4[], $4::text[], $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[], $9::numeric[]) \
             ON CONFLICT (ledger_id, order_id, line_no) DO UPDATE SET shipped = EXCLUDED.shipped, shipped_amount = EXCLUDED.shipped_amount";

        let mut sa_seq = Vec::new();
        let mut sa_no = Vec::new();
        let mut sa_sku = Vec::new();
        let mut sa_order = Vec::new();
        let mut sa_customer = Vec::new();
        let mut sa_channel = Vec::new();
        let mut sa_currency = Vec::new();
        let mut sa_qty = Vec::new();
        let mut sa_amount = Vec::new();
        let mut sa_on = Vec::new();
        for sale in &self.sales {
            let order = &c.orders[&OrderId::parse(sale.order).expect("a parsed id")];
            sa_seq.push(sale.seq);
            sa_no.push(sale.line_no);
            sa_sku.push(sale.sku);
            sa_order.push(sale.order);
            sa_customer.push(order.customer.as_str());
            sa_channel.push(order.channel.as_str());
            sa_currency.push(order.currency.code().as_str());
            sa_qty.push(sale.quantity);
            sa_amount.push(sale.amount);
            sa_on.push(sale.sold_on);
        }
        const SALES: &str = "INSERT INTO sales (ledger_id, seq, line_no, sku, order_id, customer, channel, currency, quantity, amount, sold_on) \
             SELECT $1, * FROM unnest($2::int8[], $3::int4[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::numeric[], $10::numeric[], $11::date[])";

        // Parents before children: the foreign keys are checked per statement.
        if !p_sku.is_empty() {
            client
                .execute(
                    &client.prepare_cached(PRODUCTS).await?,
                    &[&l, &p_sku, &p_name, &p_unit, &p_scale, &p_currency, &p_seq],
                )
                .await?;
        }
        if !s_sku.is_empty() {
            client
                .execute(
                    &client.prepare_cached(LEVELS).await?,
                    &[
                        &l,
                        &s_sku,
                        &s_wh,
                        &s_point,
                        &s_qty,
                        &s_on_hand,
                        &s_reserved,
                        &s_value,
                        &s_armed,
                        &s_seq,
                    ],
                )
                .await?;
        }
        if !b_sku.is_empty() {
            client
                .execute(
                    &client.prepare_cached(BINS).await?,
                    &[&l, &b_sku, &b_wh, &b_loc, &b_on_hand],
                )
                .await?;
        }
        if !o_id.is_empty() {
            client
                .execute(
                    &client.prepare_cached(ORDERS).await?,
                    &[
                        &l,
                        &o_id,
                        &o_customer,
                        &o_channel,
                        &o_currency,
                        &o_wh,
                        &o_total,
                        &o_captured,
                        &o_refunded,
                        &o_cancelled,
                        &o_status,
                        &o_placed_seq,
                        &o_placed_at,
                        &o_seq,
                    ],
                )
                .await?;
        }
        if !ol_order.is_empty() {
            client
                .execute(
                    &client.prepare_cached(LINES).await?,
                    &[
                        &l,
                        &ol_order,
                        &ol_no,
                        &ol_sku,
                        &ol_qty,
                        &ol_price,
                        &ol_amount,
                        &ol_shipped,
                        &ol_shipped_amount,
                    ],
                )
                .await?;
        }
        if !sa_seq.is_empty() {
            client
                .execute(
                    &client.prepare_cached(SALES).await?,
                    &[
                        &l,
                        &sa_seq,
                        &sa_no,
                        &sa_sku,
                        &sa_order,
                        &sa_customer,
                        &sa_channel,
                        &sa_currency,
                        &sa_qty,
                        &sa_amount,
                        &sa_on,
                    ],
                )
                .await?;
        }
        Ok(())
    }
}
