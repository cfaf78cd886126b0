//! Responses of writes, rendered from the writer's item results. The writer stores the
//! rendered bytes with an idempotency key, so a retry gets exactly the same answer.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::{Map, Value};

use std::io::Write;

use crate::core::event::{write_export_line, SealedEvent};
use crate::core::CoreError;
use crate::store::writer::{ItemResult, Rendered, Renderer, WriteOutcome};

use super::problem::{core_status, problem, PROBLEM_JSON};
use super::ApiError;

/// The event as exported: the canonical bytes plus `hash`.
pub fn event_json(event: &SealedEvent) -> String {
    let mut out = Vec::with_capacity(event.canonical.len() + 76);
    write_export_line(&mut out, event);
    String::from_utf8(out).expect("canonical JSON and a hex hash are UTF-8")
}

fn core_problem(e: &CoreError, extensions: Map<String, Value>) -> Value {
    problem(e.kind(), core_status(e), e.to_string(), extensions)
}

/// One command: 201 with the appended event, or the problem.
pub fn single() -> Renderer {
    Box::new(|results: &[ItemResult]| match &results[0] {
        Ok(event) => Rendered {
            status: 201,
            body: event_json(event),
        },
        Err(e) => Rendered {
            status: core_status(e).as_u16(),
            body: core_problem(e, Map::new()).to_string(),
        },
    })
}

/// A batch. `refused` are entries that failed parsing (by index); the writer's results
/// are for the others, in order. Atomic: 201 with every event, or the first refusal's
/// problem naming its `index`. Not atomic: 200 with one result per entry.
pub fn batch(atomic: bool, total: usize, refused: Vec<(usize, CoreError)>) -> Renderer {
    Box::new(move |results: &[ItemResult]| {
        let mut decided = results.iter();
        let mut refused = refused.iter().peekable();
        let mut items: Vec<Result<&SealedEvent, CoreError>> = Vec::with_capacity(total);
        let first_refused = refused.peek().map(|(i, _)| *i);
        for index in 0..total {
            let item = match refused.next_if(|(i, _)| *i == index) {
                Some((_, e)) => Err(e.clone()),
                None => match decided.next() {
                    Some(result) => result.as_deref().map_err(Clone::clone),
                    // An atomic batch with a refused entry is never decided.
                    None => Err(CoreError::Aborted {
                        failed_index: first_refused.unwrap_or(0),
                    }),
                },
            };
            items.push(item);
        }
        if atomic {
            let first_error = items.iter().enumerate().find_map(|(i, r)| {
                r.as_ref()
                    .err()
                    .filter(|e| !matches!(e, CoreError::Aborted { .. }))
                    .map(|e| (i, e))
            });
            if let Some((index, e)) = first_error {
                let mut ext = Map::new();
                ext.insert("index".into(), index.into());
                return Rendered {
                    status: core_status(e).as_u16(),
                    body: core_problem(e, ext).to_string(),
                };
            }
        }
        // One buffer for the whole answer: a batch of 1,000 events is ~600 kB. Each
        // event adds its hash member (76 bytes) and its item's envelope (~40).
        let events: usize = items
            .iter()
            .map(|r| r.as_ref().map_or(0, |e| e.canonical.len() + 120))
            .sum();
        let mut body = Vec::with_capacity(64 + events);
        body.extend_from_slice(if atomic {
            br#"{"atomic":true,"results":["#.as_slice()
        } else {
            br#"{"atomic":false,"results":["#.as_slice()
        });
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                body.push(b',');
            }
            match item {
                Ok(event) => {
                    write!(body, r#"{{"index":{index},"status":201,"event":"#)
                        .expect("writing to a Vec");
                    write_export_line(&mut body, event);
                    body.push(b'}');
                }
                Err(e) => {
                    let p = core_problem(e, Map::new());
                    write!(
                        body,
                        r#"{{"index":{index},"status":{},"problem":{p}}}"#,
                        core_status(e).as_u16()
                    )
                    .expect("writing to a Vec");
                }
            }
        }
        body.extend_from_slice(b"]}");
        let status = if atomic { 201 } else { 200 };
        Rendered {
            status,
            body: String::from_utf8(body).expect("canonical JSON, digits and ASCII are UTF-8"),
        }
    })
}

/// The HTTP response of a write outcome.
pub fn outcome(outcome: WriteOutcome) -> Result<HttpResponse, ApiError> {
    match outcome {
        WriteOutcome::KeyReused => Err(ApiError::IdempotencyKeyReused),
        WriteOutcome::Done { rendered, replayed } => {
            let status = StatusCode::from_u16(rendered.status)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            let content_type = if status.is_success() {
                "application/json"
            } else {
                PROBLEM_JSON
            };
            let mut response = HttpResponse::build(status);
            if replayed {
                response.insert_header(("Idempotent-Replayed", "true"));
            }
            Ok(response.content_type(content_type).body(rendered.body))
        }
    }
}
