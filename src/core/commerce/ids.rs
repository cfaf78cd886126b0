//! Identifiers of the commerce world and the quantities it moves.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::core::account::AccountCode;
use crate::core::currency::truncate;
use crate::core::{limits, CoreError};

/// Checks an identifier: 1..=max bytes, a first byte from `first`, the rest from `rest`.
fn identifier(
    field: &'static str,
    s: &str,
    max: usize,
    first: fn(u8) -> bool,
    rest: fn(u8) -> bool,
    rule: &str,
) -> Result<String, CoreError> {
    let ok =
        !s.is_empty() && s.len() <= max && first(s.as_bytes()[0]) && s.bytes().skip(1).all(rest);
    if ok {
        Ok(s.to_owned())
    } else {
        Err(CoreError::InvalidField {
            field,
            reason: format!("{:?}: use 1-{max} {rule}", truncate(s)),
        })
    }
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

fn lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn lower_rest(b: u8) -> bool {
    lower(b) || b == b'_' || b == b'-'
}

fn bin_byte(b: u8) -> bool {
    name_byte(b) || b == b'/'
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr, $first:expr, $rest:expr, $rule:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, CoreError> {
                identifier($field, s, $max, $first, $rest, $rule).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A stock-keeping unit, e.g. `TSHIRT-RED-M`.
    Sku, "sku", limits::COMMERCE_ID_BYTES_MAX, alnum, name_byte,
    "characters of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
);
id_type!(
    /// A warehouse. It names an account segment (`assets:inventory:{warehouse}`), so it
    /// follows the account code rules.
    WarehouseId, "warehouse", limits::WAREHOUSE_ID_BYTES_MAX, lower, lower_rest,
    "characters of a-z, 0-9, '_' and '-', starting with a letter or digit"
);
id_type!(
    /// A bin inside a warehouse, e.g. `A-01/3`.
    Location, "location", limits::COMMERCE_ID_BYTES_MAX, alnum, bin_byte,
    "characters of A-Z, a-z, 0-9, '.', '_', '-' and '/', starting with a letter or digit"
);
id_type!(
    /// An order, chosen by the client (an ERP's order number) or by the service.
    OrderId, "order", limits::COMMERCE_ID_BYTES_MAX, alnum, name_byte,
    "characters of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
);
id_type!(
    /// A customer, as the client's CRM names it.
    CustomerId, "customer", limits::COMMERCE_ID_BYTES_MAX, alnum, name_byte,
    "characters of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
);

impl WarehouseId {
    /// `assets:inventory:{warehouse}`: the value of the stock it holds.
    pub fn inventory_account(&self) -> AccountCode {
        AccountCode::parse(&format!("assets:inventory:{}", self.0))
            .expect("a warehouse id is a valid account segment")
    }
}

/// Where an order came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Online,
    Retail,
    Wholesale,
}

impl Channel {
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        match s {
            "online" => Ok(Self::Online),
            "retail" => Ok(Self::Retail),
            "wholesale" => Ok(Self::Wholesale),
            other => Err(CoreError::InvalidField {
                field: "channel",
                reason: format!(
                    "{:?}: expected online, retail or wholesale",
                    truncate(other)
                ),
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Retail => "retail",
            Self::Wholesale => "wholesale",
        }
    }
}

/// Parses a quantity as a client sent it: a decimal string, at most
/// `QUANTITY_INTEGER_DIGITS_MAX` digits before the point and `QUANTITY_SCALE_MAX` after,
/// never zero. A sign is accepted only where a quantity may be negative (adjustments).
/// Whether the product's unit allows the decimals is decided against the product.
pub fn parse_quantity(field: &'static str, s: &str, signed: bool) -> Result<Decimal, CoreError> {
    let q = parse_level(field, s, signed)?;
    if q.is_zero() {
        return Err(CoreError::InvalidQuantity {
            field,
            value: truncate(s),
            reason: "must not be zero".into(),
        });
    }
    Ok(q)
}

/// Like `parse_quantity`, but zero is a valid level (a reorder point of 0).
pub fn parse_level(field: &'static str, s: &str, signed: bool) -> Result<Decimal, CoreError> {
    let invalid = |reason: &str| CoreError::InvalidQuantity {
        field,
        value: truncate(s),
        reason: reason.to_owned(),
    };
    let unsigned = match s.strip_prefix('-') {
        Some(rest) if signed => rest,
        Some(_) => return Err(invalid("must be positive")),
        None => s,
    };
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !frac.is_none_or(digits) {
        return Err(invalid(
            "expected a decimal string such as \"3\" or \"1.5\"",
        ));
    }
    if int.trim_start_matches('0').len() > limits::QUANTITY_INTEGER_DIGITS_MAX as usize {
        return Err(invalid(&format!(
            "at most {} digits before the decimal point",
            limits::QUANTITY_INTEGER_DIGITS_MAX
        )));
    }
    if frac.map_or(0, str::len) > limits::QUANTITY_SCALE_MAX as usize {
        return Err(invalid(&format!(
            "at most {} decimals",
            limits::QUANTITY_SCALE_MAX
        )));
    }
    let value: Decimal = s.parse().map_err(|_| invalid("not a decimal number"))?;
    Ok(value.normalize())
}

/// A quantity as the log writes it: the shortest decimal string (`"3"`, `"1.5"`).
pub fn render_quantity(q: Decimal) -> String {
    q.normalize().to_string()
}

/// Money at a currency's scale, rounded half away from zero (the rounding of invoices).
pub fn round_money(value: Decimal, scale: u32) -> Decimal {
    let mut rounded = value.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(scale);
    rounded
}

/// `quantity × unit price` at the currency's scale, refused beyond the amount bound.
pub fn line_amount(
    quantity: Decimal,
    unit_price: Decimal,
    scale: u32,
) -> Result<Decimal, CoreError> {
    let product = quantity
        .checked_mul(unit_price)
        .ok_or(CoreError::AmountOverflow)?;
    let amount = round_money(product, scale);
    if amount.abs() >= Decimal::from(10u64.pow(limits::AMOUNT_INTEGER_DIGITS_MAX)) {
        return Err(CoreError::AmountOverflow);
    }
    Ok(amount)
}
