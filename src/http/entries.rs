//! Journal entries: post one, post a batch, reverse one.

use actix_web::{web, HttpRequest, HttpResponse};
use uuid::Uuid;

use crate::core::chain_read::postings_from_json;
use crate::core::decide::Command;
use crate::core::entry::Entry;
use crate::core::ledger::LedgerId;
use crate::core::role::Action;
use crate::core::{limits, CoreError};
use crate::store::writer::{IdempotencyRequest, Renderer, Submission, WriteOutcome};
use crate::store::{events, idempotency};

use super::dto::{parse_date, PostBatch, PostTransaction, Reverse};
use super::{body, render, ApiError, AppState};

/// Parses the path's ledger, authenticates the caller and authorises `action` on it.
pub(super) async fn authorized(
    state: &AppState,
    request: &HttpRequest,
    ledger: &str,
    action: Action,
) -> Result<LedgerId, ApiError> {
    let ledger = LedgerId::parse(ledger)?;
    let principal = state.keys.authenticate(&state.pool, request).await?;
    principal.authorize(&ledger, action)?;
    Ok(ledger)
}

/// Authenticates, authorises a write on the path's ledger and reads the body.
pub(super) async fn write_request(
    state: &AppState,
    request: &HttpRequest,
    ledger: &str,
    payload: web::Payload,
) -> Result<(LedgerId, web::Bytes, Option<IdempotencyRequest>), ApiError> {
    let ledger = authorized(state, request, ledger, Action::Write).await?;
    let body = body::read(payload).await?;
    let idempotency = body::idempotency(request, &body)?;
    Ok((ledger, body, idempotency))
}

/// Submits commands to the ledger's writer, answering a known idempotency key from
/// the store first (the writer checks again under its lock).
pub(super) async fn submit(
    state: &AppState,
    ledger: &LedgerId,
    commands: Vec<Command>,
    atomic: bool,
    idempotency: Option<IdempotencyRequest>,
    render: Renderer,
) -> Result<HttpResponse, ApiError> {
    if let Some(idem) = &idempotency {
        if let Some(stored) = idempotency::lookup(&state.pool, ledger, &idem.key).await? {
            let outcome = if stored.request_hash == idem.request_hash {
                WriteOutcome::Done {
                    rendered: stored.rendered,
                    replayed: true,
                }
            } else {
                WriteOutcome::KeyReused
            };
            return render::outcome(outcome);
        }
    }
    let submission = Submission {
        commands,
        atomic,
        idempotency,
        render,
    };
    render::outcome(state.writers.submit(ledger, submission).await?)
}

/// Submits one command, answered with its event.
pub(super) async fn submit_one(
    state: &AppState,
    ledger: &LedgerId,
    command: Command,
    idempotency: Option<IdempotencyRequest>,
) -> Result<HttpResponse, ApiError> {
    submit(
        state,
        ledger,
        vec![command],
        true,
        idempotency,
        render::single(),
    )
    .await
}

#[utoipa::path(post, path = "/v1/ledgers/{ledger}/transactions", tag = "transactions", params(("ledger" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = PostTransaction, responses((status = 201, description = "The transaction.posted event"), (status = 409, description = "Overdraft or key reused", content_type = "application/problem+json"), (status = 422, description = "Refused entry", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn post(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (ledger, body, idempotency) = write_request(&state, &request, &path, payload).await?;
    let entry: PostTransaction = body::parse(&body)?;
    let codes = entry.postings.iter().map(|p| &*p.currency);
    let book = super::currencies::book_for(&state, &ledger, codes).await?;
    let command = entry.into_command(&book)?;
    submit_one(&state, &ledger, command, idempotency).await
}

#[utoipa::path(post, path = "/v1/ledgers/{ledger}/transactions/batch", tag = "transactions", params(("ledger" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = PostBatch, responses((status = 201, description = "Atomic batch: every event"), (status = 200, description = "Per-item results"), (status = 422, description = "Atomic batch refused", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn batch(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (ledger, body, idempotency) = write_request(&state, &request, &path, payload).await?;
    let batch: PostBatch = body::parse(&body)?;
    let total = batch.entries.len();
    if total == 0 || total > limits::ENTRIES_PER_BATCH_MAX {
        let detail = format!(
            "a batch holds 1 to {} entries",
            limits::ENTRIES_PER_BATCH_MAX
        );
        return Err(ApiError::InvalidRequest(detail));
    }
    let codes = batch
        .entries
        .iter()
        .flat_map(|e| e.postings.iter().map(|p| &*p.currency));
    let book = super::currencies::book_for(&state, &ledger, codes).await?;
    let mut commands = Vec::with_capacity(total);
    let mut refused = Vec::new();
    for (index, entry) in batch.entries.into_iter().enumerate() {
        match entry.into_command(&book) {
            Ok(command) => commands.push(command),
            Err(e) => refused.push((index, e)),
        }
    }
    let renderer = render::batch(batch.atomic, total, refused);
    if commands.is_empty() || (batch.atomic && commands.len() < total) {
        // Nothing to append: answer from the same renderer, without the writer.
        return render::outcome(WriteOutcome::Done {
            rendered: renderer(&[]),
            replayed: false,
        });
    }
    submit(
        &state,
        &ledger,
        commands,
        batch.atomic,
        idempotency,
        renderer,
    )
    .await
}

#[utoipa::path(post, path = "/v1/ledgers/{ledger}/transactions/{id}/reverse", tag = "transactions", params(("ledger" = String, Path), ("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body(content = Option<Reverse>), responses((status = 201, description = "The transaction.reversed event"), (status = 409, description = "Already reversed", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn reverse(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (ledger, id) = path.into_inner();
    let (ledger, body, idempotency) = write_request(&state, &request, &ledger, payload).await?;
    let options: Reverse = if body.is_empty() {
        Reverse::default()
    } else {
        body::parse(&body)?
    };
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no transaction {id}")))?;
    let original = events::by_id(&state.pool, &ledger, id)
        .await?
        .ok_or(CoreError::TransactionNotFound(id))?;
    if original.type_name != "transaction.posted" {
        return Err(CoreError::NotReversible(id).into());
    }
    let event: serde_json::Value = serde_json::from_str(&original.canonical)
        .map_err(|e| ApiError::Internal(format!("event {id}: {e}")))?;
    let postings =
        postings_from_json(&event).map_err(|e| ApiError::Internal(format!("event {id}: {e}")))?;
    let mirrored = postings.iter().map(|p| p.mirrored()).collect();
    let description = options
        .description
        .unwrap_or_else(|| format!("Reversal of {id}"));
    let effective_date = options
        .effective_date
        .as_deref()
        .map(parse_date)
        .transpose()?;
    let entry = Entry::new(mirrored, description, effective_date, Default::default())?;
    let command = Command::Reverse {
        original: id,
        entry,
    };
    submit_one(&state, &ledger, command, idempotency).await
}
