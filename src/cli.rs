//! The command line: `serve`, `keys create`, `migrate`, `rebuild`.

use clap::{Parser, Subcommand};

use crate::config::{DatabaseArgs, ServeArgs};
use crate::core::limits;

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
    /// Rebuild every projection of a ledger from its log, in one transaction, and
    /// print how the result differs from what it replaced. Exit status: 0 identical,
    /// 1 different (the rebuilt projections are kept: the log is the truth), 2 error.
    Rebuild {
        /// The ledger whose projections to rebuild.
        #[arg(long)]
        ledger: String,
        /// Events replayed per chunk (memory grows with it, not with the log).
        #[arg(long, default_value_t = limits::REBUILD_CHUNK_EVENTS,
              value_parser = chunk_events)]
        chunk_events: usize,
        #[command(flatten)]
        database: DatabaseArgs,
    },
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

fn chunk_events(text: &str) -> Result<usize, String> {
    let max = limits::REBUILD_CHUNK_EVENTS_MAX;
    match text.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("give a number of events from 1 to {max}")),
    }
}
