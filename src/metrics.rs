//! Prometheus metrics, served at `/metrics`: requests by route and status, the
//! writers' group commits (commands per batch, time per commit, queue depth) and each
//! ledger's head seq. Checkpoint age is read from the database when scraped.

use std::sync::LazyLock;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub batch_commands: HistogramVec,
    pub commit_seconds: HistogramVec,
    pub groups: IntCounterVec,
    pub queue_depth: IntGaugeVec,
    pub head_seq: IntGaugeVec,
    pub checkpoint_age: prometheus::GaugeVec,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let requests = IntCounterVec::new(
        Opts::new(
            "chainbook_http_requests_total",
            "HTTP requests by route and status",
        ),
        &["route", "status"],
    )
    .expect("valid metric");
    let batch_commands = HistogramVec::new(
        HistogramOpts::new(
            "chainbook_writer_batch_commands",
            "Commands per group commit",
        )
        .buckets(vec![
            1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 2000.0,
        ]),
        &["ledger"],
    )
    .expect("valid metric");
    let commit_seconds = HistogramVec::new(
        HistogramOpts::new(
            "chainbook_writer_commit_seconds",
            "Time from BEGIN to COMMIT of a group commit",
        )
        .buckets(prometheus::exponential_buckets(0.0005, 2.0, 14).expect("valid buckets")),
        &["ledger"],
    )
    .expect("valid metric");
    let groups = IntCounterVec::new(
        Opts::new(
            "chainbook_writer_groups_total",
            "Pipelined groups sent, by how they went out (one, chained, behind, copied, alone)",
        ),
        &["ledger", "form"],
    )
    .expect("valid metric");
    let queue_depth = IntGaugeVec::new(
        Opts::new(
            "chainbook_writer_queue_depth",
            "Commands waiting for the ledger's writer",
        ),
        &["ledger"],
    )
    .expect("valid metric");
    let head_seq = IntGaugeVec::new(
        Opts::new(
            "chainbook_chain_head_seq",
            "Seq of the last event this process committed",
        ),
        &["ledger"],
    )
    .expect("valid metric");
    let checkpoint_age = prometheus::GaugeVec::new(
        Opts::new(
            "chainbook_checkpoint_age_seconds",
            "Age of the ledger's newest signed checkpoint",
        ),
        &["ledger"],
    )
    .expect("valid metric");
    for c in [
        Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(batch_commands.clone()),
        Box::new(commit_seconds.clone()),
        Box::new(groups.clone()),
        Box::new(queue_depth.clone()),
        Box::new(head_seq.clone()),
        Box::new(checkpoint_age.clone()),
    ] {
        registry.register(c).expect("a metric registered once");
    }
    Metrics {
        registry,
        requests,
        batch_commands,
        commit_seconds,
        groups,
        queue_depth,
        head_seq,
        checkpoint_age,
    }
});

/// The text exposition format.
pub fn render() -> String {
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&METRICS.registry.gather(), &mut out)
        .expect("encoding metrics into memory cannot fail");
    String::from_utf8(out).expect("the text format is UTF-8")
}
