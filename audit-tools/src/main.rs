//! `chainbook-audit verify FILE`: checks a chainbook NDJSON export (and, given
//! checkpoints the auditor kept, that the export still carries what they signed)
//! and prints a one-line summary (or one JSON object with `--json`).
//! `prove-inclusion` and `prove-consistency` check the service's proofs against
//! checkpoints, without the log. Exit status 0 when every check holds, 1 otherwise.

use chainbook_audit::checkpoint::{public_key, Checkpoint};
use chainbook_audit::merkle::{self, from_hex};
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
    /// Verify an NDJSON export: hashes, chain links, seq order, balances, and the
    /// checkpoints given.
    Verify {
        /// The export file, or `-` for standard input (not with `--url`).
        #[arg(required_unless_present = "url")]
        file: Option<String>,
        /// Verify a running service instead: stream its export and compare its
        /// balances and stock with a recomputation from the events.
        #[arg(long, requires_all = ["ledger", "token"], conflicts_with = "file")]
        url: Option<String>,
        /// The ledger to verify with `--url`.
        #[arg(long)]
        ledger: Option<String>,
        /// An auditor key for `--url` (or CHAINBOOK_TOKEN).
        #[arg(long, env = "CHAINBOOK_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// A head recorded earlier from the service, as SEQ:HASH; the export
        /// must reach SEQ and carry HASH there.
        #[arg(long, value_name = "SEQ:HASH", value_parser = parse_head)]
        expect_head: Option<(u64, String)>,
        /// A signed checkpoint kept earlier (JSON file); repeatable. The export
        /// must carry its hash and Merkle root at its seq.
        #[arg(long, value_name = "FILE")]
        checkpoint: Vec<String>,
        /// The service's checkpoint public key: 64 hex digits, or a file holding
        /// them or `GET /v1/keys/checkpoint`'s answer.
        #[arg(long, value_name = "HEX|FILE")]
        public_key: Option<String>,
        /// Print one JSON object instead of the human summary.
        #[arg(long)]
        json: bool,
    },
    /// Checkpoints kept by the auditor.
    Checkpoint {
        #[command(subcommand)]
        command: CheckpointCommand,
    },
    /// Check an inclusion proof (`GET …/proofs/inclusion`) against a checkpoint.
    ProveInclusion {
        #[arg(long, value_name = "FILE")]
        proof: String,
        #[arg(long, value_name = "FILE")]
        checkpoint: String,
        #[arg(long, value_name = "HEX|FILE")]
        public_key: String,
        /// The event itself (one exported line): its hash is recomputed and must
        /// be the proof's leaf.
        #[arg(long, value_name = "FILE")]
        event: Option<String>,
    },
    /// Check a consistency proof (`GET …/proofs/consistency`) between two checkpoints.
    ProveConsistency {
        #[arg(long, value_name = "FILE")]
        proof: String,
        #[arg(long, value_name = "FILE")]
        old: String,
        #[arg(long, value_name = "FILE")]
        new: String,
        #[arg(long, value_name = "HEX|FILE")]
        public_key: String,
    },
}

#[derive(Subcommand)]
enum CheckpointCommand {
    /// Has the service sign its current head and saves the checkpoint to a file (after
    /// checking its signature against the published key, or `--public-key`).
    Save {
        #[arg(long)]
        url: String,
        #[arg(long)]
        ledger: String,
        #[arg(long, env = "CHAINBOOK_TOKEN", hide_env_values = true)]
        token: String,
        #[arg(long, value_name = "FILE")]
        out: String,
        #[arg(long, value_name = "HEX|FILE")]
        public_key: Option<String>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Verify {
            file,
            url: Some(url),
            ledger,
            token,
            expect_head,
            checkpoint,
            public_key,
            json,
        } => {
            let _ = file;
            verify_url(
                &url,
                &ledger.unwrap_or_default(),
                &token.unwrap_or_default(),
                expect_head,
                checkpoint,
                public_key,
                json,
            )
        }
        Command::Verify {
            file,
            expect_head,
            checkpoint,
            public_key,
            json,
            ..
        } => verify(
            file.unwrap_or_else(|| "-".into()),
            expect_head,
            checkpoint,
            public_key,
            json,
        ),
        Command::Checkpoint {
            command:
                CheckpointCommand::Save {
                    url,
                    ledger,
                    token,
                    out,
                    public_key,
                },
        } => verdict(save_checkpoint(
            &url,
            &ledger,
            &token,
            &out,
            public_key.as_deref(),
        )),
        Command::ProveInclusion {
            proof,
            checkpoint,
            public_key,
            event,
        } => verdict(prove_inclusion(
            &proof,
            &checkpoint,
            &public_key,
            event.as_deref(),
        )),
        Command::ProveConsistency {
            proof,
            old,
            new,
            public_key,
        } => verdict(prove_consistency(&proof, &old, &new, &public_key)),
    }
}

fn options(
    expect_head: Option<(u64, String)>,
    checkpoint_files: &[String],
    key: Option<&str>,
) -> Result<VerifyOptions, String> {
    let checkpoints = checkpoint_files
        .iter()
        .map(|f| Checkpoint::from_json(&read_json(f)?))
        .collect::<Result<Vec<_>, String>>()?;
    let public_key = key.map(load_key).transpose()?;
    Ok(VerifyOptions {
        expect_head,
        checkpoints,
        public_key,
    })
}

fn verify_url(
    url: &str,
    ledger: &str,
    token: &str,
    expect_head: Option<(u64, String)>,
    checkpoint_files: Vec<String>,
    key: Option<String>,
    json: bool,
) -> ExitCode {
    let live = options(expect_head, &checkpoint_files, key.as_deref())
        .and_then(|o| chainbook_audit::live::verify_live(url, ledger, token, &o));
    let live = match live {
        Ok(live) => live,
        Err(reason) => {
            eprintln!("chainbook-audit: {reason}");
            return ExitCode::from(2);
        }
    };
    let mut out = io::stdout().lock();
    if json {
        let mismatches: Vec<serde_json::Value> = live
            .mismatches
            .iter()
            .map(|m| serde_json::json!({"what": m.what, "key": m.key, "recomputed": m.recomputed, "reported": m.reported}))
            .collect();
        let mut v = live.chain.to_json();
        v["ok"] = live.ok().into();
        v["mismatches"] = mismatches.into();
        let _ = writeln!(out, "{v}");
    } else {
        let _ = writeln!(out, "{}", live.chain);
        for m in &live.mismatches {
            let _ = writeln!(
                out,
                "MISMATCH {} {}: the events give {}, the service reports {}",
                m.what,
                m.key,
                m.recomputed.as_deref().unwrap_or("nothing"),
                m.reported.as_deref().unwrap_or("nothing")
            );
        }
    }
    if live.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn save_checkpoint(
    url: &str,
    ledger: &str,
    token: &str,
    out: &str,
    key: Option<&str>,
) -> Result<String, String> {
    let key = key.map(load_key).transpose()?;
    let value = chainbook_audit::live::fetch_checkpoint(url, ledger, token, key.as_ref())?;
    std::fs::write(out, format!("{value}\n")).map_err(|e| format!("cannot write {out}: {e}"))?;
    let checkpoint = Checkpoint::from_json(&value)?;
    Ok(format!(
        "checkpoint of ledger {} at seq {} saved to {out}",
        checkpoint.ledger, checkpoint.seq
    ))
}

fn verify(
    file: String,
    expect_head: Option<(u64, String)>,
    checkpoint_files: Vec<String>,
    key: Option<String>,
    json: bool,
) -> ExitCode {
    let options = match options(expect_head, &checkpoint_files, key.as_deref()) {
        Ok(options) => options,
        Err(reason) => {
            eprintln!("chainbook-audit: {reason}");
            return ExitCode::from(2);
        }
    };
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

fn verdict(outcome: Result<String, String>) -> ExitCode {
    match outcome {
        Ok(summary) => {
            let _ = writeln!(io::stdout().lock(), "OK {summary}");
            ExitCode::SUCCESS
        }
        Err(reason) => {
            let _ = writeln!(io::stdout().lock(), "FAILED {reason}");
            ExitCode::FAILURE
        }
    }
}

fn read_json(file: &str) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{file} is not JSON: {e}"))
}

fn load_key(text: &str) -> Result<ed25519_dalek::VerifyingKey, String> {
    match std::fs::read_to_string(text) {
        Ok(contents) => public_key(&contents),
        Err(_) => public_key(text),
    }
}

fn hashes(v: &serde_json::Value, name: &str) -> Result<Vec<[u8; 32]>, String> {
    v.get(name)
        .and_then(serde_json::Value::as_array)
        .ok_or(format!("the proof has no `{name}` array"))?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(from_hex)
                .ok_or(format!("`{name}` holds a bad hash"))
        })
        .collect()
}

fn signed(file: &str, key: &ed25519_dalek::VerifyingKey) -> Result<Checkpoint, String> {
    let checkpoint = Checkpoint::from_json(&read_json(file)?)?;
    if !checkpoint.signature_holds(key) {
        return Err(format!(
            "checkpoint-signature-invalid: the checkpoint in {file} (seq {}) is not signed by the key",
            checkpoint.seq
        ));
    }
    Ok(checkpoint)
}

fn prove_inclusion(
    proof: &str,
    checkpoint: &str,
    key: &str,
    event: Option<&str>,
) -> Result<String, String> {
    let key = load_key(key)?;
    let checkpoint = signed(checkpoint, &key)?;
    let proof = read_json(proof)?;
    let number = |name: &str| {
        proof
            .get(name)
            .and_then(serde_json::Value::as_u64)
            .ok_or(format!("the proof has no `{name}`"))
    };
    let (seq, size) = (number("seq")?, number("tree_size")?);
    if size != checkpoint.seq {
        return Err(format!(
            "the proof is for a tree of {size} events, the checkpoint for {}",
            checkpoint.seq
        ));
    }
    let leaf_hex = proof
        .get("leaf_hash")
        .and_then(serde_json::Value::as_str)
        .ok_or("the proof has no `leaf_hash`")?;
    if let Some(file) = event {
        let mut line = read_json(file)?;
        let claimed = line.as_object_mut().and_then(|o| o.remove("hash"));
        let recomputed = chainbook_audit::event_hash(&line);
        if claimed.as_ref().and_then(serde_json::Value::as_str) != Some(recomputed.as_str())
            || recomputed != leaf_hex
        {
            return Err(format!("inclusion-mismatch: the event's recomputed hash {recomputed} is not the proof's leaf {leaf_hex}"));
        }
    }
    let leaf = merkle::leaf(&from_hex(leaf_hex).ok_or("`leaf_hash` is not 64 hex digits")?);
    let path = hashes(&proof, "audit_path")?;
    let root = checkpoint
        .root()
        .ok_or("the checkpoint's root is not 64 hex digits")?;
    if seq == 0 || !merkle::verify_inclusion(&leaf, seq - 1, size, &path, &root) {
        return Err(format!(
            "inclusion-mismatch: seq {seq} is not in the tree the checkpoint signed at seq {size}"
        ));
    }
    Ok(format!(
        "seq {seq} is in ledger {}'s tree of {size} events signed at {}",
        checkpoint.ledger, checkpoint.signed_at
    ))
}

fn prove_consistency(proof: &str, old: &str, new: &str, key: &str) -> Result<String, String> {
    let key = load_key(key)?;
    let (old, new) = (signed(old, &key)?, signed(new, &key)?);
    if old.ledger != new.ledger {
        return Err("the checkpoints are of different ledgers".into());
    }
    let proof = read_json(proof)?;
    let number = |name: &str| {
        proof
            .get(name)
            .and_then(serde_json::Value::as_u64)
            .ok_or(format!("the proof has no `{name}`"))
    };
    if (number("from")?, number("to")?) != (old.seq, new.seq) {
        return Err(format!(
            "the proof is not from seq {} to seq {}",
            old.seq, new.seq
        ));
    }
    let path = hashes(&proof, "consistency_path")?;
    let (old_root, new_root) = (
        old.root()
            .ok_or("the old checkpoint's root is not 64 hex digits")?,
        new.root()
            .ok_or("the new checkpoint's root is not 64 hex digits")?,
    );
    if !merkle::verify_consistency(old.seq, new.seq, &old_root, &new_root, &path) {
        return Err(format!(
            "consistency-mismatch: the tree signed at seq {} does not extend the one signed at seq {}",
            new.seq, old.seq
        ));
    }
    Ok(format!(
        "ledger {}'s tree at seq {} extends the one at seq {}",
        old.ledger, new.seq, old.seq
    ))
}

fn open(file: &str) -> io::Result<Box<dyn io::BufRead>> {
    if file == "-" {
        return Ok(Box::new(BufReader::with_capacity(
            READ_BUFFER_BYTES,
            io::stdin(),
        )));
    }
    let handle = File::open(file)?;
    let length = handle.metadata()?.len();
    // A bar of bytes read, on a terminal only: pipes and logs get the verdict alone.
    let bar = if io::IsTerminal::is_terminal(&io::stderr()) {
        indicatif::ProgressBar::new(length)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "verifying {bar:40} {bytes}/{total_bytes} {bytes_per_sec}, {eta} left",
        )
        .expect("a valid template"),
    );
    Ok(Box::new(BufReader::with_capacity(
        READ_BUFFER_BYTES,
        bar.wrap_read(handle),
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
