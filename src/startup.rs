//! Builds the application: database (embedded cluster or `DATABASE_URL`), migrations,
//! the bootstrap admin key, the pool, the writers and the HTTP server. The server binds
//! its own listener and exposes its port, so tests bind port 0.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use actix_web::{web, App, HttpServer};

use crate::config::{DatabaseArgs, ServeArgs};
use crate::core::ledger::LedgerId;
use crate::core::role::Role;
use crate::http::{self, auth::KeyCache, ApiError, AppState};
use crate::store::cluster::{ClusterError, EmbeddedCluster};
use crate::store::writer::Writers;
use crate::store::{keys, migrate, pool, StoreError};

/// Connections for the ledger writers (each writer uses one at a time).
const WRITER_POOL_SIZE: usize = 8;

/// The name of the database the embedded cluster holds.
const EMBEDDED_DATABASE: &str = "chainbook";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(String),
}

/// The database the service uses, and the embedded cluster if it runs one.
pub struct Database {
    pub url: String,
    cluster: Option<EmbeddedCluster>,
}

impl Database {
    /// Opens `DATABASE_URL`, or starts (or reuses) the embedded cluster; then migrates.
    pub async fn open(args: &DatabaseArgs) -> Result<Self, StartupError> {
        let (url, cluster) = match &args.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let dir = args.data_dir.clone();
                let cluster = tokio::task::spawn_blocking(move || EmbeddedCluster::start(&dir))
                    .await
                    .map_err(|e| StartupError::Invalid(e.to_string()))??;
                create_database(&cluster.connection_url("postgres"), EMBEDDED_DATABASE).await?;
                (cluster.connection_url(EMBEDDED_DATABASE), Some(cluster))
            }
        };
        let mut owner = pool::connect_owner(&url).await?;
        migrate::run(&mut owner).await?;
        Ok(Self { url, cluster })
    }

    /// Stops the embedded cluster if this process started it.
    pub fn stop(mut self) {
        if let Some(cluster) = self.cluster.as_mut() {
            if let Err(e) = cluster.stop() {
                tracing::warn!(error = %e, "stopping the embedded cluster");
            }
        }
    }
}

async fn create_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
    let client = pool::connect_owner(admin_url).await?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        // An identifier cannot be a parameter; `name` is a constant of this file.
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
    }
    Ok(())
}

pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
}

impl Application {
    pub async fn build(
        listen: SocketAddr,
        database_url: &str,
        pool_size: usize,
    ) -> Result<Self, StartupError> {
        let pool = pool::connect(database_url, pool_size)?;
        // The writers get connections of their own: a pooled connection is driven by a
        // task on the runtime that opened it, and one opened by an HTTP worker would make
        // every writer round trip wait for that busy worker thread.
        let writer_pool = pool::connect(database_url, WRITER_POOL_SIZE)?;
        let writers = Writers::new(writer_pool, tokio::runtime::Handle::current());
        let state = AppState {
            pool,
            writers,
            keys: KeyCache::default(),
            currencies: Default::default(),
        };
        let listener = TcpListener::bind(listen)?;
        let port = listener.local_addr()?.port();
        let data = web::Data::new(state);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|e, _| ApiError::InvalidRequest(e.to_string()).into()),
                )
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|e, _| ApiError::NotFound(e.to_string()).into()),
                )
                .configure(http::configure)
        })
        .listen(listener)?
        .run();
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until SIGINT/SIGTERM (or the handle stops it); in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

pub async fn serve(args: ServeArgs) -> Result<(), StartupError> {
    let database = Database::open(&args.database).await?;
    let key_path = bootstrap_admin_key(&database.url, &args.database.data_dir).await?;
    let app = Application::build(args.listen, &database.url, args.pool_size).await?;
    println!(
        "chainbook listening on http://{}:{}",
        args.listen.ip(),
        app.port()
    );
    if let Some(path) = key_path {
        println!("bootstrap admin key written to {}", path.display());
    }
    let result = app.run_until_stopped().await;
    database.stop();
    Ok(result?)
}

/// On first start, creates an instance-wide admin key and writes it to
/// `<data_dir>/admin.key` (mode 0600). Returns the path when it wrote one.
async fn bootstrap_admin_key(url: &str, data_dir: &Path) -> Result<Option<PathBuf>, StartupError> {
    let client = pool::connect_owner(url).await?;
    if keys::instance_admin_exists(&client).await? {
        return Ok(None);
    }
    let token = keys::create(&client, None, Role::Admin).await?;
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join("admin.key");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    writeln!(file, "{token}")?;
    Ok(Some(std::path::absolute(&path)?))
}

pub async fn migrate_only(args: DatabaseArgs) -> Result<(), StartupError> {
    let database = Database::open(&args).await?;
    println!("migrations applied");
    database.stop();
    Ok(())
}

pub async fn create_key(
    args: DatabaseArgs,
    ledger: Option<String>,
    role: String,
) -> Result<(), StartupError> {
    let ledger = ledger
        .as_deref()
        .map(LedgerId::parse)
        .transpose()
        .map_err(|e| StartupError::Invalid(e.to_string()))?;
    let role = Role::parse(&role).map_err(|e| StartupError::Invalid(e.to_string()))?;
    if ledger.is_none() && role != Role::Admin {
        return Err(StartupError::Invalid(
            "an instance-wide key (no --ledger) must have role admin".into(),
        ));
    }
    let database = Database::open(&args).await?;
    let client = pool::connect_owner(&database.url).await?;
    let token = keys::create(&client, ledger.as_ref(), role).await;
    drop(client);
    database.stop();
    println!("{}", token?);
    Ok(())
}
