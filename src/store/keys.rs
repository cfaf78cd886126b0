//! API keys: `cb_<key id>_<secret>`. Only the SHA-256 of the secret is stored; the
//! secret is 256 random bits, so a fast hash is enough (no password stretching needed).

use chrono::Utc;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio_postgres::GenericClient;

use crate::core::ledger::LedgerId;
use crate::core::role::Role;

use super::{Pool, StoreError};

/// The `ledger_id` of instance-wide keys.
pub const INSTANCE_SCOPE: &str = "*";

#[derive(Debug, Clone)]
pub struct KeyRow {
    /// `None` for instance-wide keys.
    pub ledger: Option<String>,
    pub role: Role,
    pub secret_hash: [u8; 32],
}

/// Splits a presented token into key id and secret.
pub fn split_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("cb_")?;
    let (id, secret) = rest.split_once('_')?;
    let ok = id.len() == 16
        && secret.len() == 64
        && rest.bytes().all(|b| b.is_ascii_hexdigit() || b == b'_');
    ok.then_some((id, secret))
}

pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Creates a key and returns the token, which is never stored and never shown again.
pub async fn create(
    client: &impl GenericClient,
    ledger: Option<&LedgerId>,
    role: Role,
) -> Result<String, StoreError> {
    const SQL: &str = "INSERT INTO api_keys (ledger_id, key_id, role, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)";
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut id);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let (id, secret) = (hex::encode(id), hex::encode(secret));
    let scope = ledger.map_or(INSTANCE_SCOPE, LedgerId::as_str);
    let hash = hex::encode(hash_secret(&secret));
    client
        .execute(SQL, &[&scope, &id, &role.as_str(), &hash, &Utc::now()])
        .await?;
    Ok(format!("cb_{id}_{secret}"))
}

pub async fn find(pool: &Pool, key_id: &str) -> Result<Option<KeyRow>, StoreError> {
    const SQL: &str = "SELECT ledger_id, role, secret_hash FROM api_keys WHERE key_id = $1";
    let client = pool.get().await?;
    let Some(row) = client.query_opt(SQL, &[&key_id]).await? else {
        return Ok(None);
    };
    let scope: String = row.get(0);
    let role = Role::parse(row.get(1)).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut secret_hash = [0u8; 32];
    hex::decode_to_slice(row.get::<_, &str>(2), &mut secret_hash)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let ledger = (scope != INSTANCE_SCOPE).then_some(scope);
    Ok(Some(KeyRow {
        ledger,
        role,
        secret_hash,
    }))
}

pub async fn instance_admin_exists(client: &impl GenericClient) -> Result<bool, StoreError> {
    const SQL: &str =
        "SELECT EXISTS (SELECT 1 FROM api_keys WHERE ledger_id = $1 AND role = 'admin')";
    Ok(client.query_one(SQL, &[&INSTANCE_SCOPE]).await?.get(0))
}
