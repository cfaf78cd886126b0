//! `chainbook-audit verify FILE`: checks a chainbook NDJSON export and prints
//! a one-line summary (or one JSON object with `--json`). Exit status 0 when
//! every check holds, 1 otherwise.

use chainbook_audit::{verify_reader, Failure, FailureKind, Report, VerifyOptions};
use clap::{Parser, Subcommand};
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::process::ExitCode;

/// Read buffer for the export; large reads keep system calls few on big logs.
const READ_BUFFER_BYTES: usize = 64 * 1024;

#[derive(Parser)]
#[command(
    name = "chainbook-audit",
    version,
    about = "Independent verifier of chainbook exports"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify an NDJSON export: hashes, chain links, seq order, balances.
    Verify {
        /// The export file, or `-` for standard input.
        file: String,
        /// A head recorded earlier from the service, as SEQ:HASH; the export
        /// must reach SEQ and carry HASH there.
        #[arg(long, value_name = "SEQ:HASH", value_parser = parse_head)]
        expect_head: Option<(u64, String)>,
        /// Print one JSON object instead of the human summary.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let Command::Verify {
        file,
        expect_head,
        json,
    } = Cli::parse().command;
    let options = VerifyOptions { expect_head };
    let report = match open(&file) {
        Ok(reader) => verify_reader(reader, &options),
        Err(error) => unreadable(&file, &error),
    };
    let text = if json {
        report.to_json().to_string()
    } else {
        report.to_string()
    };
    // A closed stdout (e.g. piped into `head`) must not turn a verdict into a panic.
    let _ = writeln!(io::stdout().lock(), "{text}");
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn open(file: &str) -> io::Result<Box<dyn io::BufRead>> {
    if file == "-" {
        return Ok(Box::new(BufReader::with_capacity(
            READ_BUFFER_BYTES,
            io::stdin(),
        )));
    }
    let handle = File::open(file)?;
    Ok(Box::new(BufReader::with_capacity(
        READ_BUFFER_BYTES,
        handle,
    )))
}

/// A file that cannot be opened is reported like any other failure, so that
/// `--json` callers always get a report.
fn unreadable(file: &str, error: &io::Error) -> Report {
    Report {
        ledger: None,
        events: 0,
        head_seq: 0,
        head_hash: None,
        failure: Some(Failure {
            seq: 1,
            line: 0,
            kind: FailureKind::Io,
            reason: format!("cannot open {file}: {error}"),
        }),
    }
}

/// Parses `SEQ:HASH`, e.g. `1234:ab12…` (64 hex digits, case ignored).
fn parse_head(text: &str) -> Result<(u64, String), String> {
    let (seq, hash) = text.split_once(':').ok_or("expected SEQ:HASH")?;
    let seq: u64 = seq
        .parse()
        .map_err(|_| format!("SEQ must be a positive integer, not {seq:?}"))?;
    if seq == 0 {
        return Err("SEQ must be at least 1".into());
    }
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("HASH must be 64 hex digits".into());
    }
    Ok((seq, hash.to_ascii_lowercase()))
}
