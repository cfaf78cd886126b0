//! The checkpoint signer: its Ed25519 key (generated on first start into the data
//! folder, or read from `CHAINBOOK_CHECKPOINT_KEY_FILE`; never in the database) and the
//! background task that signs each ledger's head every N events or T seconds.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use rand::RngCore;

use crate::store::{checkpoints, Pool};

/// The file the key is read from: `CHAINBOOK_CHECKPOINT_KEY_FILE`, else
/// `<data-dir>/checkpoint.key`.
pub fn key_path(data_dir: &Path) -> PathBuf {
    match std::env::var_os("CHAINBOOK_CHECKPOINT_KEY_FILE") {
        Some(path) => PathBuf::from(path),
        None => data_dir.join("checkpoint.key"),
    }
}

/// Reads the key (64 hex digits: the Ed25519 seed), or creates it (mode 0600) when the
/// file does not exist.
pub fn load_or_create(path: &Path) -> std::io::Result<SigningKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let mut seed = [0u8; 32];
            hex::decode_to_slice(text.trim(), &mut seed).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{}: not 64 hex digits of an Ed25519 seed: {e}",
                        path.display()
                    ),
                )
            })?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut seed);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)?;
            writeln!(file, "{}", hex::encode(seed))?;
            tracing::info!(path = %path.display(), "checkpoint signing key created");
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) => Err(e),
    }
}

/// When heads are signed without being asked.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub every_events: u64,
    pub every_seconds: u64,
}

/// Signs every due ledger's head, once a second, until the runtime stops or the pool
/// is closed (the service is shutting down: nothing is left to sign, nor to warn of).
pub async fn run(pool: Pool, key: Arc<SigningKey>, schedule: Schedule) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let due = match pool.get().await {
            Ok(client) => {
                checkpoints::due(
                    &**client,
                    schedule.every_events as i64,
                    schedule.every_seconds as i64,
                )
                .await
            }
            Err(e) => Err(e.into()),
        };
        match due {
            Ok(ledgers) => {
                for ledger in ledgers {
                    if let Err(e) = checkpoints::sign_head(&pool, &ledger, &key).await {
                        if pool.is_closed() {
                            return;
                        }
                        tracing::warn!(%ledger, error = %e, "signing a checkpoint failed");
                    }
                }
            }
            Err(_) if pool.is_closed() => return,
            Err(e) => tracing::warn!(error = %e, "finding ledgers due for a checkpoint failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Once the service closes its pool on the way out, the signer stops at its next
    /// tick instead of warning every second that the database is gone.
    #[tokio::test]
    async fn the_signer_stops_once_the_pool_is_closed() {
        // No server listens there; a closed pool never tries it.
        let pool = crate::store::pool::connect("postgres://nobody@127.0.0.1:1/none", 1).unwrap();
        pool.close();
        let key = Arc::new(SigningKey::from_bytes(&[7; 32]));
        let schedule = Schedule {
            every_events: 1,
            every_seconds: 1,
        };
        tokio::time::timeout(Duration::from_secs(10), run(pool, key, schedule))
            .await
            .expect("the signer returns once its pool is closed");
    }
}
