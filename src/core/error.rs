//! `CoreError`: one variant per business rule. Each has a stable slug (`kind`) that the
//! HTTP layer turns into the problem `type`; slugs are never renamed. When an entry
//! breaks several rules the first one in the order of `docs/errors.md` is reported.

use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    #[error("invalid ledger id {0:?}: use 1-64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit")]
    InvalidLedgerId(String),
    #[error("invalid account code {0:?}: use lowercase segments of a-z, 0-9, '_' and '-' joined by ':' (at most 10 segments, 200 bytes)")]
    InvalidAccountCode(String),
    #[error("invalid account type {0:?}: expected asset, liability, equity, income or expense")]
    InvalidAccountType(String),
    #[error("invalid account flag {0:?}: the known flag is no_overdraft")]
    InvalidAccountFlag(String),
    #[error("invalid currency code {0:?}: expected 3 to 12 characters A-Z and 0-9, starting with a letter")]
    InvalidCurrency(String),
    #[error("unknown currency {0}")]
    UnknownCurrency(String),
    #[error("invalid amount {value:?}: {reason}")]
    InvalidAmount { value: String, reason: &'static str },
    #[error("amount {amount} has more decimals than {currency} allows ({scale}); amounts are never rounded")]
    AmountScale {
        amount: String,
        currency: String,
        scale: u32,
    },
    #[error("{field} is too long: at most {max} bytes")]
    TooLong { field: &'static str, max: usize },
    #[error("invalid {field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("an entry needs at least 2 postings")]
    TooFewPostings,
    #[error("an entry has at most {max} postings")]
    TooManyPostings { max: usize },
    #[error("posting {index} must have exactly one of debit or credit")]
    PostingSide { index: usize },
    #[error("entry does not balance in {currency}: debits {debits}, credits {credits}")]
    Unbalanced {
        currency: String,
        debits: Decimal,
        credits: Decimal,
    },
    #[error("a sum overflowed the largest representable amount")]
    AmountOverflow,
    #[error("ledger {0} does not exist")]
    LedgerNotFound(String),
    #[error("not applied: item {failed_index} of this atomic batch was refused")]
    Aborted { failed_index: usize },
    #[error("ledger {0} already exists")]
    LedgerExists(String),
    #[error("account {0} is already open")]
    AccountExists(String),
    #[error("account {0} does not exist")]
    AccountNotFound(String),
    #[error("account {0} is closed")]
    AccountClosed(String),
    #[error("account {account} holds only {expected}, not {got}")]
    CurrencyMismatch {
        account: String,
        expected: String,
        got: String,
    },
    #[error("account {account} may not be overdrawn: its {currency} balance would be {balance}")]
    Overdraft {
        account: String,
        currency: String,
        balance: Decimal,
    },
    #[error(
        "account {account} still holds {balance} {currency}; only an empty account can be closed"
    )]
    AccountNotEmpty {
        account: String,
        currency: String,
        balance: Decimal,
    },
    #[error("transaction {0} does not exist")]
    TransactionNotFound(Uuid),
    #[error("transaction {0} is already reversed")]
    AlreadyReversed(Uuid),
    #[error("event {0} is not a posted transaction and cannot be reversed")]
    NotReversible(Uuid),
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidQuantity {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("quantity {quantity} of {sku} has more decimals than its unit allows ({scale})")]
    QuantityScale {
        sku: String,
        quantity: Decimal,
        scale: u32,
    },
    #[error("product {0} is not registered")]
    ProductNotFound(String),
    #[error("product {0} is already registered")]
    ProductExists(String),
    #[error("product {sku} is not stocked in warehouse {warehouse}")]
    WarehouseNotFound { sku: String, warehouse: String },
    #[error("order {0} does not exist")]
    OrderNotFound(String),
    #[error("order {0} already exists")]
    OrderExists(String),
    #[error("not enough {sku} in {place}: {available} available, {requested} requested")]
    InsufficientStock {
        sku: String,
        place: String,
        available: Decimal,
        requested: Decimal,
    },
    #[error("order {order} has no line for {sku}")]
    NotInOrder { order: String, sku: String },
    #[error("order {order} has {remaining} of {sku} left to ship, not {requested}")]
    OverShipment {
        order: String,
        sku: String,
        remaining: Decimal,
        requested: Decimal,
    },
    #[error("order {0} is cancelled")]
    OrderCancelled(String),
    #[error("order {0} has shipped goods and can no longer be cancelled")]
    OrderShipped(String),
    #[error("order {order} has {due} left to pay, less than {amount}")]
    Overpayment {
        order: String,
        due: Decimal,
        amount: Decimal,
    },
    #[error("order {order} has {paid} paid, less than the refund of {amount}")]
    RefundExceedsPayments {
        order: String,
        paid: Decimal,
        amount: Decimal,
    },
    #[error("{sku} in {warehouse} has no cost to value found stock at; give unit_cost")]
    NoCostBasis { sku: String, warehouse: String },
    #[error("currency {0} exists (ISO 4217 or registered before)")]
    CurrencyExists(String),
    #[error("the chain has no rate for {}", .0.join(", "))]
    MissingRates(Vec<String>),
    #[error("{what} is in {expected}, not {got}")]
    WrongCurrency {
        what: String,
        expected: String,
        got: String,
    },
}

impl CoreError {
    /// The stable slug of this kind of failure (the tail of the problem `type` URI).
    pub fn kind(&self) -> &'static str {
        use CoreError::*;
        match self {
            InvalidLedgerId(_) => "invalid-ledger-id",
            InvalidAccountCode(_) => "invalid-account-code",
            InvalidAccountType(_) => "invalid-account-type",
            InvalidAccountFlag(_) => "invalid-account-flag",
            InvalidCurrency(_) => "invalid-currency",
            UnknownCurrency(_) => "unknown-currency",
            InvalidAmount { .. } => "invalid-amount",
            AmountScale { .. } => "amount-scale",
            TooLong { .. } => "too-long",
            InvalidField { .. } => "invalid-field",
            TooFewPostings => "too-few-postings",
            TooManyPostings { .. } => "too-many-postings",
            PostingSide { .. } => "posting-side",
            Unbalanced { .. } => "unbalanced-entry",
            AmountOverflow => "amount-overflow",
            LedgerNotFound(_) => "ledger-not-found",
            Aborted { .. } => "batch-aborted",
            LedgerExists(_) => "ledger-exists",
            AccountExists(_) => "account-exists",
            AccountNotFound(_) => "account-not-found",
            AccountClosed(_) => "account-closed",
            CurrencyMismatch { .. } => "currency-mismatch",
            Overdraft { .. } => "overdraft",
            AccountNotEmpty { .. } => "account-not-empty",
            TransactionNotFound(_) => "transaction-not-found",
            AlreadyReversed(_) => "already-reversed",
            NotReversible(_) => "not-reversible",
            InvalidQuantity { .. } => "invalid-quantity",
            QuantityScale { .. } => "quantity-scale",
            ProductNotFound(_) => "product-not-found",
            ProductExists(_) => "product-exists",
            WarehouseNotFound { .. } => "warehouse-not-found",
            OrderNotFound(_) => "order-not-found",
            OrderExists(_) => "order-exists",
            InsufficientStock { .. } => "insufficient-stock",
            NotInOrder { .. } => "not-in-order",
            OverShipment { .. } => "over-shipment",
            OrderCancelled(_) => "order-cancelled",
            OrderShipped(_) => "order-shipped",
            Overpayment { .. } => "overpayment",
            RefundExceedsPayments { .. } => "refund-exceeds-payments",
            NoCostBasis { .. } => "no-cost-basis",
            WrongCurrency { .. } => "wrong-currency",
            MissingRates(_) => "missing-rates",
            CurrencyExists(_) => "currency-exists",
        }
    }
}
