//! Bearer API keys. A key is looked up by its id, then its secret's hash is compared
//! in constant time. Verified keys are cached briefly so a busy client does not cost a
//! database round trip per request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use subtle::ConstantTimeEq;

use crate::core::ledger::LedgerId;
use crate::core::role::{Action, Role};
use crate::store::keys::{self, KeyRow};
use crate::store::Pool;

use super::ApiError;

/// How long a looked-up key is trusted without asking the database again.
const KEY_CACHE_TTL: Duration = Duration::from_secs(30);
/// Keys cached at once; the cache is cleared when full rather than grown.
const KEY_CACHE_ENTRIES_MAX: usize = 10_000;

/// Who is calling: the key's scope (`None` = instance-wide) and role.
#[derive(Debug, Clone)]
pub struct Principal {
    pub ledger: Option<String>,
    pub role: Role,
}

impl Principal {
    /// May this caller do `action` on `ledger`?
    pub fn authorize(&self, ledger: &LedgerId, action: Action) -> Result<(), ApiError> {
        let in_scope = self.ledger.as_deref().is_none_or(|l| l == ledger.as_str());
        if in_scope && self.role.permits(action) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// Instance-wide actions (creating ledgers) need an instance-wide admin key.
    pub fn authorize_instance(&self, action: Action) -> Result<(), ApiError> {
        if self.ledger.is_none() && self.role.permits(action) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

#[derive(Clone, Default)]
pub struct KeyCache {
    entries: Arc<RwLock<HashMap<String, (KeyRow, Instant)>>>,
}

impl KeyCache {
    pub async fn authenticate(
        &self,
        pool: &Pool,
        request: &HttpRequest,
    ) -> Result<Principal, ApiError> {
        let token = bearer(request).ok_or(ApiError::Unauthenticated)?;
        let (key_id, secret) = keys::split_token(token).ok_or(ApiError::Unauthenticated)?;
        let row = match self.cached(key_id) {
            Some(row) => row,
            None => {
                let row = keys::find(pool, key_id)
                    .await?
                    .ok_or(ApiError::Unauthenticated)?;
                self.insert(key_id, row.clone());
                row
            }
        };
        let presented = keys::hash_secret(secret);
        if bool::from(presented.ct_eq(&row.secret_hash)) {
            Ok(Principal {
                ledger: row.ledger,
                role: row.role,
            })
        } else {
            Err(ApiError::Unauthenticated)
        }
    }

    fn cached(&self, key_id: &str) -> Option<KeyRow> {
        let entries = self.entries.read().expect("key cache lock");
        entries
            .get(key_id)
            .filter(|(_, at)| at.elapsed() < KEY_CACHE_TTL)
            .map(|(row, _)| row.clone())
    }

    fn insert(&self, key_id: &str, row: KeyRow) {
        let mut entries = self.entries.write().expect("key cache lock");
        if entries.len() >= KEY_CACHE_ENTRIES_MAX {
            entries.clear();
        }
        entries.insert(key_id.to_owned(), (row, Instant::now()));
    }
}

fn bearer(request: &HttpRequest) -> Option<&str> {
    let value = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
