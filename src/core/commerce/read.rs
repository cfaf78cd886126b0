//! Reads commerce events back from the chain format, for anything that replays the log
//! (a rebuild folds them into the same state the writer kept).

use rust_decimal::Decimal;
use serde_json::Value;

use crate::core::currency::{Currency, CurrencyCode};
use crate::core::posting::Posting;
use crate::core::CoreError;

use super::event::{BinTake, CommerceEvent, OrderLine, ReorderRule, ShippedLine};
use super::ids::{Channel, CustomerId, Location, OrderId, Sku, WarehouseId};

fn invalid(field: &'static str) -> CoreError {
    CoreError::InvalidField {
        field,
        reason: "not in the chain format".into(),
    }
}

fn text<'a>(v: &'a Value, field: &'static str) -> Result<&'a str, CoreError> {
    v.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(field))
}

fn opt_text<'a>(v: &'a Value, field: &'static str) -> Option<&'a str> {
    v.get(field).and_then(Value::as_str)
}

fn number(v: &Value, field: &'static str) -> Result<Decimal, CoreError> {
    text(v, field)?.parse().map_err(|_| invalid(field))
}

fn list<'a>(v: &'a Value, field: &'static str) -> Result<&'a Vec<Value>, CoreError> {
    v.get(field)
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(field))
}

fn currency(code: &str) -> Result<Currency, CoreError> {
    Currency::iso(&CurrencyCode::parse(code)?)
}

fn opt_currency(v: &Value, field: &'static str) -> Result<Option<Currency>, CoreError> {
    opt_text(v, field).map(currency).transpose()
}

fn location(v: &Value) -> Result<Option<Location>, CoreError> {
    opt_text(v, "location").map(Location::parse).transpose()
}

fn sku(v: &Value) -> Result<Sku, CoreError> {
    Sku::parse(text(v, "sku")?)
}

fn warehouse(v: &Value) -> Result<WarehouseId, CoreError> {
    WarehouseId::parse(text(v, "warehouse")?)
}

fn order(v: &Value) -> Result<OrderId, CoreError> {
    OrderId::parse(text(v, "order")?)
}

/// The commerce event of type `kind`, or `None` when `kind` is not a commerce type.
pub fn read(
    kind: &str,
    data: &Value,
    postings: Vec<Posting>,
) -> Result<Option<CommerceEvent>, CoreError> {
    let event = match kind {
        "product.registered" => CommerceEvent::ProductRegistered {
            sku: sku(data)?,
            name: text(data, "name")?.to_owned(),
            unit: text(data, "unit")?.to_owned(),
            quantity_scale: data
                .get("quantity_scale")
                .and_then(Value::as_u64)
                .ok_or_else(|| invalid("quantity_scale"))? as u32,
            warehouses: list(data, "warehouses")?
                .iter()
                .map(|w| {
                    Ok(ReorderRule {
                        warehouse: warehouse(w)?,
                        point: number(w, "reorder_point")?,
                        quantity: number(w, "reorder_quantity")?,
                    })
                })
                .collect::<Result<_, CoreError>>()?,
        },
        "stock.received" => CommerceEvent::StockReceived {
            sku: sku(data)?,
            warehouse: warehouse(data)?,
            location: location(data)?,
            quantity: number(data, "quantity")?,
            unit_cost: number(data, "unit_cost")?,
            currency: currency(text(data, "currency")?)?,
            value: number(data, "value")?,
            reference: text(data, "reference")?.to_owned(),
            postings,
        },
        "stock.transferred" => {
            let place = |field| -> Result<(WarehouseId, Option<Location>), CoreError> {
                let p = data.get(field).ok_or_else(|| invalid(field))?;
                Ok((warehouse(p)?, location(p)?))
            };
            CommerceEvent::StockTransferred {
                sku: sku(data)?,
                from: place("from")?,
                to: place("to")?,
                quantity: number(data, "quantity")?,
                cost: number(data, "cost")?,
                currency: opt_currency(data, "currency")?,
                postings,
            }
        }
        "stock.adjusted" => CommerceEvent::StockAdjusted {
            sku: sku(data)?,
            warehouse: warehouse(data)?,
            location: location(data)?,
            quantity: number(data, "quantity")?,
            reason: text(data, "reason")?.to_owned(),
            value: number(data, "value")?,
            currency: opt_currency(data, "currency")?,
            postings,
        },
        "order.placed" => CommerceEvent::OrderPlaced {
            order: order(data)?,
            customer: CustomerId::parse(text(data, "customer")?)?,
            channel: Channel::parse(text(data, "channel")?)?,
            currency: currency(text(data, "currency")?)?,
            warehouse: warehouse(data)?,
            lines: list(data, "lines")?
                .iter()
                .map(|l| {
                    Ok(OrderLine {
                        sku: sku(l)?,
                        quantity: number(l, "quantity")?,
                        unit_price: number(l, "unit_price")?,
                        amount: number(l, "amount")?,
                    })
                })
                .collect::<Result<_, CoreError>>()?,
            total: number(data, "total")?,
        },
        "payment.captured" | "payment.refunded" => {
            let (order, amount, currency, reference) = (
                order(data)?,
                number(data, "amount")?,
                currency(text(data, "currency")?)?,
                text(data, "reference")?.to_owned(),
            );
            if kind == "payment.captured" {
                CommerceEvent::PaymentCaptured {
                    order,
                    amount,
                    currency,
                    reference,
                    postings,
                }
            } else {
                CommerceEvent::PaymentRefunded {
                    order,
                    amount,
                    currency,
                    reference,
                    postings,
                }
            }
        }
        "order.shipped" => {
            let warehouse = warehouse(data)?;
            let mut lines: Vec<ShippedLine> = list(data, "lines")?
                .iter()
                .map(|l| {
                    Ok(ShippedLine {
                        sku: sku(l)?,
                        quantity: number(l, "quantity")?,
                        amount: number(l, "amount")?,
                        cost: number(l, "cost")?,
                        cost_currency: opt_currency(l, "cost_currency")?,
                        bins: Vec::new(),
                    })
                })
                .collect::<Result<_, CoreError>>()?;
            // The bins each line took from are its movements, in order.
            for m in list(data, "movements")? {
                let sku = sku(m)?;
                let line = lines
                    .iter_mut()
                    .find(|l| l.sku == sku)
                    .ok_or_else(|| invalid("movements"))?;
                line.bins.push(BinTake {
                    location: location(m)?,
                    quantity: -number(m, "quantity")?,
                });
            }
            CommerceEvent::OrderShipped {
                order: order(data)?,
                warehouse,
                currency: currency(text(data, "currency")?)?,
                lines,
                postings,
            }
        }
        "order.cancelled" => CommerceEvent::OrderCancelled {
            order: order(data)?,
            warehouse: warehouse(data)?,
            reason: text(data, "reason")?.to_owned(),
            released: list(data, "released")?
                .iter()
                .map(|r| Ok((sku(r)?, number(r, "quantity")?)))
                .collect::<Result<_, CoreError>>()?,
        },
        "stock.reorder_requested" => CommerceEvent::ReorderRequested {
            sku: sku(data)?,
            warehouse: warehouse(data)?,
            available: number(data, "available")?,
            reorder_point: number(data, "reorder_point")?,
            suggested_quantity: number(data, "suggested_quantity")?,
        },
        _ => return Ok(None),
    };
    Ok(Some(event))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::core::chain_read::read_event;
    use crate::core::decide::{decide, Command};
    use crate::core::event::{seal, EventBody};
    use crate::core::hash::Hash;
    use crate::core::ledger::LedgerId;
    use crate::core::state::LedgerState;

    use super::super::decide::CommerceCommand as C;
    use super::super::event::ReorderRule;
    use super::super::ids::{Channel, CustomerId, Location, OrderId, Sku, WarehouseId};
    use crate::core::currency::{Currency, CurrencyCode};
    use crate::core::money::Amount;

    fn eur() -> Currency {
        Currency::iso(&CurrencyCode::parse("EUR").unwrap()).unwrap()
    }

    fn eur_amount(s: &str) -> Amount {
        Amount::parse(s, &eur()).unwrap()
    }

    /// Every kind of commerce event, sealed and read back from its canonical JSON,
    /// is the event that was sealed: replaying the log folds exactly what the writer
    /// folded.
    #[test]
    fn every_commerce_event_reads_back_as_sealed() {
        let ledger = LedgerId::parse("shop").unwrap();
        let mut state = LedgerState::new(ledger.clone(), 0, Hash::GENESIS);
        let sku = || Sku::parse("MUG").unwrap();
        let berlin = || WarehouseId::parse("berlin").unwrap();
        let paris = || WarehouseId::parse("paris").unwrap();
        let order = || OrderId::parse("O-1").unwrap();
        let bin = || Some(Location::parse("A-1").unwrap());
        let commands = vec![
            Command::CreateLedger {
                name: "Shop".into(),
                base_currency: eur(),
            },
            Command::Commerce(C::RegisterProduct {
                sku: sku(),
                name: "Mug \"ceramic\" ☕".into(),
                unit: "each".into(),
                quantity_scale: 0,
                warehouses: vec![
                    ReorderRule {
                        warehouse: berlin(),
                        point: 8.into(),
                        quantity: 20.into(),
                    },
                    ReorderRule {
                        warehouse: paris(),
                        point: 0.into(),
                        quantity: 0.into(),
                    },
                ],
            }),
            Command::Commerce(C::ReceiveStock {
                sku: sku(),
                warehouse: berlin(),
                location: bin(),
                quantity: 6.into(),
                unit_cost: eur_amount("4.10"),
                currency: eur(),
                reference: "PO-1".into(),
            }),
            Command::Commerce(C::ReceiveStock {
                sku: sku(),
                warehouse: berlin(),
                location: None,
                quantity: 6.into(),
                unit_cost: eur_amount("3.95"),
                currency: eur(),
                reference: String::new(),
            }),
            Command::Commerce(C::TransferStock {
                sku: sku(),
                from: (berlin(), None),
                to: (paris(), None),
                quantity: 1.into(),
            }),
            Command::Commerce(C::AdjustStock {
                sku: sku(),
                warehouse: berlin(),
                location: bin(),
                quantity: (-1).into(),
                reason: "count".into(),
                unit_cost: None,
            }),
            Command::Commerce(C::PlaceOrder {
                order: order(),
                customer: CustomerId::parse("ann").unwrap(),
                channel: Channel::Wholesale,
                currency: eur(),
                warehouse: berlin(),
                lines: vec![(sku(), 7.into(), eur_amount("9.99"))],
            }),
            Command::Commerce(C::CapturePayment {
                order: order(),
                amount: eur_amount("10.00"),
                currency: eur(),
                reference: "psp-1".into(),
            }),
            Command::Commerce(C::RefundPayment {
                order: order(),
                amount: eur_amount("1.00"),
                currency: eur(),
                reference: String::new(),
            }),
            Command::Commerce(C::ShipOrder {
                order: order(),
                warehouse: None,
                lines: vec![(sku(), 6.into(), None)],
            }),
            Command::Commerce(C::PlaceOrder {
                order: OrderId::parse("O-2").unwrap(),
                customer: CustomerId::parse("bob").unwrap(),
                channel: Channel::Online,
                currency: eur(),
                warehouse: berlin(),
                lines: vec![(sku(), 1.into(), eur_amount("9.99"))],
            }),
            Command::Commerce(C::CancelOrder {
                order: OrderId::parse("O-2").unwrap(),
                reason: "changed mind".into(),
            }),
        ];
        let mut kinds = std::collections::BTreeSet::new();
        for command in commands {
            let decision = decide(&state, &command).unwrap_or_else(|e| panic!("{command:?}: {e}"));
            let mut bodies = decision.opens;
            bodies.push(decision.event);
            let mut i = 0;
            while i < bodies.len() {
                let body = bodies[i].clone();
                let seq = state.head_seq + 1;
                let sealed = seal(
                    &ledger,
                    seq,
                    state.head_hash,
                    uuid::Uuid::now_v7(),
                    crate::core::event::now_micros(),
                    &body,
                );
                let read = read_event(&serde_json::from_str(&sealed.canonical).unwrap()).unwrap();
                assert_eq!(read.body, body, "{}", sealed.canonical);
                assert_eq!(read.seq, seq);
                kinds.insert(sealed.type_name);
                state.apply(&body, seq, sealed.hash);
                if let EventBody::Commerce(c) = &body {
                    bodies.extend(
                        state
                            .commerce
                            .reorders_due(c)
                            .into_iter()
                            .map(EventBody::Commerce),
                    );
                }
                i += 1;
            }
        }
        let expected = json!([
            "account.opened",
            "ledger.created",
            "order.cancelled",
            "order.placed",
            "order.shipped",
            "payment.captured",
            "payment.refunded",
            "product.registered",
            "stock.adjusted",
            "stock.received",
            "stock.reorder_requested",
            "stock.transferred"
        ]);
        assert_eq!(json!(kinds), expected);
    }
}
