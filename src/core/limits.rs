//! Every input has a bound, named here, unit last. `docs/limits.md` lists them for users;
//! tests check each one at the bound and one past it.

/// Largest request body accepted by any endpoint (a full batch of entries fits).
pub const BODY_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Postings in one journal entry.
pub const POSTINGS_PER_ENTRY_MAX: usize = 100;
/// Entries in one batch request.
pub const ENTRIES_PER_BATCH_MAX: usize = 1_000;
/// Ledger ids: `[a-z0-9][a-z0-9_-]*`.
pub const LEDGER_ID_BYTES_MAX: usize = 64;
/// Account codes: lowercase segments joined by `:`.
pub const ACCOUNT_CODE_BYTES_MAX: usize = 200;
/// Segments of one account code.
pub const ACCOUNT_SEGMENTS_MAX: usize = 10;
/// Free-text fields: ledger names, descriptions.
pub const TEXT_BYTES_MAX: usize = 1_000;
/// `Idempotency-Key` header value.
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 200;
/// Serialised metadata object of one entry.
pub const METADATA_BYTES_MAX: usize = 4_096;
/// Digits before the decimal point of one amount (up to 10^15 − 1 units).
pub const AMOUNT_INTEGER_DIGITS_MAX: u32 = 15;
/// Decimal places any currency may have; keeps every sum exact in a 96-bit decimal.
pub const CURRENCY_SCALE_MAX: u32 = 12;
/// Events per page of the event feed.
pub const EVENTS_PAGE_MAX: i64 = 1_000;
/// Longest a follower may wait for new events in one long-poll request.
pub const EVENTS_WAIT_SECONDS_MAX: u64 = 60;
/// Commands the writer takes into one PostgreSQL transaction (group commit).
pub const WRITER_BATCH_COMMANDS_MAX: usize = 2_000;
/// Commands waiting for a ledger's writer before new ones are refused with 503.
pub const WRITER_QUEUE_DEPTH_MAX: usize = 20_000;
/// SKUs, order, customer and bin ids.
pub const COMMERCE_ID_BYTES_MAX: usize = 64;
/// Warehouse ids (a segment of `assets:inventory:{warehouse}`).
pub const WAREHOUSE_ID_BYTES_MAX: usize = 32;
/// A product's unit name (`each`, `kg`).
pub const UNIT_BYTES_MAX: usize = 16;
/// Digits before the decimal point of one quantity (up to 10^9 − 1 units).
pub const QUANTITY_INTEGER_DIGITS_MAX: u32 = 9;
/// Decimals a quantity (and a product's unit) may have.
pub const QUANTITY_SCALE_MAX: u32 = 6;
/// Lines of one order, and of one shipment.
pub const ORDER_LINES_MAX: usize = 100;
/// Warehouses one product is registered in.
pub const PRODUCT_WAREHOUSES_MAX: usize = 100;
/// Rows of one inventory page or report.
pub const REPORT_ROWS_MAX: i64 = 1_000;
/// Digits before the decimal point of an exchange rate.
pub const RATE_INTEGER_DIGITS_MAX: usize = 12;
/// Decimals of an exchange rate.
pub const RATE_SCALE_MAX: u32 = 12;
/// Rates in one `rate.published` event.
pub const RATES_PER_EVENT_MAX: usize = 1_000;
/// Events a rebuild replays per chunk by default: one page read from the log and one
/// set of projection writes; the rebuild's memory is bounded by it (about 110 MB at
/// most), not by the log. Larger chunks sum more postings into each balance row
/// written, which is most of a rebuild's time (`docs/architecture.md`, Rebuild).
pub const REBUILD_CHUNK_EVENTS: usize = 20_000;
/// The most `chainbook rebuild --chunk-events` accepts.
pub const REBUILD_CHUNK_EVENTS_MAX: usize = 100_000;
/// Differences a rebuild prints per table; it counts them all.
pub const REBUILD_DIFFERENCES_SHOWN_MAX: i64 = 20;
/// Day and month sums a rebuild holds before writing them: bounds its memory (about
/// 200 bytes a row) whatever the span of the log's dates.
pub const REBUILD_PERIOD_ROWS_MAX: usize = 200_000;
