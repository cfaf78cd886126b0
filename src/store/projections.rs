//! The projections: the tables derived from the log, kept aside while a rebuild
//! replaces them, and compared with what it wrote (`store::rebuild`). Statements over
//! a list of tables name them in the SQL text (identifiers cannot be parameters); the
//! ledger is always a parameter.

use deadpool_postgres::ClientWrapper;

use crate::core::ledger::LedgerId;
use crate::core::limits;

use super::StoreError;

/// Every projection: the tables derived from the log, which a rebuild empties, refills
/// and compares. A new projection is one more name here (its rows written by the
/// writer's `write_projections`). Parents before children, for the foreign keys:
/// rows are deleted in the reverse order. A table with a `ledger_id` that is neither
/// here nor in `SOURCE_TABLES` stops the rebuild, so none is forgotten.
pub const PROJECTIONS: &[&str] = &[
    "accounts",
    "balances",
    "products",
    "stock_levels",
    "stock_bins",
    "orders",
    "order_lines",
    "sales",
    "rates",
    "currencies",
    "balance_periods",
    "balance_buckets",
    "period_bounds",
];

/// Tables with a `ledger_id` that a rebuild leaves alone: the log and the ledger row;
/// facts that are not in the log (idempotency records, API keys, signed checkpoints);
/// and `merkle_nodes`, derived from the log but append-only like it (the database
/// refuses to delete them, so they are written with the events, never replayed).
pub const SOURCE_TABLES: &[&str] = &[
    "ledgers",
    "events",
    "idempotency_keys",
    "api_keys",
    "checkpoints",
    "merkle_nodes",
];

#[derive(Debug, Clone)]
pub struct TableComparison {
    pub table: &'static str,
    /// Keys whose row was missing, added or changed.
    pub differences: u64,
    /// The first differences by key, at most `REBUILD_DIFFERENCES_SHOWN_MAX`.
    pub shown: Vec<Difference>,
}

/// One row that differs. `key` is the primary key without `ledger_id`, as a JSON
/// object; `old` and `new` hold only the columns that differ (the whole row when the
/// other side has none), `None` when there was no such row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

const UNLISTED_TABLES: &str = "SELECT c.table_name::text FROM information_schema.columns c \
     JOIN information_schema.tables t USING (table_schema, table_name) \
     WHERE c.table_schema = current_schema() AND c.column_name = 'ledger_id' \
     AND t.table_type = 'BASE TABLE' AND NOT c.table_name::text = ANY($1) ORDER BY 1";

/// Refuses to rebuild while the schema has a ledger's table that is neither a listed
/// projection nor a source table: it would be left stale without a word.
pub(crate) async fn check_every_table_is_listed(client: &ClientWrapper) -> Result<(), StoreError> {
    let listed: Vec<&str> = PROJECTIONS.iter().chain(SOURCE_TABLES).copied().collect();
    let unlisted: Vec<String> = client
        .query(UNLISTED_TABLES, &[&listed])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if unlisted.is_empty() {
        return Ok(());
    }
    Err(StoreError::Other(format!(
        "table(s) {} hold a ledger_id but are in neither PROJECTIONS nor SOURCE_TABLES of \
         src/store/projections.rs: list each where it belongs",
        unlisted.join(", ")
    )))
}

/// An identifier of our own schema (a constant of this file, or a column name read
/// from the catalog), quoted: identifiers cannot be parameters.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn old_table(table: &str) -> String {
    ident(&format!("old_{table}"))
}

/// Copies the ledger's projection rows into temporary tables (dropped at commit),
/// then deletes them, children first.
pub(crate) async fn set_aside(client: &ClientWrapper, ledger: &LedgerId) -> Result<(), StoreError> {
    let l = ledger.as_str();
    for table in PROJECTIONS {
        let (old, table) = (old_table(table), ident(table));
        client
            .batch_execute(&format!(
                "CREATE TEMP TABLE {old} (LIKE {table}) ON COMMIT DROP"
            ))
            .await?;
        let copy = format!("INSERT INTO {old} SELECT * FROM {table} WHERE ledger_id = $1");
        client.execute(&copy, &[&l]).await?;
    }
    for table in PROJECTIONS.iter().rev() {
        let delete = format!("DELETE FROM {} WHERE ledger_id = $1", ident(table));
        client.execute(&delete, &[&l]).await?;
    }
    Ok(())
}

const KEY_COLUMNS: &str = "SELECT a.attname::text FROM pg_index i \
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
     WHERE i.indrelid = $1::text::regclass AND i.indisprimary \
     ORDER BY array_position(i.indkey::int2[], a.attnum)";

/// Compares each rebuilt projection with the rows it replaced, by primary key.
pub(crate) async fn compare(
    client: &ClientWrapper,
    ledger: &LedgerId,
) -> Result<Vec<TableComparison>, StoreError> {
    let mut tables = Vec::with_capacity(PROJECTIONS.len());
    for table in PROJECTIONS {
        let keys: Vec<String> = client
            .query(KEY_COLUMNS, &[table])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let rows = client
            .query(
                &compare_sql(table, &keys),
                &[&ledger.as_str(), &limits::REBUILD_DIFFERENCES_SHOWN_MAX],
            )
            .await?;
        tables.push(TableComparison {
            table,
            differences: rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64),
            shown: rows
                .iter()
                .map(|r| Difference {
                    key: r.get(1),
                    old: r.get(2),
                    new: r.get(3),
                })
                .collect(),
        });
    }
    Ok(tables)
}

/// Rows only in the old table (`gone`) and only in the rebuilt one (`came`), paired by
/// primary key; per pair, the columns whose values differ. `EXCEPT` and `jsonb`
/// compare numbers by value, so `1.0` and `1.00` are the same balance.
fn compare_sql(table: &str, keys: &[String]) -> String {
    let (old, table) = (old_table(table), ident(table));
    let using: Vec<String> = keys.iter().map(|k| ident(k)).collect();
    let shown: Vec<&String> = keys.iter().filter(|k| *k != "ledger_id").collect();
    let key_object: Vec<String> = shown
        .iter()
        .map(|k| format!("'{}', {}", k.replace('\'', "''"), ident(k)))
        .collect();
    let drop_keys: Vec<String> = keys.iter().map(|k| k.replace('\'', "''")).collect();
    let differing = |side: &str, other: &str| {
        format!(
            "CASE WHEN {side} IS NULL THEN NULL ELSE coalesce((SELECT jsonb_object_agg(e.k, e.v) \
             FROM jsonb_each({side}) AS e(k, v) WHERE {other} IS NULL OR {other} -> e.k IS DISTINCT FROM e.v), \
             '{{}}') END::text"
        )
    };
    format!(
        "WITH gone AS (SELECT * FROM {old} EXCEPT SELECT * FROM {table} WHERE ledger_id = $1), \
         came AS (SELECT * FROM {table} WHERE ledger_id = $1 EXCEPT SELECT * FROM {old}), \
         pairs AS (SELECT jsonb_build_object({key_object}) AS key, \
                   to_jsonb(gone) - '{{{drop_keys}}}'::text[] AS old_row, \
                   to_jsonb(came) - '{{{drop_keys}}}'::text[] AS new_row \
                   FROM gone FULL JOIN came USING ({using})) \
         SELECT count(*) OVER (), key::text, {old_diff}, {new_diff} \
         FROM pairs ORDER BY key LIMIT $2",
        key_object = key_object.join(", "),
        drop_keys = drop_keys.join(","),
        using = using.join(", "),
        old_diff = differing("old_row", "new_row"),
        new_diff = differing("new_row", "old_row"),
    )
}
