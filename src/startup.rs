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
use crate::store::rebuild::RebuildReport;
use crate::store::writer::Writers;
use crate::store::{keys, migrate, pool, rebuild as replay, StoreError};

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
    /// Closed once the server has stopped.
    pools: [pool::Pool; 2],
}

/// How the service signs checkpoints: its key, and when it signs unasked (`None`: only
/// on request).
pub struct Signing {
    pub key: ed25519_dalek::SigningKey,
    pub schedule: Option<crate::signer::Schedule>,
}

impl Signing {
    /// A key made up for this process, signing only on request (tests).
    pub fn ephemeral() -> Self {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        Self {
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
            schedule: None,
        }
    }
}

impl Application {
    /// The service with a throwaway checkpoint key that signs only on request.
    pub async fn build(
        listen: SocketAddr,
        database_url: &str,
        pool_size: usize,
    ) -> Result<Self, StartupError> {
        Self::build_with(listen, database_url, pool_size, Signing::ephemeral()).await
    }

    pub async fn build_with(
        listen: SocketAddr,
        database_url: &str,
        pool_size: usize,
        signing: Signing,
    ) -> Result<Self, StartupError> {
        let pool = pool::connect(database_url, pool_size)?;
        let checkpoint_key = std::sync::Arc::new(signing.key);
        if let Some(schedule) = signing.schedule {
            tokio::spawn(crate::signer::run(
                pool.clone(),
                checkpoint_key.clone(),
                schedule,
            ));
        }
        // The writers get connections of their own, so that no burst of reads makes a
        // group commit wait for a connection. Both pools open and drive their
        // connections on this (the main) runtime, never on an HTTP worker's: see
        // `pool::connect`.
        let writer_pool = pool::connect(database_url, WRITER_POOL_SIZE)?;
        let writers = Writers::new(writer_pool.clone(), tokio::runtime::Handle::current());
        let pools = [pool.clone(), writer_pool];
        let state = AppState {
            pool,
            writers,
            keys: KeyCache::default(),
            currencies: Default::default(),
            checkpoint_key,
        };
        let listener = TcpListener::bind(listen)?;
        let port = listener.local_addr()?.port();
        let data = web::Data::new(state);
        let server = HttpServer::new(move || {
            App::new()
                .wrap_fn(|request, service| {
                    let observed = http::observe::Observed::start(&request);
                    observed.finish(actix_web::dev::Service::call(service, request))
                })
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
        Ok(Self {
            port,
            server,
            pools,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until SIGINT/SIGTERM (or the handle stops it): the listener closes at
    /// once, requests in flight finish (each waits for its group commit), then the
    /// pools close their connections.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        for pool in &self.pools {
            pool.close();
        }
        tracing::info!("stopped: every request taken was answered, connections closed");
        result
    }
}

pub async fn serve(args: ServeArgs) -> Result<(), StartupError> {
    let database = Database::open(&args.database).await?;
    let key_path = bootstrap_admin_key(&database.url, &args.database.data_dir).await?;
    let key_file = crate::signer::key_path(&args.database.data_dir);
    let signing = Signing {
        key: crate::signer::load_or_create(&key_file)?,
        schedule: Some(crate::signer::Schedule {
            every_events: args.checkpoint_every_events,
            every_seconds: args.checkpoint_every_seconds,
        }),
    };
    let app = Application::build_with(args.listen, &database.url, args.pool_size, signing).await?;
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

/// `chainbook rebuild`: rebuilds the ledger's projections from its log, with a progress
/// bar on stderr (only when it is a terminal), then prints the differences and a
/// summary. `Ok(true)` when the rebuilt projections equal the ones they replaced.
pub async fn rebuild(
    args: DatabaseArgs,
    ledger: String,
    chunk_events: usize,
) -> Result<bool, StartupError> {
    let ledger = LedgerId::parse(&ledger).map_err(|e| StartupError::Invalid(e.to_string()))?;
    let database = Database::open(&args).await?;
    let bar = progress_bar();
    let started = std::time::Instant::now();
    let rebuilt = replay::rebuild(&database.url, &ledger, chunk_events, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(format!("{rate:.0} events/s"));
    })
    .await;
    bar.finish_and_clear();
    database.stop();
    let report =
        rebuilt?.ok_or_else(|| StartupError::Invalid(format!("no ledger named {ledger}")))?;
    print_rebuild(&ledger, &report);
    Ok(report.identical())
}

/// A bar drawn to stderr, hidden when stderr is not a terminal (a pipe, a log file).
fn progress_bar() -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let target = if std::io::stderr().is_terminal() {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    };
    let bar = indicatif::ProgressBar::with_draw_target(None, target);
    let style = indicatif::ProgressStyle::with_template(
        "replaying {bar:40} {human_pos}/{human_len} events, {msg}, {eta} left",
    )
    .expect("a valid template");
    bar.set_style(style);
    bar
}

fn print_rebuild(ledger: &LedgerId, report: &RebuildReport) {
    let mut out = std::io::stdout().lock();
    for table in report.tables.iter().filter(|t| t.differences > 0) {
        for d in &table.shown {
            let _ = writeln!(out, "{} {}", table.table, d.key);
            let _ = writeln!(out, "  old: {}", d.old.as_deref().unwrap_or("(no row)"));
            let _ = writeln!(out, "  new: {}", d.new.as_deref().unwrap_or("(no row)"));
        }
        let _ = writeln!(
            out,
            "{}: {} difference(s), {} shown",
            table.table,
            table.differences,
            table.shown.len()
        );
    }
    let seconds = report.replay.as_secs_f64();
    let _ = writeln!(
        out,
        "ledger {ledger}: {} events replayed in {seconds:.2} s ({:.0} events/s), {:.2} s in all",
        report.events,
        report.events as f64 / seconds.max(1e-9),
        report.total.as_secs_f64()
    );
    let per_table: Vec<String> = report
        .tables
        .iter()
        .map(|t| format!("{} {}", t.table, t.differences))
        .collect();
    let _ = writeln!(out, "differences per table: {}", per_table.join(", "));
    let _ = if report.identical() {
        writeln!(
            out,
            "identical: the rebuilt projections equal the ones they replaced"
        )
    } else {
        writeln!(
            out,
            "{} difference(s): the rebuilt projections, from the log, are kept",
            report.differences()
        )
    };
}
