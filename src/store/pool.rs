//! The connection pool. Every connection switches to the `chainbook_app` role as soon
//! as it is made, so the database's grants (SELECT/INSERT on the log) bind the service.

use std::time::Duration;

use deadpool_postgres::{
    Connect, Hook, HookError, Manager, ManagerConfig, RecyclingMethod, Runtime,
};
use futures_util::future::BoxFuture;
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

use super::StoreError;

pub type Pool = deadpool_postgres::Pool;

/// The role the service acts as (created by the first migration).
pub const SERVICE_ROLE: &str = "chainbook_app";

/// Builds a pool of `size` connections acting as the service role. Call it from
/// within the runtime that should drive its connections (the service's main one).
pub fn connect(url: &str, size: usize) -> Result<Pool, StoreError> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StoreError::Other(format!("DATABASE_URL: {e}")))?;
    let manager = Manager::from_connect(
        config,
        OnRuntime {
            runtime: Handle::current(),
        },
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

/// Opens each connection, and drives it, on the runtime that built the pool. By
/// default a connection lives on the runtime of whichever task first needed it: for
/// the HTTP pool, one HTTP worker's. At shutdown an idle worker stops (and its
/// runtime with it) while the others still answer the requests they took, and every
/// connection it opened would close under them (503 to a request already accepted).
struct OnRuntime {
    runtime: Handle,
}

impl Connect for OnRuntime {
    fn connect(
        &self,
        config: &tokio_postgres::Config,
    ) -> BoxFuture<'_, Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error>>
    {
        let config = config.clone();
        Box::pin(async move {
            // The socket belongs to the runtime that opens it, so the connection is
            // opened, not only driven, there; the client comes back over a channel.
            let (opened, client) = oneshot::channel();
            let attempt = config.clone();
            let task = self.runtime.spawn(async move {
                match attempt.connect(NoTls).await {
                    Ok((client, connection)) => {
                        if opened.send(Ok(client)).is_ok() {
                            if let Err(e) = connection.await {
                                tracing::debug!(error = %e, "pooled connection closed");
                            }
                        }
                    }
                    Err(e) => {
                        let _ = opened.send(Err(e));
                    }
                }
            });
            match client.await {
                Ok(Ok(client)) => Ok((client, task)),
                Ok(Err(e)) => Err(e),
                // The pool's runtime is shutting down: open it here, as a last resort.
                Err(_) => {
                    let (client, connection) = config.connect(NoTls).await?;
                    let task = tokio::spawn(async move {
                        let _ = connection.await;
                    });
                    Ok((client, task))
                }
            }
        })
    }
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
