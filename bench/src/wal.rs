//! How long the cluster's WAL flushes took during a phase, from `pg_stat_wal`.
//!
//! Every acknowledged write waits for a flush of the WAL, and the writer's groups of a
//! ledger commit one after another, so the time one flush takes is on the path of
//! every group. On these machines it moves with the host's load (0.16 ms idle, 0.4 to
//! 1.2 ms under load in the same hour), and single-entry throughput moves with it:
//! printing it beside each phase tells a slow service from a slow disk.

use crate::ceiling::connect;
use crate::service::BoxError;

/// `track_wal_io_timing` is off by default (it reads the clock around every WAL write
/// and flush); the benchmark's cluster is its own, so it is switched on there.
///
/// Two statements sent apart: ALTER SYSTEM refuses to run inside the transaction that
/// several statements of one query string share.
const ENABLE: [&str; 2] = [
    "ALTER SYSTEM SET track_wal_io_timing = on",
    "SELECT pg_reload_conf()",
];
const READ: &str = "SELECT wal_sync, wal_sync_time FROM pg_stat_wal";

/// The flush counters at one instant.
#[derive(Clone, Copy, Default)]
pub struct Sample {
    syncs: i64,
    sync_ms: f64,
}

/// WAL flushes during a phase.
#[derive(Clone, Copy, Default)]
pub struct WalSyncs {
    pub count: i64,
    /// Mean milliseconds per flush; 0 when there was none.
    pub mean_ms: f64,
}

impl WalSyncs {
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({"count": self.count, "mean_ms": self.mean_ms})
    }
}

pub async fn enable_timing(pg_config: &str) -> Result<(), BoxError> {
    let client = connect(pg_config).await?;
    for statement in ENABLE {
        client.batch_execute(statement).await?;
    }
    Ok(())
}

pub async fn sample(pg_config: &str) -> Result<Sample, BoxError> {
    let row = connect(pg_config).await?.query_one(READ, &[]).await?;
    Ok(Sample {
        syncs: row.get(0),
        sync_ms: row.get(1),
    })
}

pub fn between(start: Sample, end: Sample) -> WalSyncs {
    let count = end.syncs - start.syncs;
    let mean_ms = if count > 0 {
        (end.sync_ms - start.sync_ms) / count as f64
    } else {
        0.0
    };
    WalSyncs { count, mean_ms }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_is_over_the_flushes_of_the_phase_only() {
        let start = Sample {
            syncs: 100,
            sync_ms: 40.0,
        };
        let end = Sample {
            syncs: 300,
            sync_ms: 140.0,
        };
        let phase = between(start, end);
        assert_eq!(phase.count, 200);
        assert!((phase.mean_ms - 0.5).abs() < 1e-12);
        assert_eq!(between(end, end).mean_ms, 0.0);
    }
}
