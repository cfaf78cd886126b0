//! `prove-inclusion` and `prove-consistency` against signed checkpoints, with the
//! 7-leaf tree of `docs/chain-spec.md` §9 (`tests/vectors/merkle-spec.json`).

use std::path::{Path, PathBuf};
use std::process::Command;

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

fn spec() -> Value {
    serde_json::from_str(include_str!("../../tests/vectors/merkle-spec.json")).unwrap()
}

fn audit(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_chainbook-audit"))
        .args(args)
        .output()
        .expect("run chainbook-audit");
    (
        output.status.code().expect("exit code"),
        String::from_utf8(output.stdout).unwrap(),
    )
}

fn write(dir: &Path, name: &str, value: &Value) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A checkpoint of the spec's tree at `seq` with root `root`, signed with the spec's key.
fn signed(seq: u64, hash: &str, root: &str) -> Value {
    let object = json!({"ledger": "acme", "seq": seq, "hash": hash, "merkle_root": root,
                        "signed_at": "2026-11-24T10:00:00.000000Z"});
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let signature = key.sign(&serde_jcs::to_vec(&object).unwrap());
    let mut v = object;
    v["signature"] = json!(hex::encode(signature.to_bytes()));
    v
}

#[test]
fn proofs_check_out_and_tampered_ones_fail() {
    let spec = spec();
    let dir = std::env::temp_dir().join(format!("audit-proofs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let public = spec["checkpoint"]["public_key"].as_str().unwrap();
    let new = write(&dir, "new.json", &spec["checkpoint"]["checkpoint"]);
    let events = spec["event_hashes"].as_array().unwrap();
    let inclusion = json!({"ledger": "acme", "seq": 4, "tree_size": 7, "leaf_index": 3,
                           "leaf_hash": events[3], "audit_path": spec["inclusion"]["path"]});
    let proof = write(&dir, "inclusion.json", &inclusion);
    let (code, out) = audit(&[
        "prove-inclusion",
        "--proof",
        &proof,
        "--checkpoint",
        &new,
        "--public-key",
        public,
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("OK "), "{out}");

    // Another event's hash is not included.
    let mut other = inclusion.clone();
    other["leaf_hash"] = events[2].clone();
    let proof = write(&dir, "other.json", &other);
    let (code, out) = audit(&[
        "prove-inclusion",
        "--proof",
        &proof,
        "--checkpoint",
        &new,
        "--public-key",
        public,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("inclusion-mismatch"), "{out}");

    // Consistency 3 → 7 between two signed checkpoints.
    let old_cp = signed(
        3,
        events[2].as_str().unwrap(),
        spec["consistency"]["from_root"].as_str().unwrap(),
    );
    let old = write(&dir, "old.json", &old_cp);
    let consistency = json!({"ledger": "acme", "from": 3, "to": 7, "consistency_path": spec["consistency"]["proof"]});
    let proof = write(&dir, "consistency.json", &consistency);
    let (code, out) = audit(&[
        "prove-consistency",
        "--proof",
        &proof,
        "--old",
        &old,
        "--new",
        &new,
        "--public-key",
        public,
    ]);
    assert_eq!(code, 0, "{out}");

    // A rewritten early history: its root at 3 differs, so nothing extends it.
    let rewritten = signed(3, events[2].as_str().unwrap(), &"ab".repeat(32));
    let forged_old = write(&dir, "rewritten.json", &rewritten);
    let (code, out) = audit(&[
        "prove-consistency",
        "--proof",
        &proof,
        "--old",
        &forged_old,
        "--new",
        &new,
        "--public-key",
        public,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("consistency-mismatch"), "{out}");

    // A checkpoint not signed by the key is refused before any proof.
    let mut forged = spec["checkpoint"]["checkpoint"].clone();
    forged["seq"] = json!(8);
    let forged = write(&dir, "forged.json", &forged);
    let (code, out) = audit(&[
        "prove-consistency",
        "--proof",
        &proof,
        "--old",
        &old,
        "--new",
        &forged,
        "--public-key",
        public,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("checkpoint-signature-invalid"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
