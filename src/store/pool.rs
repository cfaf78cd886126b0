//! The connection pool. Every connection switches to the `chainbook_app` role as soon
//! as it is made, so the database's grants (SELECT/INSERT on the log) bind the service.

use std::time::Duration;

use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::StoreError;

pub type Pool = deadpool_postgres::Pool;

/// The role the service acts as (created by the first migration).
pub const SERVICE_ROLE: &str = "chainbook_app";

/// Builds a pool of `size` connections acting as the service role.
pub fn connect(url: &str, size: usize) -> Result<Pool, StoreError> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StoreError::Other(format!("DATABASE_URL: {e}")))?;
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .post_create(Hook::async_fn(|client, _| {
            Box::pin(async move {
                client
                    .batch_execute(&format!("SET ROLE {SERVICE_ROLE}"))
                    .await
                    .map_err(|e| HookError::Message(format!("SET ROLE {SERVICE_ROLE}: {e}").into()))
            })
        }))
        .build()
        .map_err(|e| StoreError::Other(e.to_string()))
}

/// One connection as the owner (no SET ROLE), for migrations and administration.
pub async fn connect_owner(url: &str) -> Result<tokio_postgres::Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "owner connection closed");
        }
    });
    Ok(client)
}

/// One connection as the owner with deadpool's statement cache, for owner work that
/// runs the writer's own statements (`store::rebuild`). Dropping it closes it.
pub async fn connect_owner_cached(
    url: &str,
) -> Result<deadpool_postgres::ClientWrapper, StoreError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "owner connection closed");
        }
    });
    Ok(deadpool_postgres::ClientWrapper::new(client, task))
}
