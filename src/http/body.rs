//! Request bodies: bounded in size, parsed strictly (unknown members are refused), and
//! hashed for idempotency.

use actix_web::web::{self, Bytes, BytesMut, PayloadConfig};
use actix_web::HttpRequest;
use futures_util::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::core::canonical;
use crate::core::limits;
use crate::store::writer::IdempotencyRequest;

use super::ApiError;

pub fn payload_config() -> PayloadConfig {
    PayloadConfig::new(limits::BODY_BYTES_MAX)
}

/// Reads a body of at most `BODY_BYTES_MAX` bytes; a larger one is refused with 413
/// before it is buffered.
pub async fn read(mut payload: web::Payload) -> Result<Bytes, ApiError> {
    let too_large = ApiError::PayloadTooLarge(limits::BODY_BYTES_MAX);
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => {
                ApiError::PayloadTooLarge(limits::BODY_BYTES_MAX)
            }
            other => ApiError::MalformedJson(other.to_string()),
        })?;
        if body.len() + chunk.len() > limits::BODY_BYTES_MAX {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses a JSON body. Syntax errors are 400 `malformed-json`; JSON of the wrong shape
/// (missing or unknown members, wrong types) is 422 `invalid-request`.
/// Strings the shape borrows (`Cow` with `#[serde(borrow)]`) point into `body` unless
/// they hold escapes.
pub fn parse<'a, T: Deserialize<'a>>(body: &'a Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::MalformedJson(e.to_string())
            }
            Category::Data => ApiError::InvalidRequest(e.to_string()),
        }
    })
}

/// The `Idempotency-Key` header, if any, with the hash of this request: the route and
/// the canonical form of the body, so that whitespace and key order do not matter.
pub fn idempotency(
    request: &HttpRequest,
    body: &Bytes,
) -> Result<Option<IdempotencyRequest>, ApiError> {
    let Some(value) = request.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = value.to_str().map_err(|_| invalid_key())?;
    if key.is_empty()
        || key.len() > limits::IDEMPOTENCY_KEY_BYTES_MAX
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(invalid_key());
    }
    let canonical_body = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => canonical::to_vec(&v),
        Err(_) => body.to_vec(),
    };
    let mut hasher = Sha256::new();
    hasher.update(request.path().as_bytes());
    hasher.update(b"\n");
    hasher.update(&canonical_body);
    Ok(Some(IdempotencyRequest {
        key: key.to_owned(),
        request_hash: hex::encode(hasher.finalize()),
    }))
}

fn invalid_key() -> ApiError {
    ApiError::InvalidRequest(format!(
        "Idempotency-Key must be 1-{} printable ASCII characters",
        limits::IDEMPOTENCY_KEY_BYTES_MAX
    ))
}
