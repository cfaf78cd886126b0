//! What only checkpoints catch: a history rewritten with every hash recomputed is a
//! valid chain, but not the one the service signed. Also forged signatures, events
//! removed or swapped, and proofs checked against kept checkpoints.

use chainbook_audit::checkpoint::{public_key, Checkpoint};
use chainbook_audit::{merkle, FailureKind, VerifyOptions};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{funded_ledger, spawn_app, verify_text, TestApp};

async fn key(app: &TestApp) -> ed25519_dalek::VerifyingKey {
    let r = app.get("", "/v1/keys/checkpoint").await;
    public_key(&r.text).unwrap()
}

async fn checkpoint(app: &TestApp, ledger: &str) -> Checkpoint {
    let r = app
        .post(
            &app.admin,
            &format!("/v1/ledgers/{ledger}/checkpoints"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    Checkpoint::from_json(&r.body).unwrap()
}

/// Rewrites, as the database owner, every event from `from` on: the amounts of the
/// first are multiplied by ten, and each later event is re-linked and re-hashed, so
/// the stored chain is valid again.
async fn rewrite_history(app: &TestApp, ledger: &str, from: u64) {
    let export = app.export(ledger).await;
    let owner = app.db.owner().await;
    owner
        .batch_execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
        .await
        .unwrap();
    let mut prev: Option<String> = None;
    for line in export.lines() {
        let mut event: Value = serde_json::from_str(line).unwrap();
        let seq = event["seq"].as_u64().unwrap();
        if seq < from {
            prev = Some(event["hash"].as_str().unwrap().to_owned());
            continue;
        }
        let object = event.as_object_mut().unwrap();
        object.remove("hash");
        if seq == from {
            for p in object["postings"].as_array_mut().unwrap() {
                for side in ["debit", "credit"] {
                    if let Some(a) = p.get(side).and_then(Value::as_str) {
                        p[side] = json!(format!("{}0.00", a.trim_end_matches(".00")));
                    }
                }
            }
        }
        object.insert("prev_hash".into(), json!(prev.clone().unwrap()));
        let canonical = String::from_utf8(chainbook_audit::canonical_bytes(&event)).unwrap();
        let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
        owner
            .execute(
                "UPDATE events SET canonical = $1, hash = $2, prev_hash = $3 WHERE ledger_id = $4 AND seq = $5",
                &[&canonical, &hash, &prev.clone().unwrap(), &ledger, &(seq as i64)],
            )
            .await
            .unwrap();
        prev = Some(hash);
    }
    owner
        .batch_execute("ALTER TABLE events ENABLE TRIGGER events_append_only")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_rewritten_history_is_caught_only_by_an_earlier_checkpoint() {
    let app = spawn_app().await;
    let writer = funded_ledger(&app, "acme", "500.00").await;
    for _ in 0..6 {
        app.transfer(
            &writer,
            "acme",
            "assets:cash",
            "expenses:supplies",
            "EUR",
            "5.00",
        )
        .await;
    }
    let kept = checkpoint(&app, "acme").await;
    for _ in 0..4 {
        app.transfer(
            &writer,
            "acme",
            "assets:cash",
            "expenses:supplies",
            "EUR",
            "5.00",
        )
        .await;
    }
    let public = key(&app).await;
    let with = |checkpoints: Vec<Checkpoint>| VerifyOptions {
        checkpoints,
        public_key: Some(public),
        ..Default::default()
    };
    assert!(verify_text(&app.export("acme").await, with(vec![kept.clone()])).ok());

    // Someone with the database rewrites history from seq 8 on, hashes and all.
    rewrite_history(&app, "acme", 8).await;
    let export = app.export("acme").await;
    let plain = verify_text(&export, Default::default());
    assert!(
        plain.ok(),
        "the rewritten chain is valid on its own: {plain:?}"
    );
    let report = verify_text(&export, with(vec![kept.clone()]));
    let failure = report.failure.expect("the checkpoint catches it");
    assert_eq!(failure.kind, FailureKind::CheckpointMismatch);
    assert_eq!(failure.seq, kept.seq);

    // A forged checkpoint (say, re-signed by whoever rewrote history) fails too.
    let forged = Checkpoint {
        merkle_root: "0".repeat(64),
        ..kept.clone()
    };
    let report = verify_text(&export, with(vec![forged]));
    assert_eq!(
        report.failure.unwrap().kind,
        FailureKind::CheckpointSignatureInvalid
    );
}

#[tokio::test]
async fn removed_or_swapped_events_are_named() {
    let app = spawn_app().await;
    let writer = funded_ledger(&app, "acme", "500.00").await;
    for _ in 0..5 {
        app.transfer(
            &writer,
            "acme",
            "assets:cash",
            "expenses:supplies",
            "EUR",
            "5.00",
        )
        .await;
    }
    let kept = checkpoint(&app, "acme").await;
    let public = key(&app).await;
    let export = app.export("acme").await;
    let lines: Vec<&str> = export.lines().collect();
    let join = |lines: Vec<&str>| lines.join("\n") + "\n";
    // From the middle: the seq after the gap is named.
    let mut middle = lines.clone();
    middle.remove(5);
    let report = verify_text(&join(middle), Default::default());
    let failure = report.failure.unwrap();
    assert_eq!((failure.kind, failure.seq), (FailureKind::SeqGap, 6));
    // Two swapped.
    let mut swapped = lines.clone();
    swapped.swap(6, 7);
    let failure = verify_text(&join(swapped), Default::default())
        .failure
        .unwrap();
    assert_eq!((failure.kind, failure.seq), (FailureKind::SeqGap, 7));
    // From the end: only a kept checkpoint (or head) shows it.
    let mut cut = lines.clone();
    cut.pop();
    assert!(verify_text(&join(cut.clone()), Default::default()).ok());
    let options = VerifyOptions {
        checkpoints: vec![kept.clone()],
        public_key: Some(public),
        ..Default::default()
    };
    let failure = verify_text(&join(cut), options).failure.unwrap();
    assert_eq!(
        (failure.kind, failure.seq),
        (FailureKind::CheckpointBeyondExport, kept.seq)
    );
}

/// The service's proofs check out against checkpoints the auditor kept, with the
/// auditor's own Merkle code.
#[tokio::test]
async fn proofs_hold_against_kept_checkpoints() {
    let app = spawn_app().await;
    let writer = funded_ledger(&app, "acme", "500.00").await;
    let old = checkpoint(&app, "acme").await;
    for _ in 0..9 {
        app.transfer(
            &writer,
            "acme",
            "assets:cash",
            "expenses:supplies",
            "EUR",
            "5.00",
        )
        .await;
    }
    let new = checkpoint(&app, "acme").await;
    let public = key(&app).await;
    assert!(old.signature_holds(&public) && new.signature_holds(&public));
    let h = |v: &Value| merkle::from_hex(v.as_str().unwrap()).unwrap();
    let r = app
        .get(
            &app.admin,
            &format!(
                "/v1/ledgers/acme/proofs/consistency?from={}&to={}",
                old.seq, new.seq
            ),
        )
        .await;
    let proof: Vec<[u8; 32]> = r.body["consistency_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(h)
        .collect();
    assert!(merkle::verify_consistency(
        old.seq,
        new.seq,
        &old.root().unwrap(),
        &new.root().unwrap(),
        &proof
    ));
    for seq in [1, old.seq, new.seq - 1, new.seq] {
        let r = app
            .get(
                &app.admin,
                &format!(
                    "/v1/ledgers/acme/proofs/inclusion?seq={seq}&tree_size={}",
                    new.seq
                ),
            )
            .await;
        let path: Vec<[u8; 32]> = r.body["audit_path"]
            .as_array()
            .unwrap()
            .iter()
            .map(h)
            .collect();
        let leaf = merkle::leaf(&h(&r.body["leaf_hash"]));
        assert!(merkle::verify_inclusion(
            &leaf,
            seq - 1,
            new.seq,
            &path,
            &new.root().unwrap()
        ));
    }
}

/// `verify --url`: the export checks out and every balance and stock level the service
/// reports matches a recomputation from the events; an edited projection row is named.
#[tokio::test]
async fn a_live_service_is_checked_against_its_own_events() {
    let app = spawn_app().await;
    let s = crate::shop::shop(&app, "shop").await;
    s.product("MUG", 0, &[("berlin", "0", "0")]).await;
    s.receive("MUG", "berlin", Some("A-1"), "10", "4.00").await;
    s.order("O-1", "C", "online", &[("MUG", "3", "9.00")]).await;
    s.ship("O-1", &[("MUG", "2")]).await;
    s.pay("O-1", "capture", "10.00").await;
    let auditor = app.key("shop", "auditor").await;
    let live = |app: &TestApp, auditor: &str| {
        let (base, token) = (app.address.clone(), auditor.to_owned());
        tokio::task::spawn_blocking(move || {
            chainbook_audit::live::verify_live(&base, "shop", &token, &VerifyOptions::default())
                .unwrap()
        })
    };
    let report = live(&app, &auditor).await.unwrap();
    assert!(report.ok(), "{:?}", report.mismatches);

    let owner = app.db.owner().await;
    owner
        .batch_execute(
            "UPDATE balances SET debits = debits + 1 WHERE ledger_id = 'shop' AND account = 'assets:cash'; \
             UPDATE stock_levels SET on_hand = on_hand + 5 WHERE ledger_id = 'shop' AND sku = 'MUG'",
        )
        .await
        .unwrap();
    let report = live(&app, &auditor).await.unwrap();
    assert!(report.chain.ok());
    let named: Vec<(&str, &str)> = report
        .mismatches
        .iter()
        .map(|m| (m.what, m.key.as_str()))
        .collect();
    assert_eq!(
        named,
        [("balance", "assets:cash EUR"), ("stock", "MUG berlin")],
        "{:?}",
        report.mismatches
    );
}

/// `checkpoint save` fetches a signed checkpoint, checked with the published key; it
/// later catches a rewrite like any kept checkpoint.
#[tokio::test]
async fn a_saved_checkpoint_verifies() {
    let app = spawn_app().await;
    funded_ledger(&app, "acme", "10.00").await;
    let auditor = app.key("acme", "auditor").await;
    let (base, token) = (app.address.clone(), auditor.clone());
    let value = tokio::task::spawn_blocking(move || {
        chainbook_audit::live::fetch_checkpoint(&base, "acme", &token, None)
    })
    .await
    .unwrap()
    .unwrap();
    let saved = Checkpoint::from_json(&value).unwrap();
    assert_eq!(saved.seq, app.head_seq("acme").await);
    let options = VerifyOptions {
        checkpoints: vec![saved],
        public_key: Some(key(&app).await),
        ..Default::default()
    };
    assert!(verify_text(&app.export("acme").await, options).ok());
}
