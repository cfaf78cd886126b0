//! Signed checkpoints (BRIEF §3): the service signs, with Ed25519, the RFC 8785 bytes of
//! `{ledger, seq, hash, merkle_root, signed_at}`; a checkpoint is that object plus
//! `signature` (hex). An auditor who keeps one can later prove that the log still
//! extends it, without trusting the server.

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{json, Value};

use super::canonical;
use super::event::format_timestamp;
use super::hash::Hash;
use super::ledger::LedgerId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub ledger: LedgerId,
    pub seq: u64,
    pub hash: Hash,
    pub merkle_root: Hash,
    pub signed_at: String,
}

impl Checkpoint {
    pub fn new(
        ledger: LedgerId,
        seq: u64,
        hash: Hash,
        merkle_root: Hash,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            ledger,
            seq,
            hash,
            merkle_root,
            signed_at: format_timestamp(at),
        }
    }

    fn object(&self) -> Value {
        json!({
            "ledger": self.ledger.as_str(),
            "seq": self.seq,
            "hash": self.hash.to_hex(),
            "merkle_root": self.merkle_root.to_hex(),
            "signed_at": self.signed_at,
        })
    }

    /// The bytes that are signed: RFC 8785 of the five members.
    pub fn message(&self) -> Vec<u8> {
        canonical::to_vec(&self.object())
    }

    /// The signature, hex.
    pub fn sign(&self, key: &SigningKey) -> String {
        hex::encode(key.sign(&self.message()).to_bytes())
    }

    /// The published form: the five members and `signature`.
    pub fn to_json(&self, signature: &str) -> Value {
        let mut v = self.object();
        v["signature"] = Value::String(signature.to_owned());
        v
    }

    pub fn verify(&self, signature: &str, key: &VerifyingKey) -> bool {
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
            return false;
        };
        key.verify(&self.message(), &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

/// The public key as published at `GET /v1/keys/checkpoint`.
pub fn public_key_json(key: &VerifyingKey) -> Value {
    json!({"algorithm": "ed25519", "public_key": hex::encode(key.to_bytes())})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            ledger: LedgerId::parse("acme").unwrap(),
            seq: 7,
            hash: Hash::of(b"event 7"),
            merkle_root: Hash::of(b"root"),
            signed_at: "2026-11-24T10:00:00.000000Z".into(),
        }
    }

    #[test]
    fn the_signed_bytes_are_the_canonical_five_members() {
        let c = checkpoint();
        let text = String::from_utf8(c.message()).unwrap();
        assert!(text.starts_with(r#"{"hash":""#), "{text}");
        assert!(
            text.contains(r#","ledger":"acme","merkle_root":""#),
            "{text}"
        );
        assert!(
            text.ends_with(r#","seq":7,"signed_at":"2026-11-24T10:00:00.000000Z"}"#),
            "{text}"
        );
    }

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let c = checkpoint();
        let signature = c.sign(&key);
        assert!(c.verify(&signature, &key.verifying_key()));
        let other_key = SigningKey::from_bytes(&[8u8; 32]);
        assert!(!c.verify(&signature, &other_key.verifying_key()));
        for changed in [
            Checkpoint {
                seq: 8,
                ..c.clone()
            },
            Checkpoint {
                merkle_root: Hash::of(b"other"),
                ..c.clone()
            },
            Checkpoint {
                signed_at: "2026-11-24T10:00:00.000001Z".into(),
                ..c.clone()
            },
        ] {
            assert!(!changed.verify(&signature, &key.verifying_key()));
        }
        assert!(!c.verify("00", &key.verifying_key()));
        assert!(!c.verify("zz", &key.verifying_key()));
    }
}

#[cfg(test)]
mod spec_vectors {
    use super::*;
    use crate::core::merkle::{self, Subtree, Subtrees};

    struct Leaves(Vec<Hash>);

    impl Subtrees for Leaves {
        fn hash(&self, s: Subtree) -> Hash {
            if s.level == 0 {
                return merkle::leaf_hash(&self.0[s.index as usize]);
            }
            let left = Subtree {
                level: s.level - 1,
                index: s.index * 2,
            };
            let right = Subtree {
                index: left.index + 1,
                ..left
            };
            merkle::node_hash(&self.hash(left), &self.hash(right))
        }
    }

    /// The vectors printed in docs/chain-spec.md §9 are what the code computes.
    #[test]
    fn the_documented_tree_and_checkpoint_hold() {
        let spec: Value =
            serde_json::from_str(include_str!("../../tests/vectors/merkle-spec.json")).unwrap();
        let doc = include_str!("../../docs/chain-spec.md");
        let hex = |v: &Value| Hash::from_hex(v.as_str().unwrap()).unwrap();
        let list = |v: &Value| v.as_array().unwrap().iter().map(hex).collect::<Vec<_>>();
        let events = list(&spec["event_hashes"]);
        let source = Leaves(events.clone());
        let root = merkle::root(&source, 7);
        assert_eq!(root, hex(&spec["root"]));
        assert_eq!(
            merkle::inclusion_proof(&source, 3, 7),
            list(&spec["inclusion"]["path"])
        );
        assert_eq!(
            merkle::consistency_proof(&source, 3, 7),
            list(&spec["consistency"]["proof"])
        );
        assert_eq!(
            merkle::root(&source, 3),
            hex(&spec["consistency"]["from_root"])
        );
        let cp = &spec["checkpoint"];
        let key = SigningKey::from_bytes(&[7u8; 32]);
        assert_eq!(
            hex::encode(key.verifying_key().to_bytes()),
            cp["public_key"].as_str().unwrap()
        );
        let checkpoint = Checkpoint {
            ledger: LedgerId::parse("acme").unwrap(),
            seq: 7,
            hash: events[6],
            merkle_root: root,
            signed_at: "2026-11-24T10:00:00.000000Z".into(),
        };
        assert_eq!(
            String::from_utf8(checkpoint.message()).unwrap(),
            cp["signed_bytes"].as_str().unwrap()
        );
        let signature = checkpoint.sign(&key);
        assert_eq!(signature, cp["checkpoint"]["signature"].as_str().unwrap());
        // And the document shows these very values.
        for value in [
            root.to_hex(),
            signature,
            cp["public_key"].as_str().unwrap().to_owned(),
        ] {
            assert!(doc.contains(&value), "docs/chain-spec.md lacks {value}");
        }
        for h in list(&spec["inclusion"]["path"])
            .iter()
            .chain(&list(&spec["consistency"]["proof"]))
        {
            assert!(doc.contains(&h.to_hex()));
        }
    }
}
