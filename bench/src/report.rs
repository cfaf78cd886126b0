//! The figures of one run, as a table for people or as JSON for scripts.

use serde_json::{json, Value};

use crate::ceiling::{CeilingResult, ROWS_PER_STATEMENT};
use crate::cpu::CpuUse;
use crate::load::LoadResult;
use crate::wal::WalSyncs;

/// The design targets, end to end over HTTP: entries per second with one entry per
/// request (64 clients by default), and batches as a fraction of the INSERT ceiling.
pub const SINGLE_ENTRIES_PER_SECOND: f64 = 15_000.0;
pub const BATCH_OVER_CEILING: f64 = 0.5;

/// One design target and what this run measured against it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetCheck {
    pub name: &'static str,
    pub wanted: f64,
    pub measured: f64,
}

impl TargetCheck {
    pub fn met(&self) -> bool {
        self.measured >= self.wanted
    }
}

/// The design targets, checked against a run's single-entry rate and its batch
/// rate over the ceiling.
pub fn targets(single_per_second: f64, batch_over_ceiling: f64) -> [TargetCheck; 2] {
    [
        TargetCheck {
            name: "single entries/s",
            wanted: SINGLE_ENTRIES_PER_SECOND,
            measured: single_per_second,
        },
        TargetCheck {
            name: "batch ÷ ceiling",
            wanted: BATCH_OVER_CEILING,
            measured: batch_over_ceiling,
        },
    ]
}

/// Whether the ledger's log holds exactly what the service acknowledged.
pub struct ChainCheck {
    pub head_seq: i64,
    /// Events written by setup: the ledger and its accounts (read from the head).
    pub setup_events: i64,
    pub entries_acknowledged: u64,
    /// Requests that got no answer: their entries may or may not have been written.
    pub unanswered_requests: u64,
}

impl ChainCheck {
    pub fn expected(&self) -> i64 {
        self.setup_events + self.entries_acknowledged as i64
    }

    pub fn ok(&self) -> bool {
        self.head_seq == self.expected()
    }
}

/// What the machine did during one phase.
#[derive(Clone, Copy)]
pub struct Host {
    pub cpu: CpuUse,
    pub wal: WalSyncs,
}

pub struct Report {
    pub warmup_seconds: u64,
    pub seconds: u64,
    /// The ceiling measured before the service's scenarios and after them.
    pub ceilings: [CeilingResult; 2],
    /// Cores busy per process and WAL flushes in each phase: ceiling before, single,
    /// batch, spread, ceiling after.
    pub host: [Host; 5],
    pub single: LoadResult,
    pub batch: LoadResult,
    /// Batches spread over several ledgers, so several writers work at once.
    pub spread: LoadResult,
    pub chain: ChainCheck,
}

/// One line of the table.
struct Row<'a> {
    name: &'a str,
    clients: usize,
    per_request: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    host: Host,
}

impl Report {
    /// The denominator of every ratio: the mean of the two ceiling measurements.
    pub fn ceiling_rows_per_second(&self) -> f64 {
        let [before, after] = &self.ceilings;
        ((before.rows_per_second + after.rows_per_second) / 2.0).max(1e-9)
    }

    fn ratio(&self, per_second: f64) -> f64 {
        per_second / self.ceiling_rows_per_second()
    }

    /// This run against the design targets.
    pub fn targets(&self) -> [TargetCheck; 2] {
        targets(
            self.single.entries_per_second,
            self.ratio(self.batch.entries_per_second),
        )
    }

    pub fn to_json(&self) -> Value {
        let [before, after] = &self.ceilings;
        json!({
            "warmup_seconds": self.warmup_seconds,
            "seconds": self.seconds,
            "insert_ceiling": {
                "rows_per_second": self.ceiling_rows_per_second(),
                "before": before.to_json(),
                "after": after.to_json(),
            },
            "single": self.single.to_json(),
            "batch": self.batch.to_json(),
            "spread": self.spread.to_json(),
            "spread_ledgers": self.spread.scenario.ledgers,
            "ratios": {
                "spread_over_ceiling": self.ratio(self.spread.entries_per_second),
                "single_over_ceiling": self.ratio(self.single.entries_per_second),
                "batch_over_ceiling": self.ratio(self.batch.entries_per_second),
                "ceiling_after_over_before": after.rows_per_second / before.rows_per_second.max(1e-9),
            },
            "targets": self.targets().iter().map(|t| json!({
                "name": t.name,
                "wanted": t.wanted,
                "measured": t.measured,
                "met": t.met(),
            })).collect::<Vec<_>>(),
            "cpu_cores_busy": self.by_phase(|host| host.cpu.to_json()),
            "wal_syncs": self.by_phase(|host| host.wal.to_json()),
            "chain": {
                "head_seq": self.chain.head_seq,
                "setup_events": self.chain.setup_events,
                "entries_acknowledged": self.chain.entries_acknowledged,
                "expected_seq": self.chain.expected(),
                "unanswered_requests": self.chain.unanswered_requests,
                "ok": self.chain.ok(),
            },
        })
    }

    /// One member per phase, in `host`'s order.
    fn by_phase(&self, figure: impl Fn(&Host) -> Value) -> Value {
        let phases = [
            "ceiling_before",
            "single",
            "batch",
            "spread",
            "ceiling_after",
        ];
        let members = phases.iter().zip(&self.host);
        Value::Object(
            members
                .map(|(name, host)| (name.to_string(), figure(host)))
                .collect(),
        )
    }

    pub fn print_table(&self) {
        println!(
            "chainbook http-load: {} s measured after {} s warmup per phase, one embedded PostgreSQL",
            self.seconds, self.warmup_seconds
        );
        println!(
            "{:<16} {:>7} {:>8} {:>12} {:>9} {:>9} {:>7} {:>10} {:>9}  cores busy: service/postgres/load/other/steal",
            "phase", "clients", "per req", "entries/s", "p50 ms", "p99 ms", "errors", "÷ ceiling", "flush ms"
        );
        let [before, after] = &self.ceilings;
        self.print_row(ceiling_row("ceiling before", before, self.host[0]));
        self.print_row(load_row("single", &self.single, self.host[1]));
        self.print_row(load_row("batch", &self.batch, self.host[2]));
        let spread = format!("batch, {} ledgers", self.spread.scenario.ledgers);
        self.print_row(load_row(&spread, &self.spread, self.host[3]));
        self.print_row(ceiling_row("ceiling after", after, self.host[4]));
        for (name, load) in [
            ("single", &self.single),
            ("batch", &self.batch),
            ("spread", &self.spread),
        ] {
            for (kind, count) in &load.errors {
                println!("  {name} errors: {count} × {kind}");
            }
        }
        println!(
            "ceiling = mean of before and after = {:.1} rows/s ({} bytes of canonical JSON per row)",
            self.ceiling_rows_per_second(),
            before.canonical_bytes
        );
        self.print_chain();
        self.print_targets();
    }

    fn print_targets(&self) {
        for target in self.targets() {
            let verdict = if target.met() { "met" } else { "NOT MET" };
            println!(
                "target {}: wanted ≥ {}, measured {:.3}: {verdict}",
                target.name, target.wanted, target.measured
            );
        }
    }

    fn print_row(&self, row: Row) {
        println!(
            "{:<16} {:>7} {:>8} {:>12.1} {:>9.2} {:>9.2} {:>7} {:>10.3} {:>9.3}  {:.2}/{:.2}/{:.2}/{:.2}/{:.2}",
            row.name,
            row.clients,
            row.per_request,
            row.per_second,
            row.p50_ms,
            row.p99_ms,
            row.errors,
            self.ratio(row.per_second),
            row.host.wal.mean_ms,
            row.host.cpu.service,
            row.host.cpu.postgres,
            row.host.cpu.load,
            row.host.cpu.other,
            row.host.cpu.steal
        );
    }

    fn print_chain(&self) {
        let chain = &self.chain;
        let verdict = if chain.ok() { "ok" } else { "MISMATCH" };
        println!(
            "chain head seq {} vs {} setup events + {} acknowledged entries = {}: {verdict}",
            chain.head_seq,
            chain.setup_events,
            chain.entries_acknowledged,
            chain.expected()
        );
        if !chain.ok() && chain.unanswered_requests > 0 {
            println!(
                "  {} requests got no answer; their entries may have been written anyway",
                chain.unanswered_requests
            );
        }
    }
}

fn ceiling_row<'a>(name: &'a str, ceiling: &CeilingResult, host: Host) -> Row<'a> {
    Row {
        name,
        clients: ceiling.connections,
        per_request: ROWS_PER_STATEMENT,
        per_second: ceiling.rows_per_second,
        p50_ms: ceiling.statement_p50_ms,
        p99_ms: ceiling.statement_p99_ms,
        errors: 0,
        host,
    }
}

fn load_row<'a>(name: &'a str, load: &LoadResult, host: Host) -> Row<'a> {
    Row {
        name,
        clients: load.scenario.clients,
        per_request: load.scenario.entries_per_request,
        per_second: load.entries_per_second,
        p50_ms: load.p50_ms,
        p99_ms: load.p99_ms,
        errors: load.error_count(),
        host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_met_at_its_figure_and_missed_below_it() {
        let [single, batch] = targets(15_000.0, 0.5);
        assert!(single.met() && batch.met());
        let [single, batch] = targets(14_999.9, 0.499);
        assert!(!single.met() && !batch.met());
        let [single, batch] = targets(21_000.0, 0.3);
        assert!(single.met() && !batch.met());
    }
}
