//! The writer: one task per ledger, fed by a bounded queue. It takes whatever is
//! waiting (group commit), decides each command against the in-memory state, seals the
//! events into the chain, writes them and their projections in one PostgreSQL
//! transaction, commits, and only then answers. Journal entries the cached state can
//! decide alone are pipelined: the next group is decided and sent while the one before
//! commits, ordered by the database's link locks; everything else takes the locked path
//! that reads the head under the ledger's lock first.
//!
//! Two processes may run writers for the same ledger: a group decided on a stale state
//! fails in the database (seq taken, chain not linked) and is decided again on the
//! locked path (`docs/architecture.md`).

mod commerce;
mod load;
mod persist;
mod reporting;
mod task;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot, watch};

use crate::core::decide::Command;
use crate::core::event::SealedEvent;
use crate::core::ledger::LedgerId;
use crate::core::{limits, CoreError};

use super::{Pool, StoreError};

// What `store::rebuild` shares with the writer: the lock, the projection writes and
// the order loader, so a replay writes projections exactly as the writer does.
pub(crate) use commerce::load_orders;
pub(crate) use load::lock_key;
pub(crate) use persist::{write_projections, Plan};
pub(crate) use reporting::{close_buckets, PeriodTotals};

/// The result of one command: its sealed event, or the rule it broke.
pub type ItemResult = Result<Arc<SealedEvent>, CoreError>;

/// The response a request gets, rendered by the caller from the item results. The
/// writer stores it with the idempotency key, so a retry gets the very same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub status: u16,
    pub body: String,
}

/// Turns the item results of one request into its response (the HTTP layer's choice).
pub type Renderer = Box<dyn Fn(&[ItemResult]) -> Rendered + Send + Sync>;

#[derive(Debug, Clone)]
pub struct IdempotencyRequest {
    pub key: String,
    /// SHA-256 of the route and the canonical body.
    pub request_hash: String,
}

/// One request: a group of commands, applied all-or-nothing when `atomic`.
pub struct Submission {
    pub commands: Vec<Command>,
    pub atomic: bool,
    pub idempotency: Option<IdempotencyRequest>,
    pub render: Renderer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Freshly decided (`replayed == false`) or the stored answer to an earlier
    /// request with the same key and body.
    Done { rendered: Rendered, replayed: bool },
    /// The key was used before with a different body.
    KeyReused,
}

/// What the writer answers a request with: its outcome, or, for a request without an
/// idempotency key (whose response is not stored), its item results, which the caller
/// renders on its own thread: the writer's time is the one every request waits for.
enum Answer {
    Outcome(WriteOutcome),
    Results(Vec<ItemResult>),
}

struct Job {
    /// Shared with the caller, which keeps it until the answer arrives, so that the
    /// work of freeing its commands falls on the caller's thread, not the writer's.
    submission: Arc<Submission>,
    reply: oneshot::Sender<Result<Answer, StoreError>>,
}

impl Job {
    /// Answers the request, letting go of the writer's reference to it first.
    fn answer(self, answer: Result<Answer, StoreError>) {
        let Job { submission, reply } = self;
        drop(submission);
        let _ = reply.send(answer);
    }
}

struct LedgerWriter {
    queue: mpsc::Sender<Job>,
    head: watch::Receiver<u64>,
}

/// The writers of every ledger this process has written to.
#[derive(Clone)]
pub struct Writers {
    pool: Pool,
    runtime: tokio::runtime::Handle,
    ledgers: Arc<Mutex<HashMap<LedgerId, LedgerWriter>>>,
}

impl Writers {
    /// Writer tasks are spawned on `runtime` (the service's main runtime), whichever
    /// thread submits first.
    pub fn new(pool: Pool, runtime: tokio::runtime::Handle) -> Self {
        Self {
            pool,
            runtime,
            ledgers: Arc::default(),
        }
    }

    pub async fn submit(
        &self,
        ledger: &LedgerId,
        submission: Submission,
    ) -> Result<WriteOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        let submission = Arc::new(submission);
        let queue = self.writer(ledger).queue;
        let job = Job {
            submission: Arc::clone(&submission),
            reply,
        };
        queue.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                StoreError::Unavailable("the ledger's write queue is full".into())
            }
            mpsc::error::TrySendError::Closed(_) => {
                StoreError::Unavailable("the ledger's writer stopped".into())
            }
        })?;
        let answer = answer
            .await
            .map_err(|_| StoreError::Unavailable("the ledger's writer stopped".into()))??;
        Ok(match answer {
            Answer::Outcome(outcome) => outcome,
            Answer::Results(results) => WriteOutcome::Done {
                rendered: (submission.render)(&results),
                replayed: false,
            },
        })
    }

    /// A receiver that changes whenever this process commits events to `ledger`, for
    /// followers of the event feed.
    pub fn head(&self, ledger: &LedgerId) -> watch::Receiver<u64> {
        self.writer(ledger).head
    }

    fn writer(&self, ledger: &LedgerId) -> LedgerWriterRef {
        let mut map = self.ledgers.lock().expect("writer map lock");
        // A writer whose task ended (it can only end by a bug) is replaced: its state
        // is reloaded from the database, so nothing depends on the old task.
        if map.get(ledger).is_some_and(|w| w.queue.is_closed()) {
            tracing::error!(%ledger, "the ledger's writer stopped; starting a new one");
            map.remove(ledger);
        }
        let w = map.entry(ledger.clone()).or_insert_with(|| {
            let (queue, jobs) = mpsc::channel(limits::WRITER_QUEUE_DEPTH_MAX);
            let (head_tx, head) = watch::channel(0);
            let task = task::LedgerTask::new(ledger.clone(), self.pool.clone(), head_tx);
            self.runtime.spawn(task.run(jobs));
            LedgerWriter { queue, head }
        });
        LedgerWriterRef {
            queue: w.queue.clone(),
            head: w.head.clone(),
        }
    }
}

struct LedgerWriterRef {
    queue: mpsc::Sender<Job>,
    head: watch::Receiver<u64>,
}
