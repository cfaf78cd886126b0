use clap::Parser;

use chainbook::cli::{Cli, Command, KeysCommand};
use chainbook::{startup, telemetry};

/// A batch request allocates and frees buffers of hundreds of kilobytes (its body, the
/// rows sent to PostgreSQL, its answer), on whichever thread it runs; glibc's allocator
/// spent a fifth of the service's CPU on them. See docs/dependencies.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    let result = match cli.command {
        // Like diff(1): 0 identical, 1 different, 2 trouble.
        Command::Rebuild {
            ledger,
            chunk_events,
            database,
        } => {
            return match startup::rebuild(database, ledger, chunk_events).await {
                Ok(true) => std::process::ExitCode::SUCCESS,
                Ok(false) => std::process::ExitCode::from(1),
                Err(e) => {
                    eprintln!("chainbook: {e}");
                    std::process::ExitCode::from(2)
                }
            };
        }
        Command::Serve(args) => startup::serve(args).await,
        Command::Migrate(args) => startup::migrate_only(args).await,
        Command::Keys {
            command:
                KeysCommand::Create {
                    ledger,
                    role,
                    database,
                },
        } => startup::create_key(database, ledger, role).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chainbook: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
