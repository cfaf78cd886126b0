//! `ApiError`, the only error that becomes an HTTP response, rendered as RFC 9457
//! problem+json by one function. Each kind has a stable `type`
//! (`urn:chainbook:problem:<slug>`), listed in `docs/errors.md`. 5xx bodies are opaque;
//! their cause is logged.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Map, Value};

use crate::core::CoreError;
use crate::store::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("missing or malformed bearer token")]
    Unauthenticated,
    #[error("this key may not do that here")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("this Idempotency-Key was used before with a different request")]
    IdempotencyKeyReused,
    #[error("the service cannot reach its database; retry with the same Idempotency-Key")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) | StoreError::Retryable(m) => Self::Unavailable(m),
            StoreError::Unrepresentable(m) => Self::InvalidRequest(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    pub fn slug(&self) -> &'static str {
        match self {
            Self::Core(e) => e.kind(),
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound(_) => "not-found",
            Self::MalformedJson(_) => "malformed-json",
            Self::InvalidRequest(_) => "invalid-request",
            Self::PayloadTooLarge(_) => "payload-too-large",
            Self::IdempotencyKeyReused => "idempotency-key-reused",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Core(e) => core_status(e),
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MalformedJson(_) => StatusCode::BAD_REQUEST,
            Self::InvalidRequest(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::IdempotencyKeyReused => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem object. `detail` of a 5xx never carries the cause.
    pub fn body(&self) -> Value {
        let status = self.status();
        let detail = match self {
            Self::Internal(_) => "the request failed; the cause is in the service log".to_owned(),
            other => other.to_string(),
        };
        problem(self.slug(), status, detail, Map::new())
    }
}

/// Statuses of business-rule failures: 404 for what does not exist, 409 for a clash
/// with the ledger's state, 422 for a request that can never succeed as written.
pub fn core_status(e: &CoreError) -> StatusCode {
    use CoreError::*;
    match e {
        LedgerNotFound(_) | TransactionNotFound(_) | OrderNotFound(_) => StatusCode::NOT_FOUND,
        LedgerExists(_)
        | AccountExists(_)
        | AlreadyReversed(_)
        | Overdraft { .. }
        | AccountNotEmpty { .. }
        | ProductExists(_)
        | OrderExists(_)
        | InsufficientStock { .. }
        | OrderCancelled(_)
        | OrderShipped(_)
        | Overpayment { .. }
        | RefundExceedsPayments { .. }
        | NoCostBasis { .. }
        | CurrencyExists(_) => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// One place builds every problem body.
pub fn problem(
    slug: &str,
    status: StatusCode,
    detail: String,
    extensions: Map<String, Value>,
) -> Value {
    let mut body = json!({
        "type": format!("urn:chainbook:problem:{slug}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    body.as_object_mut().expect("an object").extend(extensions);
    body
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) => tracing::error!(cause = %cause, "request failed"),
            Self::Unavailable(cause) => tracing::warn!(cause = %cause, "database unavailable"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status());
        if matches!(self, Self::Unauthenticated) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if matches!(self, Self::Unavailable(_)) {
            response.insert_header(("Retry-After", "1"));
        }
        response
            .content_type(PROBLEM_JSON)
            .body(self.body().to_string())
    }
}
