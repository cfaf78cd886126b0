//! The command line: `serve`, `keys create`, `migrate`.

use clap::{Parser, Subcommand};

use crate::config::{DatabaseArgs, ServeArgs};

#[derive(Debug, Parser)]
#[command(
    name = "chainbook",
    version,
    about = "Hash-chained double-entry ledger service"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (starting the embedded PostgreSQL cluster if no DATABASE_URL).
    Serve(ServeArgs),
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Apply pending schema migrations and exit.
    Migrate(DatabaseArgs),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (it is shown only once).
    Create {
        /// The ledger the key is for; omit for an instance-wide key (admin only).
        #[arg(long)]
        ledger: Option<String>,
        /// admin, writer, reader or auditor.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}
