//! Schema migrations from `sql/`, numbered and forward-only, applied by `refinery`
//! at start. A session advisory lock keeps two instances from migrating at once.

use super::StoreError;

refinery::embed_migrations!("sql");

/// Arbitrary constant naming the migration lock.
const MIGRATION_LOCK: i64 = 0x6368_6169_6e62_6f6f; // "chainboo"

/// Applies every pending migration, as the owner of the database.
pub async fn run(client: &mut tokio_postgres::Client) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = migrations::runner().run_async(client).await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    let report = result.map_err(|e| StoreError::Other(format!("migration failed: {e}")))?;
    for m in report.applied_migrations() {
        tracing::info!(migration = %m, "applied");
    }
    Ok(())
}
