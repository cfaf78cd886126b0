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
    #[command(flatten)]
    pub database: DatabaseArgs,
}
