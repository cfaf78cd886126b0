//! Signed checkpoints as the auditor checks them: `{ledger, seq, hash, merkle_root,
//! signed_at, signature}`, the signature an Ed25519 signature over the RFC 8785
//! bytes of the other five members.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::{json, Value};

use crate::canonical::canonical_bytes;
use crate::merkle::{from_hex, Digest32};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub ledger: String,
    pub seq: u64,
    pub hash: String,
    pub merkle_root: String,
    pub signed_at: String,
    pub signature: String,
}

impl Checkpoint {
    /// Reads a checkpoint object, as the service publishes it.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let text = |name: &str| {
            v.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("the checkpoint has no string `{name}`"))
        };
        Ok(Self {
            ledger: text("ledger")?,
            seq: v
                .get("seq")
                .and_then(Value::as_u64)
                .filter(|s| *s >= 1)
                .ok_or("the checkpoint has no positive integer `seq`")?,
            hash: text("hash")?,
            merkle_root: text("merkle_root")?,
            signed_at: text("signed_at")?,
            signature: text("signature")?,
        })
    }

    /// The bytes that were signed.
    pub fn message(&self) -> Vec<u8> {
        canonical_bytes(&json!({
            "ledger": self.ledger,
            "seq": self.seq,
            "hash": self.hash,
            "merkle_root": self.merkle_root,
            "signed_at": self.signed_at,
        }))
    }

    pub fn root(&self) -> Option<Digest32> {
        from_hex(&self.merkle_root)
    }

    /// Whether the signature is the key's over the five members.
    pub fn signature_holds(&self, key: &VerifyingKey) -> bool {
        let Ok(bytes) = hex::decode(&self.signature) else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
            return false;
        };
        key.verify(&self.message(), &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

/// A public key given as 64 hex digits (or the service's `{"public_key": …}` object).
pub fn public_key(text: &str) -> Result<VerifyingKey, String> {
    let text = text.trim();
    let hex_key = match serde_json::from_str::<Value>(text) {
        Ok(v) => v
            .get("public_key")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or("the key object has no `public_key`")?,
        Err(_) => text.to_owned(),
    };
    let bytes = from_hex(&hex_key).ok_or("a public key is 64 hex digits")?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an Ed25519 public key: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signed checkpoint of docs/chain-spec.md §9 verifies; any change breaks it.
    #[test]
    fn the_documented_checkpoint_verifies() {
        let spec: Value =
            serde_json::from_str(include_str!("../../tests/vectors/merkle-spec.json")).unwrap();
        let cp = &spec["checkpoint"];
        let key = public_key(cp["public_key"].as_str().unwrap()).unwrap();
        let checkpoint = Checkpoint::from_json(&cp["checkpoint"]).unwrap();
        assert_eq!(
            checkpoint.message(),
            cp["signed_bytes"].as_str().unwrap().as_bytes()
        );
        assert!(checkpoint.signature_holds(&key));
        for forged in [
            Checkpoint {
                seq: 8,
                ..checkpoint.clone()
            },
            Checkpoint {
                merkle_root: "0".repeat(64),
                ..checkpoint.clone()
            },
            Checkpoint {
                signature: "00".repeat(64),
                ..checkpoint.clone()
            },
        ] {
            assert!(!forged.signature_holds(&key));
        }
    }
}
