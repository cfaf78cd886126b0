//! Reads events back from the chain format into core values: for reversals (the
//! original's postings), and for anything that replays the log.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::account::{AccountCode, AccountFlags, AccountType};
use super::currency::{Currency, CurrencyBook, CurrencyCode};
use super::entry::Entry;
use super::event::EventBody;
use super::hash::Hash;
use super::ledger::LedgerId;
use super::posting::Posting;
use super::rates::Rate;
use super::CoreError;

/// An event as read from the log, with its place in the chain.
#[derive(Debug, Clone)]
pub struct ReadEvent {
    pub ledger: LedgerId,
    pub seq: u64,
    pub id: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: Hash,
    pub body: EventBody,
}

fn invalid(field: &'static str) -> CoreError {
    CoreError::InvalidField {
        field,
        reason: "not in the chain format".into(),
    }
}

fn text<'a>(value: &'a Value, field: &'static str) -> Result<&'a str, CoreError> {
    value
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(field))
}

pub fn read_event(event: &Value) -> Result<ReadEvent, CoreError> {
    let recorded_at = DateTime::parse_from_rfc3339(text(event, "recorded_at")?)
        .map_err(|_| invalid("recorded_at"))?;
    Ok(ReadEvent {
        ledger: LedgerId::parse(text(event, "ledger")?)?,
        seq: event
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| invalid("seq"))?,
        id: text(event, "id")?.parse().map_err(|_| invalid("id"))?,
        recorded_at: recorded_at.with_timezone(&Utc),
        prev_hash: Hash::from_hex(text(event, "prev_hash")?).ok_or_else(|| invalid("prev_hash"))?,
        body: read_body(event)?,
    })
}

fn read_body(event: &Value) -> Result<EventBody, CoreError> {
    let data = event.get("data").ok_or_else(|| invalid("data"))?;
    let currency = |code: &str| Currency::iso(&CurrencyCode::parse(code)?);
    match text(event, "type")? {
        "ledger.created" => Ok(EventBody::LedgerCreated {
            name: text(data, "name")?.to_owned(),
            base_currency: currency(text(data, "base_currency")?)?,
        }),
        "account.opened" => {
            let flags = data
                .get("flags")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("flags"))?;
            Ok(EventBody::AccountOpened {
                code: AccountCode::parse(text(data, "code")?)?,
                account_type: AccountType::parse(text(data, "type")?)?,
                currency: data
                    .get("currency")
                    .and_then(Value::as_str)
                    .map(|code| match currency(code) {
                        Ok(iso) => Ok(iso),
                        // A custom asset: its scale is in its currency.registered.
                        Err(_) => Currency::custom(
                            CurrencyCode::parse(code)?,
                            data.get("currency_scale")
                                .and_then(Value::as_u64)
                                .ok_or_else(|| invalid("currency_scale"))?
                                as u32,
                        ),
                    })
                    .transpose()?,
                flags: AccountFlags::parse(flags.iter().filter_map(Value::as_str))?,
            })
        }
        "account.closed" => Ok(EventBody::AccountClosed {
            code: AccountCode::parse(text(data, "code")?)?,
        }),
        "transaction.posted" => Ok(EventBody::TransactionPosted {
            entry: read_entry(event, data)?,
        }),
        "transaction.reversed" => Ok(EventBody::TransactionReversed {
            reverses: text(data, "reverses")?
                .parse()
                .map_err(|_| invalid("reverses"))?,
            entry: read_entry(event, data)?,
        }),
        "currency.registered" => Ok(EventBody::CurrencyRegistered {
            code: CurrencyCode::parse(text(data, "code")?)?,
            scale: data
                .get("scale")
                .and_then(Value::as_u64)
                .ok_or_else(|| invalid("scale"))? as u32,
        }),
        "rate.published" => {
            let rates = data
                .get("rates")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("rates"))?;
            let rates = rates
                .iter()
                .map(|r| {
                    Ok(Rate {
                        base: CurrencyCode::parse(text(r, "base")?)?,
                        quote: CurrencyCode::parse(text(r, "quote")?)?,
                        rate: text(r, "rate")?.parse().map_err(|_| invalid("rate"))?,
                        effective_date: NaiveDate::parse_from_str(
                            text(r, "effective_date")?,
                            "%Y-%m-%d",
                        )
                        .map_err(|_| invalid("effective_date"))?,
                    })
                })
                .collect::<Result<_, CoreError>>()?;
            Ok(EventBody::RatesPublished { rates })
        }
        other => super::commerce::read::read(other, data, postings_from_json(event)?)?
            .map(EventBody::Commerce)
            .ok_or_else(|| invalid("type")),
    }
}

fn read_entry(event: &Value, data: &Value) -> Result<Entry, CoreError> {
    let date = NaiveDate::parse_from_str(text(data, "effective_date")?, "%Y-%m-%d")
        .map_err(|_| invalid("effective_date"))?;
    let metadata: Map<String, Value> = data
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    Entry::new(
        postings_from_json(event)?,
        text(data, "description")?.to_owned(),
        Some(date),
        metadata,
    )
}

/// The postings of an event in the chain format.
pub fn postings_from_json(event: &Value) -> Result<Vec<Posting>, CoreError> {
    let list = event
        .get("postings")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("postings"))?;
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            let side = |name: &str| p.get(name).and_then(Value::as_str);
            let currency = text(p, "currency")?;
            // The chain writes every amount at exactly its currency's scale, so a
            // custom asset's scale is read off its amount.
            let mut book = CurrencyBook::default();
            let code = CurrencyCode::parse(currency)?;
            if Currency::iso(&code).is_err() {
                let amount = side("debit").or(side("credit")).unwrap_or("");
                let scale = amount.split_once('.').map_or(0, |(_, f)| f.len() as u32);
                book.register(code, scale);
            }
            Posting::parse_in(
                i,
                text(p, "account")?,
                currency,
                side("debit"),
                side("credit"),
                &book,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::{now_micros, seal};
    use crate::core::money::Amount;
    use crate::core::posting::Side;

    /// Rates, custom assets and entries in them read back exactly as sealed.
    #[test]
    fn reporting_events_read_back_as_sealed() {
        let btc = Currency::custom(CurrencyCode::parse("BTC").unwrap(), 8).unwrap();
        let amount = Amount::parse("0.00000120", &btc).unwrap();
        let posting = |account: &str, side| {
            Posting::new(
                AccountCode::parse(account).unwrap(),
                btc.clone(),
                side,
                amount,
            )
        };
        let bodies = [
            EventBody::CurrencyRegistered {
                code: btc.code().clone(),
                scale: 8,
            },
            EventBody::AccountOpened {
                code: AccountCode::parse("assets:btc").unwrap(),
                account_type: AccountType::Asset,
                currency: Some(btc.clone()),
                flags: AccountFlags::default(),
            },
            EventBody::RatesPublished {
                rates: vec![Rate {
                    base: btc.code().clone(),
                    quote: CurrencyCode::parse("EUR").unwrap(),
                    rate: "61234.5".parse().unwrap(),
                    effective_date: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
                }],
            },
            EventBody::TransactionPosted {
                entry: Entry::new(
                    vec![
                        posting("assets:btc", Side::Debit),
                        posting("equity:capital", Side::Credit),
                    ],
                    "coins".into(),
                    NaiveDate::from_ymd_opt(2026, 3, 2),
                    Map::new(),
                )
                .unwrap(),
            },
        ];
        let ledger = LedgerId::parse("vault").unwrap();
        for (i, body) in bodies.into_iter().enumerate() {
            let sealed = seal(
                &ledger,
                i as u64 + 2,
                Hash::GENESIS,
                Uuid::now_v7(),
                now_micros(),
                &body,
            );
            let read = read_event(&serde_json::from_str(&sealed.canonical).unwrap()).unwrap();
            assert_eq!(read.body, body, "{}", sealed.canonical);
        }
    }
}
