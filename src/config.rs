//! Settings, each a flag and an environment variable (`docs/operations.md`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Folder for the embedded PostgreSQL cluster and the bootstrap admin key.
    #[arg(long, env = "CHAINBOOK_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Use this PostgreSQL server (connecting as the owner of the database) instead of
    /// the embedded cluster.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "CHAINBOOK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Connections in the service's pool.
    #[arg(long, env = "CHAINBOOK_POOL_SIZE", default_value_t = 16)]
    pub pool_size: usize,
    /// Sign a checkpoint of a ledger once its head is this many events past the last.
    #[arg(long, env = "CHAINBOOK_CHECKPOINT_EVERY_EVENTS", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every_events: u64,
    /// …or once the last checkpoint is this old and the head has moved.
    #[arg(long, env = "CHAINBOOK_CHECKPOINT_EVERY_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every_seconds: u64,
    #[command(flatten)]
    pub database: DatabaseArgs,
}
