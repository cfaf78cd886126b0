//! One ledger's writer task: group commit of everything waiting.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use deadpool_postgres::{ClientWrapper, Object};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use crate::core::decide::{decide, Command};
use crate::core::event::{now_micros, seal, EventBody, SealedEvent};
use crate::core::event_id;
use crate::core::hash::Hash;
use crate::core::ledger::LedgerId;
use crate::core::state::LedgerState;
use crate::core::{limits, CoreError};

use super::commerce;
use super::load::{self, StoredResponse};
use super::persist::{self, Plan};
use super::{Answer, ItemResult, Job, Rendered, Submission, WriteOutcome};
use crate::store::{Pool, StoreError};

pub(super) struct LedgerTask {
    ledger: LedgerId,
    pool: Pool,
    head: watch::Sender<u64>,
    /// The state as of the last group decided (committed or in flight), or `None` when
    /// it must be reloaded (at start, and after any failed write).
    state: Option<LedgerState>,
    /// The responses stored by groups in flight or decided, by idempotency key: a
    /// retry of one of them is answered like a retry of a committed request.
    pending: HashMap<String, StoredResponse>,
    /// The next group, decided on the cached state while the groups before it are in
    /// flight, so that it goes out as soon as it may (see `run`).
    next: Option<Decided>,
}

/// A group decided but not yet sent.
#[derive(Default)]
struct Decided {
    jobs: Vec<Job>,
    outcomes: Vec<Answer>,
    plan: Plan,
    keys: Vec<String>,
    commands: usize,
    /// The head once it commits.
    head_seq: u64,
}

/// Groups in flight at once, each storing its rows while the ones before it commit.
/// Three took 4 clients' batches of 500 entries 11–17% further than two (ahead in 13
/// of 18 rounds) once groups were decided ahead; four were not clearly better.
const PIPELINE_DEPTH: usize = 3;
/// One-statement groups in flight at once, each chained behind the one before on its
/// connection (`GroupForm::One`): one executing, the next waiting in the server.
const CHAIN_DEPTH: usize = 2;
/// Commands a decided group holds before it is chained behind a one-statement group in
/// flight. Against chaining none, with 64 clients of single entries: 24 took 4–6% more
/// (ahead in 6 of 8 and 6 of 10 `bench/ab.sh` rounds), 16 and 32 3–4% (5 of 8 each),
/// 8 far less (groups of 15, each paying a transaction).
const CHAIN_MIN_COMMANDS: usize = 24;
/// Commands a decided group holds before it starts behind one in flight. With 64
/// clients of single entries (groups of ~30), 32 took 5–7% more than 100 (ahead in 14
/// of 18 rounds; month rows of open months no longer written) and 16 clearly less
/// (behind in 8 of 8): a group that small pays a transaction for too few entries.
const PIPELINE_MIN_COMMANDS: usize = 32;

/// A decided group on its way to the database.
struct InFlight {
    jobs: Vec<Job>,
    outcomes: Vec<Answer>,
    /// The head once it commits.
    head_seq: u64,
    /// Whether it appends anything (a group of refusals only writes nothing).
    wrote: bool,
    keys: Vec<String>,
    done: tokio::task::JoinHandle<Result<(), GroupFailure>>,
    /// Fires once the group after it may go out (`Follow`).
    ready: Option<oneshot::Receiver<Follow>>,
    /// Whether it is one statement (`GroupForm::One`): a group after it is chained on
    /// its connection, never started beside it.
    one_statement: bool,
    started: std::time::Instant,
}

/// How the group after a group in flight goes out.
enum Follow {
    /// The group holds the link lock of its last event, which the chain check of the
    /// group after it waits for: that one stores its rows at once, on a connection of
    /// its own.
    Linked,
    /// The group is one statement, sent on this connection: the group after it is
    /// sent on the same connection, so the server runs it once this one has committed
    /// (its chain check then finds its predecessor stored, with nothing to wait for).
    Chained(Arc<Object>),
}

/// Why a pipelined group failed, and whether it certainly did not commit (its COMMIT
/// was never sent), so that its requests may be decided again.
struct GroupFailure {
    error: StoreError,
    uncommitted: bool,
}

/// One pipelined group on a connection of its own, sent in one go: BEGIN, the
/// ledger's lock (shared), the link lock of its last event, its rows and COMMIT. Its
/// chain check waits for the group before it to commit. A group in `GroupForm::One`
/// (sent alone or chained, not copied, closing no month) is its rows statement only:
/// its own transaction, the ledger's lock taken inside it, no link lock. A chained
/// group goes out on the connection of the group before it (`chained`).
///
/// A group sent while another is in flight stores its log rows first, in one
/// statement, and its chain check then waits for that group to commit before its
/// upserts (a second statement) run, so the two never wait for each other's rows. A
/// group sent alone writes all its rows in one statement, whose parts run in no fixed
/// order: behind another group, its upserts could take a row that group still needs
/// (deadlock). A group of `persist::COPY_MIN_EVENTS` events or more, alone or behind,
/// streams its events by COPY first and writes the rest after them. See
/// `persist::GroupForm`.
///
/// COMMIT goes out right behind the rows rather than once their answers are back: the
/// connection would otherwise sit idle in its transaction, holding the link lock the
/// next group waits for, for a round trip through the service's busy threads. If a
/// statement fails, the server aborts the transaction and answers that COMMIT with
/// ROLLBACK, so the group certainly did not commit; only a broken connection leaves
/// the outcome in doubt.
async fn write_group(
    pool: Pool,
    ledger: LedgerId,
    plan: Plan,
    form: persist::GroupForm,
    ready: oneshot::Sender<Follow>,
    chained: Option<Arc<Object>>,
) -> Result<(), GroupFailure> {
    let uncommitted = |error: StoreError| GroupFailure {
        error,
        uncommitted: true,
    };
    let client = match chained {
        Some(client) => client,
        None => Arc::new(pool.get().await.map_err(|e| uncommitted(e.into()))?),
    };
    let prepared = match prepare_pipelined(&client).await {
        Ok(prepared) => prepared,
        Err(error) => {
            close(client);
            return Err(uncommitted(error));
        }
    };
    // A group of one statement is its own transaction, and holds no link lock. Its
    // statement is prepared, so it goes out as `write` is first polled, before the
    // group after it may be chained behind it.
    let written = if form == persist::GroupForm::One {
        let write = persist::write_group(&client, &ledger, &plan, form);
        let follow = async {
            let _ = ready.send(Follow::Chained(Arc::clone(&client)));
            Ok(())
        };
        futures_util::try_join!(write, follow).map(|_| ())
    } else {
        in_transaction(&client, &ledger, &plan, form, ready).await
    };
    // A statement the group sent that `prepare_pipelined` does not list was prepared
    // while the group went out, and COMMIT overtook it.
    debug_assert_eq!(
        client.statement_cache.size(),
        prepared,
        "a pipelined group sent a statement that prepare_pipelined does not prepare"
    );
    if let Err(error) = written {
        close(client);
        // No answer at all (the connection broke): COMMIT may have been carried out.
        let uncommitted = !matches!(error, StoreError::Unavailable(_));
        return Err(GroupFailure { error, uncommitted });
    }
    Ok(())
}

/// Closes a connection a group failed on rather than return it to the pool, unless a
/// group chained behind it still holds it: that one closes it if it fails too, and a
/// failed statement of its own leaves the connection in no transaction.
fn close(client: Arc<Object>) {
    if let Ok(client) = Arc::try_unwrap(client) {
        drop(Object::take(client));
    }
}

/// A group's statements between BEGIN and COMMIT. Every statement is prepared, so each
/// goes out as it is first polled, in this order, and COMMIT last; try_join polls them
/// in order and stops at the first that fails, so a statement that fails before it is
/// sent (its parameters cannot be encoded) leaves COMMIT unsent.
async fn in_transaction(
    client: &ClientWrapper,
    ledger: &LedgerId,
    plan: &Plan,
    form: persist::GroupForm,
    ready: oneshot::Sender<Follow>,
) -> Result<(), StoreError> {
    let begin = async {
        client
            .batch_execute("BEGIN")
            .await
            .map_err(StoreError::from)
    };
    let last = plan.events.last().map_or(0, |(e, _)| e.seq);
    let link = async {
        load::hold_link(client, ledger, last).await?;
        let _ = ready.send(Follow::Linked);
        Ok::<(), StoreError>(())
    };
    let rows = async {
        // Both sent before COMMIT, in this order (a group behind another closes no
        // month).
        futures_util::try_join!(
            super::reporting::write_closed_months(
                client,
                ledger,
                super::reporting::closed_by(plan)
            ),
            persist::write_group(client, ledger, plan, form)
        )
        .map(|_| ())
    };
    let commit = async {
        client
            .batch_execute("COMMIT")
            .await
            .map_err(StoreError::from)
    };
    futures_util::try_join!(begin, load::lock_shared(client, ledger), link, rows, commit)
        .map(|_| ())
}

/// Whether a group sent now is chained: groups are in flight, every one of them a
/// single statement (`GroupForm::One`).
fn chains_behind(inflight: &VecDeque<InFlight>) -> bool {
    !inflight.is_empty() && inflight.iter().all(|g| g.one_statement)
}

/// A group's form as `chainbook_writer_groups_total` labels it.
fn form_label(form: persist::GroupForm, chained: bool) -> &'static str {
    match form {
        persist::GroupForm::One if chained => "chained",
        persist::GroupForm::One => "one",
        persist::GroupForm::Alone => "alone",
        persist::GroupForm::Behind => "behind",
        persist::GroupForm::Copied => "copied",
    }
}

/// Prepares, on `client`, every statement a pipelined group may send (a round trip
/// each, the first time on a connection only), and returns how many the connection
/// holds. A statement not yet prepared would reach the server after the COMMIT sent
/// behind it, outside the group's transaction.
///
/// A marker is prepared first: if that was a lookup, an earlier group gave the
/// connection every statement, and they are not looked up again (each lookup hashes a
/// statement's text, some forty of them per group). Only this function prepares the
/// marker, and a connection whose preparing failed part way is closed, never returned
/// to the pool: so a connection that holds the marker holds every statement.
async fn prepare_pipelined(client: &ClientWrapper) -> Result<usize, StoreError> {
    const MARKER: &str = "SELECT 'every pipelined statement is prepared'";
    let held = client.statement_cache.size();
    client.prepare_cached(MARKER).await?;
    if client.statement_cache.size() > held {
        for sql in load::LOCK_STATEMENTS
            .into_iter()
            .chain(persist::pipelined_statements())
        {
            client.prepare_cached(sql).await?;
        }
    }
    Ok(client.statement_cache.size())
}

impl LedgerTask {
    pub(super) fn new(ledger: LedgerId, pool: Pool, head: watch::Sender<u64>) -> Self {
        Self {
            ledger,
            pool,
            head,
            state: None,
            pending: HashMap::new(),
            next: None,
        }
    }

    pub(super) async fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        let mut inflight: VecDeque<InFlight> = VecDeque::new();
        let mut waiting: VecDeque<Job> = VecDeque::new();
        let mut waiting_commands = 0;
        let mut closed = false;
        loop {
            // The decided group goes out at once when nothing is in flight; behind a
            // group in flight only once it holds enough to be worth a transaction of
            // its own (small groups are cheaper gathered into the next one).
            if let Some(next) = &self.next {
                // One that closes a month sums the month's day rows, so it waits
                // for every group before it to commit them. Behind one-statement
                // groups only another is chained (not copied: fewer events).
                if inflight.is_empty()
                    || (next.plan.closes_from.is_none()
                        && if chains_behind(&inflight) {
                            inflight.len() < CHAIN_DEPTH
                                && next.commands >= CHAIN_MIN_COMMANDS
                                && next.plan.events.len() < persist::COPY_MIN_EVENTS
                        } else {
                            inflight.len() < PIPELINE_DEPTH
                                && next.commands >= PIPELINE_MIN_COMMANDS
                        })
                {
                    let next = self.next.take().expect("checked");
                    self.send(next, &mut inflight).await;
                    continue;
                }
            }
            // What waits is decided as it arrives, while the groups before it are in
            // flight, so that deciding it is not on the path from one commit to the
            // next. What the cached state cannot decide waits for the locked path,
            // once everything before it has committed.
            if let Some(front) = waiting.front() {
                if self.can_pipeline(std::slice::from_ref(front)) {
                    let room = limits::WRITER_BATCH_COMMANDS_MAX
                        - self.next.as_ref().map_or(0, |n| n.commands);
                    let batch = take_decidable(&self, &mut waiting, &mut waiting_commands, room);
                    if !batch.is_empty() {
                        self.decide_next(batch);
                        continue;
                    }
                } else if inflight.is_empty() && self.next.is_none() {
                    let batch = self.gather(&mut waiting, &mut waiting_commands);
                    self.process(batch).await;
                    continue;
                }
            }
            if closed && waiting.is_empty() && inflight.is_empty() && self.next.is_none() {
                break;
            }
            tokio::select! {
                biased;
                result = async { (&mut inflight.front_mut().expect("checked").done).await }, if !inflight.is_empty() => {
                    let group = inflight.pop_front().expect("checked");
                    self.finish(group, result, &mut inflight).await;
                }
                job = jobs.recv(), if !closed && waiting_commands < limits::WRITER_BATCH_COMMANDS_MAX => {
                    match job {
                        Some(job) => {
                            waiting_commands += job.submission.commands.len();
                            waiting.push_back(job);
                            while waiting_commands < limits::WRITER_BATCH_COMMANDS_MAX {
                                let Ok(job) = jobs.try_recv() else { break };
                                waiting_commands += job.submission.commands.len();
                                waiting.push_back(job);
                            }
                            crate::metrics::METRICS
                                .queue_depth
                                .with_label_values(&[self.ledger.as_str()])
                                .set(jobs.len() as i64);
                        }
                        None => closed = true,
                    }
                }
            }
        }
        self.drain(&mut inflight).await;
    }

    /// Takes the waiting jobs, up to the batch bound, as the next group.
    fn gather(&self, waiting: &mut VecDeque<Job>, waiting_commands: &mut usize) -> Vec<Job> {
        let mut commands = 0;
        let mut batch = Vec::new();
        while let Some(job) = waiting.front() {
            let n = job.submission.commands.len();
            if !batch.is_empty() && commands + n > limits::WRITER_BATCH_COMMANDS_MAX {
                break;
            }
            commands += n;
            batch.push(waiting.pop_front().expect("checked"));
        }
        *waiting_commands -= commands;
        crate::metrics::METRICS
            .batch_commands
            .with_label_values(&[self.ledger.as_str()])
            .observe(commands as f64);
        batch
    }

    /// Decides `batch` on the cached state into the next group (after what that group
    /// already holds).
    fn decide_next(&mut self, batch: Vec<Job>) {
        let state = self.state.as_mut().expect("can_pipeline checked");
        let next = self.next.get_or_insert_with(Decided::default);
        let submissions: Vec<&Submission> = batch.iter().map(|j| &*j.submission).collect();
        let remembered = next.plan.idempotency.len();
        let outcomes = decide_all(state, &submissions, &self.pending, &mut next.plan);
        // Here rather than in `send`, which closes the seq buckets: whether the group
        // closes a month decides when it may go out.
        super::reporting::close_months(state, &mut next.plan);
        for (idem, rendered) in &next.plan.idempotency[remembered..] {
            let stored = StoredResponse {
                request_hash: idem.request_hash.clone(),
                rendered: rendered.clone(),
            };
            self.pending.insert(idem.key.clone(), stored);
            next.keys.push(idem.key.clone());
        }
        next.commands += batch
            .iter()
            .map(|j| j.submission.commands.len())
            .sum::<usize>();
        next.head_seq = state.head_seq;
        next.outcomes.extend(outcomes);
        next.jobs.extend(batch);
    }

    /// Sends a decided group on its way, pipelined behind the groups in flight.
    async fn send(&mut self, next: Decided, inflight: &mut VecDeque<InFlight>) {
        let Decided {
            jobs,
            outcomes,
            mut plan,
            keys,
            commands,
            head_seq,
        } = next;
        crate::metrics::METRICS
            .batch_commands
            .with_label_values(&[self.ledger.as_str()])
            .observe(commands as f64);
        // Groups go out in the order they were decided, so the open seq bucket takes
        // their events in seq order.
        let state = self.state.as_mut().expect("a decided group has a state");
        super::reporting::close_buckets(state, &mut plan);
        let wrote = !plan.events.is_empty();
        let chained = chains_behind(inflight);
        let form = if chained {
            persist::GroupForm::One
        } else if plan.events.len() >= persist::COPY_MIN_EVENTS {
            persist::GroupForm::Copied
        } else if !inflight.is_empty() {
            persist::GroupForm::Behind
        } else if plan.closes_from.is_none() {
            // Nothing may start beside it, only be chained behind it; with 64
            // clients of single entries that cost less than the four statements it
            // saves (see `GroupForm::One`).
            persist::GroupForm::One
        } else {
            persist::GroupForm::Alone
        };
        if wrote {
            crate::metrics::METRICS
                .groups
                .with_label_values(&[self.ledger.as_str(), form_label(form, chained)])
                .inc();
        }
        // A group that writes nothing passes on what the group before it sends.
        let before = inflight.back_mut().and_then(|g| g.ready.take());
        let (done, ready) = if wrote {
            // Once the group before holds its link lock, this one's chain check may
            // ask for it: both store their rows at once, and this one links after it.
            // Once the group before is sent, this one may be chained behind it.
            // Behind a linked group, or nothing before it: a connection of its own.
            // A chained group whose predecessor's task failed before sending anything
            // also takes one: it then fails its chain check (its predecessor is
            // missing) and is decided again with it.
            let connection = match before {
                Some(rx) => match rx.await {
                    Ok(Follow::Chained(client)) => Some(client),
                    Ok(Follow::Linked) | Err(_) => None,
                },
                None => None,
            };
            debug_assert!(
                !chained || plan.events.len() < persist::COPY_MIN_EVENTS,
                "only one statement is chained"
            );
            let (tx, rx) = oneshot::channel();
            debug_assert!(
                inflight.is_empty() || plan.closes_from.is_none(),
                "a group closing a month waits"
            );
            let group = write_group(
                self.pool.clone(),
                self.ledger.clone(),
                plan,
                form,
                tx,
                connection,
            );
            // Boxed where it is made: spawned as it is, the future (kilobytes: every
            // statement's state) was copied several times over on its way into the
            // task, 68,000 instructions per group (callgrind; with 16 clients of
            // single entries, memcpy fell from 21,000 to 4,600 instructions a request).
            (tokio::spawn(Box::pin(group)), Some(rx))
        } else {
            (tokio::spawn(async { Ok(()) }), before)
        };
        inflight.push_back(InFlight {
            jobs,
            outcomes,
            head_seq,
            wrote,
            keys,
            done,
            ready,
            one_statement: form == persist::GroupForm::One,
            started: std::time::Instant::now(),
        });
    }

    /// Whether the cached state can decide the batch with no read: it is loaded, and
    /// every command is a journal entry between accounts it holds.
    fn can_pipeline(&self, batch: &[Job]) -> bool {
        let Some(state) = &self.state else {
            return false;
        };
        state.currencies.is_some()
            && state.merkle.is_some()
            && state.open_buckets.is_some()
            && state.open_month.is_some()
            && batch.iter().flat_map(|j| &j.submission.commands).all(|c| {
                matches!(c, Command::PostEntry { .. })
                    && c.accounts().all(|a| state.accounts.contains_key(a))
            })
    }

    /// Answers a finished group. A failure drops the cached state; the groups behind
    /// it are awaited, and every request whose group did not commit is decided again
    /// on the locked path (never one whose commit is in doubt).
    async fn finish(
        &mut self,
        group: InFlight,
        result: Result<Result<(), GroupFailure>, tokio::task::JoinError>,
        inflight: &mut VecDeque<InFlight>,
    ) {
        for key in &group.keys {
            self.pending.remove(key);
        }
        let failure = match result {
            Ok(Ok(())) => {
                self.committed(group);
                return;
            }
            Ok(Err(f)) => f,
            Err(e) => GroupFailure {
                error: StoreError::Other(format!("write task: {e}")),
                uncommitted: false,
            },
        };
        tracing::warn!(ledger = %self.ledger, error = %failure.error, "pipelined group failed");
        self.state = None;
        // Each group's requests are decided again as that group, within the batch bound.
        let mut retry = Vec::new();
        if failure.uncommitted {
            retry.push(group.jobs);
        } else {
            reply_err(group.jobs, &failure.error);
        }
        while let Some(mut next) = inflight.pop_front() {
            match (&mut next.done).await {
                // It linked to its predecessor in the database, so that committed.
                Ok(Ok(())) if next.wrote => self.committed(next),
                Ok(Err(f)) if !f.uncommitted => reply_err(next.jobs, &f.error),
                _ => retry.push(next.jobs),
            }
        }
        // The group decided after them, on the state that has just been dropped.
        if let Some(next) = self.next.take() {
            retry.push(next.jobs);
        }
        self.pending.clear();
        for jobs in retry {
            self.process(jobs).await;
        }
    }

    fn committed(&mut self, group: InFlight) {
        crate::metrics::METRICS
            .commit_seconds
            .with_label_values(&[self.ledger.as_str()])
            .observe(group.started.elapsed().as_secs_f64());
        self.answer(group.jobs, group.outcomes, group.head_seq);
    }

    /// Publishes the head a commit reached and answers its requests.
    fn answer(&mut self, jobs: Vec<Job>, outcomes: Vec<Answer>, head_seq: u64) {
        self.head.send_replace(head_seq);
        crate::metrics::METRICS
            .head_seq
            .with_label_values(&[self.ledger.as_str()])
            .set(head_seq as i64);
        if let Some(state) = &mut self.state {
            state.commerce.forget_settled();
        }
        for (job, outcome) in jobs.into_iter().zip(outcomes) {
            job.answer(Ok(outcome));
        }
    }

    /// Waits for every group in flight, answering each.
    async fn drain(&mut self, inflight: &mut VecDeque<InFlight>) {
        while let Some(mut group) = inflight.pop_front() {
            let result = (&mut group.done).await;
            self.finish(group, result, inflight).await;
        }
    }

    async fn process(&mut self, batch: Vec<Job>) {
        let submissions: Vec<&Submission> = batch.iter().map(|j| &*j.submission).collect();
        let started = std::time::Instant::now();
        let written = self.write(&submissions).await;
        crate::metrics::METRICS
            .commit_seconds
            .with_label_values(&[self.ledger.as_str()])
            .observe(started.elapsed().as_secs_f64());
        tracing::debug!(ledger = %self.ledger, requests = batch.len(), micros = started.elapsed().as_micros() as u64, "batch");
        match written {
            Ok(outcomes) => {
                let head_seq = self
                    .state
                    .as_ref()
                    .expect("a write leaves its state")
                    .head_seq;
                self.answer(batch, outcomes, head_seq);
            }
            Err(e) => {
                tracing::warn!(ledger = %self.ledger, error = %e, "write batch failed");
                self.state = None;
                reply_err(batch, &e);
            }
        }
    }

    /// Everything between BEGIN and COMMIT, under the ledger's advisory lock. A
    /// connection that fails mid-transaction is closed, never returned to the pool.
    async fn write(&mut self, submissions: &[&Submission]) -> Result<Vec<Answer>, StoreError> {
        let client = self.pool.get().await?;
        let written = self.write_on(&client, submissions).await;
        if written.is_err() {
            drop(Object::take(client));
        }
        written
    }

    async fn write_on(
        &mut self,
        client: &ClientWrapper,
        submissions: &[&Submission],
    ) -> Result<Vec<Answer>, StoreError> {
        let started = std::time::Instant::now();
        // BEGIN, the lock and the head in one round trip: the head is read once the
        // lock is granted, so it includes whatever another process committed.
        let begin = async {
            client
                .batch_execute("BEGIN")
                .await
                .map_err(StoreError::from)
        };
        let (_, _, head) = futures_util::try_join!(
            begin,
            load::lock(client, &self.ledger),
            load::head(client, &self.ledger)
        )?;
        let state = self.state_at(head);
        if state.currencies.is_none() {
            load::currencies(client, state).await?;
        }
        if state.merkle.is_none() {
            let frontier =
                crate::store::merkle::frontier(&**client, &state.ledger, state.head_seq).await?;
            state.merkle = Some(frontier);
        }
        if state.open_buckets.is_none() {
            load::open_buckets(client, state).await?;
        }
        if state.open_month.is_none() {
            state.open_month =
                Some(crate::store::reporting::open_month(&**client, &state.ledger).await?);
        }
        let locked = started.elapsed();
        let commands = || submissions.iter().flat_map(|s| &s.commands);
        let commerce_accounts = commerce::load(client, state, commands()).await?;
        load::missing_accounts(client, state, commands(), &commerce_accounts).await?;
        load::reversals(client, state, submissions.iter().flat_map(|s| &s.commands)).await?;
        let stored = load::idempotency(client, &state.ledger, submissions).await?;

        let loaded = started.elapsed();
        let mut plan = Plan::default();
        let outcomes = decide_all(state, submissions, &stored, &mut plan);
        super::reporting::close_buckets(state, &mut plan);
        super::reporting::close_months(state, &mut plan);
        let decided = started.elapsed();
        // The log and the projections go out pipelined on the one connection, after
        // the ledger row that accounts reference (only in the batch that creates it).
        persist::insert_ledger(client, &state.ledger, &plan).await?;
        futures_util::try_join!(
            persist::write_log(client, &state.ledger, &plan),
            persist::write_projections(client, state, &plan)
        )?;
        let persisted = started.elapsed();
        client.batch_execute("COMMIT").await?;
        let micros = |d: std::time::Duration| d.as_micros() as u64;
        tracing::debug!(
            ledger = %self.ledger,
            events = plan.events.len(),
            lock_us = micros(locked),
            load_us = micros(loaded - locked),
            decide_us = micros(decided - loaded),
            persist_us = micros(persisted - decided),
            commit_us = micros(started.elapsed() - persisted),
            "group commit phases"
        );
        Ok(outcomes)
    }

    /// The cached state if it is at the stored head, else a fresh one: another process
    /// appended, or our last write failed.
    fn state_at(&mut self, head: Option<(u64, Hash)>) -> &mut LedgerState {
        let (seq, hash) = head.unwrap_or((0, Hash::GENESIS));
        let fresh = match &self.state {
            Some(s) => s.head_seq != seq || s.head_hash != hash,
            None => true,
        };
        if fresh {
            self.state = Some(LedgerState::new(self.ledger.clone(), seq, hash));
        }
        self.state.as_mut().expect("state was just set")
    }
}

/// Takes from the front of `waiting` the jobs the cached state can decide, up to `room`
/// commands.
fn take_decidable(
    task: &LedgerTask,
    waiting: &mut VecDeque<Job>,
    waiting_commands: &mut usize,
    room: usize,
) -> Vec<Job> {
    let mut batch = Vec::new();
    let mut commands = 0;
    while let Some(job) = waiting.front() {
        let n = job.submission.commands.len();
        if commands + n > room || !task.can_pipeline(std::slice::from_ref(job)) {
            break;
        }
        commands += n;
        batch.push(waiting.pop_front().expect("checked"));
    }
    *waiting_commands -= commands;
    batch
}

/// Answers every request of a group that did not commit with `error`.
fn reply_err(jobs: Vec<Job>, error: &StoreError) {
    for job in jobs {
        job.answer(Err(error.clone()));
    }
}

/// Decides every submission in order, sealing the events into `plan`.
fn decide_all(
    state: &mut LedgerState,
    submissions: &[&Submission],
    stored: &HashMap<String, StoredResponse>,
    plan: &mut Plan,
) -> Vec<Answer> {
    let mut in_batch: HashMap<&str, (&str, Rendered)> = HashMap::new();
    let mut outcomes = Vec::with_capacity(submissions.len());
    for submission in submissions {
        if let Some(idem) = &submission.idempotency {
            let earlier = stored
                .get(&idem.key)
                .map(|s| (s.request_hash.as_str(), s.rendered.clone()))
                .or_else(|| in_batch.get(idem.key.as_str()).cloned());
            if let Some((hash, rendered)) = earlier {
                outcomes.push(Answer::Outcome(if hash == idem.request_hash {
                    WriteOutcome::Done {
                        rendered,
                        replayed: true,
                    }
                } else {
                    WriteOutcome::KeyReused
                }));
                continue;
            }
        }
        let results = decide_group(state, &submission.commands, submission.atomic, plan);
        let Some(idem) = &submission.idempotency else {
            outcomes.push(Answer::Results(results));
            continue;
        };
        let rendered = (submission.render)(&results);
        // Only requests that appended something are remembered: a refused request
        // changed nothing, so retrying it simply decides it again.
        if results.iter().any(Result::is_ok) {
            plan.idempotency.push((idem.clone(), rendered.clone()));
            in_batch.insert(&idem.key, (&idem.request_hash, rendered.clone()));
        }
        outcomes.push(Answer::Outcome(WriteOutcome::Done {
            rendered,
            replayed: false,
        }));
    }
    outcomes
}

/// Decides one request's commands. A refused command leaves the state untouched; in
/// an atomic group it also undoes the group's earlier commands.
fn decide_group(
    state: &mut LedgerState,
    commands: &[Command],
    atomic: bool,
    plan: &mut Plan,
) -> Vec<ItemResult> {
    let snapshot = atomic.then(|| Snapshot::take(state, commands));
    let mark = plan.events.len();
    let nodes_mark = plan.merkle_nodes.len();
    let mut results: Vec<ItemResult> = Vec::with_capacity(commands.len());
    for (index, command) in commands.iter().enumerate() {
        match decide(state, command) {
            Ok(decision) => {
                for open in decision.opens {
                    append(state, open, plan);
                }
                let main = append(state, decision.event, plan);
                // Reorders the event made due follow it, in the same commit.
                if let Some((_, EventBody::Commerce(event))) = plan.events.last() {
                    for due in state.commerce.reorders_due(event) {
                        append(state, EventBody::Commerce(due), plan);
                    }
                }
                results.push(Ok(main));
            }
            Err(e) => {
                results.push(Err(e));
                if let Some(snapshot) = &snapshot {
                    snapshot.restore(state);
                    plan.events.truncate(mark);
                    plan.merkle_nodes.truncate(nodes_mark);
                    return aborted(commands.len(), index, results.pop().expect("just pushed"));
                }
            }
        }
    }
    results
}

fn append(state: &mut LedgerState, body: EventBody, plan: &mut Plan) -> Arc<SealedEvent> {
    let seq = state.head_seq + 1;
    let at = now_micros();
    let id = event_id::mint(seq, at.timestamp_millis() as u64, rand::random());
    let sealed = Arc::new(seal(&state.ledger, seq, state.head_hash, id, at, &body));
    state.apply(&body, seq, sealed.hash);
    if let Some(frontier) = state.merkle.as_mut() {
        plan.merkle_nodes.extend(frontier.push(&sealed.hash));
    }
    plan.events.push((sealed.clone(), body));
    sealed
}

fn aborted(len: usize, failed_index: usize, error: ItemResult) -> Vec<ItemResult> {
    (0..len)
        .map(|i| {
            if i == failed_index {
                error.clone()
            } else {
                Err(CoreError::Aborted { failed_index })
            }
        })
        .collect()
}

/// What an atomic group may change, kept to undo it.
struct Snapshot {
    head: (u64, Hash),
    accounts: Vec<(
        crate::core::account::AccountCode,
        Option<crate::core::state::AccountState>,
    )>,
    reversed: Vec<Uuid>,
    merkle: Option<crate::core::merkle::Frontier>,
}

impl Snapshot {
    fn take(state: &LedgerState, commands: &[Command]) -> Self {
        // Each account once, however many of the group's entries name it.
        let mut seen = foldhash::HashSet::default();
        let accounts = commands
            .iter()
            .flat_map(Command::accounts)
            .filter(|code| seen.insert(*code))
            .map(|code| (code.clone(), state.accounts.get(code).cloned()))
            .collect();
        let reversed = commands
            .iter()
            .filter_map(|c| match c {
                Command::Reverse { original, .. } if !state.reversed.contains(original) => {
                    Some(*original)
                }
                _ => None,
            })
            .collect();
        Self {
            head: (state.head_seq, state.head_hash),
            accounts,
            reversed,
            merkle: state.merkle.clone(),
        }
    }

    fn restore(&self, state: &mut LedgerState) {
        (state.head_seq, state.head_hash) = self.head;
        for (code, account) in &self.accounts {
            match account {
                Some(a) => state.accounts.insert(code.clone(), a.clone()),
                None => state.accounts.remove(code),
            };
        }
        for id in &self.reversed {
            state.reversed.remove(id);
        }
        state.merkle.clone_from(&self.merkle);
    }
}
