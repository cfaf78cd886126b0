use clap::Parser;

use chainbook::cli::{Cli, Command, KeysCommand};
use chainbook::{startup, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    let result = match cli.command {
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
